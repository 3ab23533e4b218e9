namespace EdgeCompile.Compiler.Quantization;

/// <summary>What the lowering needs to quantize: who decides each layer's precision, and where the outcome is recorded.</summary>
public sealed class QuantizationContext
{
    public QuantizationContext(IPrecisionPolicy policy, QuantizationReport report)
    {
        Policy = policy;
        Report = report;
    }

    public IPrecisionPolicy Policy { get; }
    public QuantizationReport Report { get; }
}
