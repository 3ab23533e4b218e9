using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using EdgeCompile.Compiler.Pruning;
using EdgeCompile.Compiler.Quantization;
using EdgeCompile.PruningSweep;

// The pruning sweep of issue 5: accuracy and bytes of every fixture across Prune × PruneMode × Quantize.
var fixturesOption = new Option<string[]>("--fixtures")
{
    Description = "Fixture families to sweep (folders of tests/fixtures); default: every folder with model.onnx, meta.json and test/.",
    AllowMultipleArgumentsPerToken = true,
};
var pruneOption = new Option<double[]>("--prune")
{
    Description = "Prune fractions; 0 is the unpruned model, built once per Quantize.",
    AllowMultipleArgumentsPerToken = true,
    DefaultValueFactory = _ => new[] { 0, 0.2, 0.4, 0.6 },
};
var modeOption = new Option<PruneMode[]>("--modes")
{
    Description = "PruneMode values (Structured, NM, Unstructured).",
    AllowMultipleArgumentsPerToken = true,
    DefaultValueFactory = _ => Enum.GetValues<PruneMode>(),
};
var quantizeOption = new Option<QuantizeMode[]>("--quantize")
{
    Description = "Quantize values; every quantized build gets the fixture's calibration set.",
    AllowMultipleArgumentsPerToken = true,
    DefaultValueFactory = _ => new[] { QuantizeMode.None, QuantizeMode.Int8, QuantizeMode.Mixed, QuantizeMode.Int4 },
};
var outputOption = new Option<string>("--output")
{
    Description = "Where to write pruning-sweep.md and pruning-sweep.csv; default: artifacts/ of the repository.",
};
var nameOption = new Option<string>("--name")
{
    Description = "Base name of the two files written (<name>.md, <name>.csv); another name keeps a second run (e.g. more Prune values) beside the main sweep.",
    DefaultValueFactory = _ => "pruning-sweep",
};
var plotOption = new Option<bool>("--no-plot")
{
    Description = "Do not draw docs/pruning-sweep.png at the end (it is drawn by docs/plot_pruning_sweep.py with /usr/bin/python3 and Debian's python3-matplotlib).",
};
var root = new RootCommand("Compiles every fixture model across a pruning × quantization grid, runs its test set with the build's plan interpreter, and writes accuracy and weight bytes (README, \"Pruning\").")
{
    fixturesOption, pruneOption, modeOption, quantizeOption, outputOption, nameOption, plotOption,
};
root.SetAction(parse =>
{
    string repository = RepositoryRoot();
    string fixturesRoot = Path.Combine(repository, "tests", "fixtures");
    var families = parse.GetValue(fixturesOption) is { Length: > 0 } chosen ? chosen : FixtureData.Discover(fixturesRoot).ToArray();
    var unknown = families.Where(f => !Directory.Exists(Path.Combine(fixturesRoot, f))).ToArray();
    if (unknown.Length > 0)
    {
        Console.Error.WriteLine($"no fixture folder {string.Join(", ", unknown)} in {fixturesRoot}; the folders are: {string.Join(", ", FixtureData.Discover(fixturesRoot))}.");
        return 2;
    }
    var fractions = parse.GetValue(pruneOption)!;
    foreach (var fraction in fractions.Where(f => !(f >= 0 && f <= PruneOptions.MaxFraction)))
    {
        Console.Error.WriteLine($"--prune {fraction.ToString(CultureInfo.InvariantCulture)} is outside [0, {PruneOptions.MaxFraction}]: it is the fraction of prunable weights to remove.");
        return 2;
    }
    var grid = Grid(fractions, parse.GetValue(modeOption)!, parse.GetValue(quantizeOption)!);
    string output = parse.GetValue(outputOption) ?? Path.Combine(repository, "artifacts"), name = parse.GetValue(nameOption)!;
    Directory.CreateDirectory(output);

    var results = new List<SweepResult>();
    var total = Stopwatch.StartNew();
    foreach (var family in families)
    {
        var fixture = FixtureData.Load(fixturesRoot, family);
        double ort = SweepRunner.OnnxRuntimeAccuracy(fixture);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{family}: ONNX Runtime FP32 {100 * ort:0.0} %, model.onnx {fixture.OnnxBytes:N0} bytes, {fixture.Count} test samples"));
        foreach (var config in grid)
        {
            var r = SweepRunner.Run(fixture, config, ort);
            results.Add(r);
            Console.WriteLine(r.Ok
                ? string.Create(CultureInfo.InvariantCulture, $"  {config}: {100 * r.Accuracy:0.0} % ({r.PointsVsOrt:+0.0;-0.0;0.0} pt), {r.WeightBytes:N0} B = {r.RatioToOnnx:0.00}x smaller{(r.MeetsHeadline ? " [8x, <=2 pt]" : "")} (build {r.CompileSeconds:0.0} s, test set {r.RunSeconds:0.0} s)")
                : $"  {config}: {r.Status} {r.Note}");
        }
        // Written after every fixture, so an interrupted sweep still leaves what it measured.
        Write(output, name, results, families, total.Elapsed, args);
    }
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{results.Count} configurations in {total.Elapsed.TotalMinutes:0.0} min; wrote {Path.Combine(output, name + ".md")} and .csv"));
    // The plot reads the CSVs in artifacts/ (this run's, and a headline run's beside it), so it is drawn from there only.
    bool plotted = parse.GetValue(plotOption) || output != Path.Combine(repository, "artifacts") || Plot(repository);
    return results.Any(r => r.Status == "error") || !plotted ? 1 : 0;
});
return root.Parse(args).Invoke();

