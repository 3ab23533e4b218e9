using System;
using System.IO;
using System.Linq;
using EdgeCompile.Compiler.Data;

namespace EdgeCompile.Build.Tests;

/// <summary>
/// A console consumer of the ViT digits fixture: it classifies one test digit (read from
/// <see cref="InputPath"/>) and prints its profile and label, so a published build of any kind
/// (another RID, NativeAOT) can be checked against PyTorch's answer.
/// </summary>
public sealed class DigitApp : IDisposable
{
    private DigitApp(ConsumerProject project, int expectedLabel)
    {
        Project = project;
        ExpectedLabel = expectedLabel;
    }

    public ConsumerProject Project { get; }
    /// <summary>The label of the digit, which PyTorch also predicts.</summary>
    public int ExpectedLabel { get; }
    public string InputPath => Path.Combine(Project.Directory, "digit.bin");

    public static DigitApp Create(string extraProperties)
    {
        string fixture = Path.Combine(ConsumerProject.RepoRoot, "tests", "fixtures", "vit");
        var pixelFile = NpyFile.Read(Path.Combine(fixture, "test", "pixel_values.npy"));
        float[] torchLogits = NpyFile.Read(Path.Combine(fixture, "test", "torch_logits.npy")).As<float>();
        long[] labels = NpyFile.Read(Path.Combine(fixture, "test", "labels.npy")).As<long>();
        int perSample = (int)pixelFile.Shape.Skip(1).Aggregate(1L, (a, b) => a * b);
        // The first test sample that PyTorch classifies correctly: its label is the expected output.
        int sample = Enumerable.Range(0, labels.Length).First(i => ArgMax(torchLogits.AsSpan(i * 10, 10)) == labels[i]);

        var project = new ConsumerProject(
            """<EdgeModel Include="models/vit.onnx" ClassName="DigitClassifier" MaxShapes="batch=1" />""",
            "<OutputType>Exe</OutputType>\n" + extraProperties);
        project.CopyFile(Path.Combine(fixture, "model.onnx"), "models/vit.onnx");
        var bytes = new byte[perSample * sizeof(float)];
        Buffer.BlockCopy(pixelFile.As<float>(), sample * bytes.Length, bytes, 0, bytes.Length);
        project.WriteFile("digit.bin", bytes);
        File.WriteAllText(Path.Combine(project.Directory, "Program.cs"), """
            using System;
            using System.IO;
            using System.Runtime.InteropServices;
            namespace My.App;
            public static class Program
            {
                public static int Main(string[] args)
                {
                    float[] pixels = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(args[0])).ToArray();
                    var logits = new float[10];
                    using var model = new DigitClassifier();
                    model.Run(batch: 1, pixelValues: pixels, logits: logits);
                    int best = 0;
                    for (int i = 1; i < logits.Length; i++) if (logits[i] > logits[best]) best = i;
                    Console.WriteLine("profile=" + DigitClassifier.Info.Profile);
                    Console.WriteLine("vector256=" + System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated);
                    Console.WriteLine("label=" + best);
                    return 0;
                }
            }
            """);
        return new DigitApp(project, (int)labels[sample]);
    }

    public void Dispose() => Project.Dispose();

    private static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }
}
