using System.IO;
using System.Linq;

namespace EdgeCompile.Compiler.Planning;

/// <summary>Lays the weights out in one blob, in order of first use, each 64-byte aligned.</summary>
public static class WeightPacker
{
    public static byte[] Pack(Plan plan)
    {
        using var blob = new MemoryStream();
        foreach (var t in plan.Tensors.Where(t => t.Storage == StorageKind.Weight && t.ViewOf is null))
        {
            blob.SetLength(MemoryPlanner.Align(blob.Length));
            blob.Position = blob.Length;
            t.Location = blob.Position;
            blob.Write(t.Data!.ToBytes());
        }
        plan.WeightBytes = blob.Length;
        return blob.ToArray();
    }
}