// docs/plot_pruning_sweep.py over the CSVs in artifacts/; false (with the reason) when it cannot run.
static bool Plot(string repository)
{
    string script = Path.Combine(repository, "docs", "plot_pruning_sweep.py"), python = "/usr/bin/python3";
    if (!File.Exists(python))
    {
        Console.Error.WriteLine($"not drawn: {python} is missing (install Debian's python3-matplotlib, or pass --no-plot).");
        return false;
    }
    using var process = Process.Start(new ProcessStartInfo(python, [script]) { UseShellExecute = false })!;
    process.WaitForExit();
    if (process.ExitCode != 0)
        Console.Error.WriteLine($"not drawn: {script} exited with {process.ExitCode} (needs Debian's python3-matplotlib; --no-plot skips it).");
    return process.ExitCode == 0;
}

// Prune 0 does not depend on the mode: it is built once per Quantize (mode "none"), first.
static List<SweepConfiguration> Grid(double[] fractions, PruneMode[] modes, QuantizeMode[] quantize)
{
    var grid = new List<SweepConfiguration>();
    if (fractions.Contains(0))
        grid.AddRange(quantize.Select(q => new SweepConfiguration(0, null, q)));
    foreach (var mode in modes)
        foreach (var q in quantize)
            foreach (var f in fractions.Where(f => f > 0).Order())
                grid.Add(new SweepConfiguration(f, mode, q));
    return grid;
}

static void Write(string output, string name, List<SweepResult> results, string[] families, TimeSpan elapsed, IEnumerable<string> arguments)
{
    SweepTable.WriteCsv(Path.Combine(output, name + ".csv"), results);
    string options = string.Join(" ", arguments);
    var header = new[]
    {
        "# Pruning sweep",
        "",
        $"`dotnet run -c Release --project tools/EdgeCompile.PruningSweep{(options.Length == 0 ? "" : " -- " + options)}` at {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, commit {Commit()}, "
            + string.Create(CultureInfo.InvariantCulture, $"{Environment.ProcessorCount} cores, load average {LoadAverage()}; {results.Count} configurations of {families.Length} fixtures in {elapsed.TotalMinutes:0.0} min."),
        "Every configuration is compiled by `ModelCompiler` with the fixture's calibration set (64 training samples) for pruning and quantization, "
            + "and its test set is run by the build's plan interpreter (the runtime's kernels). Accuracy is against the test labels; "
            + "the reference is ONNX Runtime on the FP32 file; bytes are the plan's weights blob, compared with the FP32 `model.onnx`.",
    };
    SweepTable.WriteMarkdown(Path.Combine(output, name + ".md"), results, header);
}

static string RepositoryRoot()
{
    foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "EdgeCompile.sln"))) return dir.FullName;
    throw new InvalidOperationException("cannot find EdgeCompile.sln above the current folder or " + AppContext.BaseDirectory);
}

static string Commit()
{
    try
    {
        using var git = Process.Start(new ProcessStartInfo("git", "rev-parse --short HEAD") { RedirectStandardOutput = true, RedirectStandardError = true })!;
        string sha = git.StandardOutput.ReadToEnd().Trim();
        git.WaitForExit();
        return git.ExitCode == 0 ? sha : "unknown";
    }
    catch (System.ComponentModel.Win32Exception)
    {
        return "unknown";
    }
}

static string LoadAverage() =>
    File.Exists("/proc/loadavg") ? string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";
