using EdgeCompile.Tests.Infrastructure;

namespace EdgeCompile.Tests.Conformance;

/// <summary>A fact that needs ../shared/onnx-node-tests and is skipped, with the reason, without it.</summary>
public sealed class NodeTestsFactAttribute : FactAttribute
{
    public NodeTestsFactAttribute()
    {
        if (Repository.NodeTests is null)
            Skip = "../shared/onnx-node-tests is absent: ONNX's node conformance tests sit beside the repository (see ../shared/onnx-node-tests/README.md)";
    }
}
