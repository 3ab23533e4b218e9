using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using EdgeCompile.Compiler;
using EdgeCompile.Compiler.Calibration;
using EdgeCompile.Compiler.Data;
using EdgeCompile.Compiler.Ir;
using EdgeCompile.Compiler.Planning;
using EdgeCompile.Tests.Infrastructure;

namespace EdgeCompile.Tests.Calibration;

/// <summary>Calibration folders: what is accepted, and every refusal with its code.</summary>
public sealed class CalibrationSetTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgecompile-calibration-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>The inputs of a text model: input_ids i64 and attention_mask i64 [batch,sequence], sequence ≤ 16; and a fixed [batch,3] f32.</summary>
    private static Plan TextPlan(bool withFeatures = false)
    {
        var plan = new Plan { ClassName = "T" };
        plan.Dimensions.Add(("batch", 4));
        plan.Dimensions.Add(("sequence", 16));
        var shape = new[] { DimExpr.Symbol("batch"), DimExpr.Symbol("sequence") };
        plan.Inputs.Add(("input_ids", new PlanTensor(0, ElementType.Int64, shape, StorageKind.Input)));
        plan.Inputs.Add(("attention_mask", new PlanTensor(1, ElementType.Int64, shape, StorageKind.Input) { Location = 1 }));
        if (withFeatures)
            plan.Inputs.Add(("features", new PlanTensor(2, ElementType.Float32, new[] { DimExpr.Symbol("batch"), DimExpr.Const(3) }, StorageKind.Input) { Location = 2 }));
        return plan;
    }

    private string Folder(string? sub = null)
    {
        var path = sub is null ? _dir : Path.Combine(_dir, sub);
        Directory.CreateDirectory(path);
        return path;
    }

    private static long[] Ids(int samples, int sequence, long offset = 0) =>
        Enumerable.Range(0, samples * sequence).Select(i => offset + i).ToArray();

    private static void WriteText(string folder, int samples, int sequence, long offset = 0)
    {
        NpyWriter.Write(Path.Combine(folder, "input_ids.npy"), Ids(samples, sequence, offset), samples, sequence);
        NpyWriter.Write(Path.Combine(folder, "attention_mask.npy"), Enumerable.Repeat(1L, samples * sequence).ToArray(), samples, sequence);
    }

    private CompilerException Refused(Plan plan, string? folder = null) =>
        Assert.Throws<CompilerException>(() => CalibrationSet.Load(folder ?? _dir, plan));

    [Fact]
    public void Yields_batch_one_samples_with_their_dimensions_from_the_folder_and_each_subfolder()
    {
        WriteText(Folder(), samples: 3, sequence: 5);
        WriteText(Folder("long"), samples: 2, sequence: 16, offset: 1000);
        File.WriteAllText(Path.Combine(_dir, "README.md"), "other files are ignored");

        var set = CalibrationSet.Load(_dir, TextPlan());

        Assert.Equal(5, set.Count);
        Assert.Equal(2, set.Groups.Count);
        var samples = set.Samples().ToList();
        Assert.All(samples.Take(3), s => Assert.Equal(new Dictionary<string, long> { ["batch"] = 1, ["sequence"] = 5 }, s.Dims));
        Assert.All(samples.Skip(3), s => Assert.Equal(new Dictionary<string, long> { ["batch"] = 1, ["sequence"] = 16 }, s.Dims));
        Assert.Equal(Ids(3, 5).Skip(5).Take(5), (long[])samples[1].Inputs[0]);              // sample 1 of the top set
        Assert.Equal(Ids(2, 16, 1000).Skip(16).Take(16), (long[])samples[4].Inputs[0]);    // sample 1 of the subfolder
        Assert.Equal(Enumerable.Repeat(1L, 16), (long[])samples[4].Inputs[1]);
    }

    [Fact]
    public void Int32_token_ids_are_widened_for_int64_inputs()
    {
        NpyWriter.Write(Path.Combine(_dir, "input_ids.npy"), new[] { 1, -2, 3, 2_000_000_000 }, 2, 2);
        NpyWriter.Write(Path.Combine(_dir, "attention_mask.npy"), new long[] { 1, 1, 1, 0 }, 2, 2);
        var samples = CalibrationSet.Load(_dir, TextPlan()).Samples().ToList();
        Assert.Equal(new long[] { 3, 2_000_000_000 }, (long[])samples[1].Inputs[0]);
    }

    [Fact]
    public void Missing_folder_is_EC2101() =>
        Assert.Equal(Codes.CalibrationFolderMissing, Refused(TextPlan(), Path.Combine(_dir, "nope")).Code);

    [Fact]
    public void Folder_without_npy_files_is_EC2102()
    {
        File.WriteAllText(Path.Combine(Folder("empty"), "notes.txt"), "");
        Assert.Equal(Codes.CalibrationEmpty, Refused(TextPlan()).Code);
    }

    [Fact]
    public void Input_without_a_file_is_EC2103_naming_it()
    {
        NpyWriter.Write(Path.Combine(_dir, "input_ids.npy"), Ids(2, 4), 2, 4);
        var e = Refused(TextPlan());
        Assert.Equal(Codes.CalibrationInputMissing, e.Code);
        Assert.Contains("attention_mask.npy", e.Message);
    }

    [Fact]
    public void File_naming_no_input_is_EC2104_naming_it()
    {
        WriteText(_dir, 2, 4);
        NpyWriter.Write(Path.Combine(_dir, "labels.npy"), new long[] { 0, 1 }, 2);
        var e = Refused(TextPlan());
        Assert.Equal(Codes.CalibrationUnknownFile, e.Code);
        Assert.Contains("labels.npy", e.Message);
    }

    [Theory]
    [InlineData("float64 for int64")]
    [InlineData("float64 for float32")]
    [InlineData("int64 for float32")]
    public void Element_type_that_does_not_fit_is_EC2105(string what)
    {
        WriteText(_dir, 2, 4);
        if (what == "float64 for int64") NpyWriter.Write(Path.Combine(_dir, "input_ids.npy"), new double[8], 2, 4);
        NpyWriter.Write(Path.Combine(_dir, "features.npy"), what switch { "float64 for float32" => new double[6], "int64 for float32" => new long[6], _ => new float[6] }, 2, 3);
        Assert.Equal(Codes.CalibrationType, Refused(TextPlan(withFeatures: true)).Code);
    }

    [Theory]
    [InlineData("rank")]
    [InlineData("fixed dimension")]
    [InlineData("inputs disagree on sequence")]
    public void Shape_that_does_not_fit_is_EC2106(string what)
    {
        WriteText(_dir, 2, 4);
        NpyWriter.Write(Path.Combine(_dir, "features.npy"), new float[what == "fixed dimension" ? 8 : 6], what == "fixed dimension" ? new long[] { 2, 4 } : new long[] { 2, 3 });
        if (what == "rank") NpyWriter.Write(Path.Combine(_dir, "input_ids.npy"), Ids(2, 4), 8);
        if (what == "inputs disagree on sequence") NpyWriter.Write(Path.Combine(_dir, "attention_mask.npy"), new long[10], 2, 5);
        Assert.Equal(Codes.CalibrationShape, Refused(TextPlan(withFeatures: true)).Code);
    }

    [Fact]
    public void Different_sample_counts_are_EC2107()
    {
        NpyWriter.Write(Path.Combine(_dir, "input_ids.npy"), Ids(3, 4), 3, 4);
        NpyWriter.Write(Path.Combine(_dir, "attention_mask.npy"), new long[8], 2, 4);
        Assert.Equal(Codes.CalibrationSampleCount, Refused(TextPlan()).Code);
    }

    [Fact]
    public void Dimension_above_its_maximum_is_EC2108_naming_it()
    {
        WriteText(Folder("too-long"), 2, 17);
        var e = Refused(TextPlan());
        Assert.Equal(Codes.CalibrationAboveMaximum, e.Code);
        Assert.Contains("'sequence'", e.Message);
        Assert.Contains("16", e.Message);
    }

    [Fact]
    public void Unreadable_file_is_EC2109()
    {
        WriteText(_dir, 2, 4);
        File.WriteAllText(Path.Combine(_dir, "attention_mask.npy"), "not numpy");
        Assert.Equal(Codes.CalibrationUnreadable, Refused(TextPlan()).Code);
    }

    [Fact]
    public void Token_id_outside_the_vocabulary_is_EC2111()
    {
        var plan = TextPlan();
        plan.IndexChecks.Add((plan.Inputs[0].Tensor, 100));
        NpyWriter.Write(Path.Combine(_dir, "input_ids.npy"), new long[] { 1, 99, -100, 100 }, 2, 2);
        NpyWriter.Write(Path.Combine(_dir, "attention_mask.npy"), new long[4], 2, 2);
        var e = Refused(plan);
        Assert.Equal(Codes.CalibrationIndexOutOfRange, e.Code);
        Assert.Contains("holds 100 at flat position 3", e.Message);
    }

    [Theory]
    [InlineData("bert")]
    [InlineData("distilbert")]
    [InlineData("mobilebert")]
    [InlineData("vit")]
    [InlineData("mobilevit")]
    [InlineData("efficientformer")]
    public void Loads_the_committed_fixture_calibration_folders(string family)
    {
        bool text = family is "bert" or "distilbert" or "mobilebert";
        var plan = FixturePlan.Build(family, text ? "batch=8;sequence=64" : "batch=8");
        var folder = Path.Combine(Repository.Fixture(family), "calibration");
        var set = CalibrationSet.Load(folder, plan);

        Assert.Equal(64, set.Count);
        var samples = set.Samples().ToList();
        Assert.All(samples, s => Assert.Equal(1, s.Dims["batch"]));
        if (text) Assert.All(samples, s => Assert.Equal(64, s.Dims["sequence"]));
        // Sample 5 is row 5 of each file, as numpy wrote it.
        for (int i = 0; i < plan.Inputs.Count; i++)
        {
            var npy = NpyFile.Read(Path.Combine(folder, plan.Inputs[i].Name + ".npy"));
            int per = (int)(npy.Data.Length / npy.Shape[0]);
            var row = Array.CreateInstance(npy.Data.GetType().GetElementType()!, per);
            Array.Copy(npy.Data, 5 * per, row, 0, per);
            Assert.Equal(row.Cast<object>(), samples[5].Inputs[i].Cast<object>());
        }
        // The data is not the test set (calibration must come from the training split).
        var test = NpyFile.Read(Path.Combine(Repository.Fixture(family), "test", plan.Inputs[0].Name + ".npy"));
        int width = (int)(test.Data.Length / test.Shape[0]);
        var firstTest = test.Data.Cast<object>().Take(width).ToArray();
        Assert.DoesNotContain(samples, s => s.Inputs[0].Cast<object>().SequenceEqual(firstTest));
    }
}
