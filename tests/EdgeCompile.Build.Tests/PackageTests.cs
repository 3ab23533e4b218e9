using EdgeCompile.Compiler.Data;
using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace EdgeCompile.Build.Tests;

/// <summary>
/// EdgeCompile as a user gets it: the two packages packed into a local feed, a fresh console project
/// outside the repository (no Directory.Build.props of ours, a fresh packages folder so no stale
/// EdgeCompile.Sdk is ever used) with one PackageReference and one EdgeModel, `dotnet run`.
/// </summary>
[Collection("dotnet build")]
public sealed class PackageTests
{
    private readonly ITestOutputHelper _output;

    public PackageTests(ITestOutputHelper output) => _output = output;

    private static readonly string Vit = Path.Combine(ConsumerProject.RepoRoot, "tests", "fixtures", "vit");

    private BuildResult Run(string step, Stopwatch watch, string workingDirectory, params string[] args)
    {
        var result = ConsumerProject.RunDotnet(workingDirectory, args);
        _output.WriteLine($"===== {step} (at {watch.Elapsed.TotalSeconds:F1} s): {result}");
        Assert.True(result.ExitCode == 0, $"{step} failed\n{result}");
        return result;
    }

    [Fact]
    public void PackedSdkBuildsAndRunsAFreshConsumerFromALocalFeed()
    {
        var watch = Stopwatch.StartNew();
        string root = Path.Combine(Path.GetTempPath(), "edgecompile-package-test", Guid.NewGuid().ToString("N")[..12]);
        string feed = Path.Combine(root, "feed"), app = Path.Combine(root, "app"), packages = Path.Combine(root, "packages");
        Directory.CreateDirectory(feed);
        Directory.CreateDirectory(app);
        try
        {
            // 1. Pack the two packable projects (the configuration the tests were built with: already up to date).
            foreach (var project in new[] { "sdk/EdgeCompile.Build/EdgeCompile.Build.csproj", "runtime/EdgeCompile.Runtime/EdgeCompile.Runtime.csproj" })
                Run("pack " + project, watch, ConsumerProject.RepoRoot, "pack", Path.Combine(ConsumerProject.RepoRoot, project),
                    "-c", ConsumerProject.Configuration, "-o", feed, "-nologo", "-nodeReuse:false", "-p:UseSharedCompilation=false");

            string sdkPackage = Assert.Single(Directory.GetFiles(feed, "EdgeCompile.Sdk.*.nupkg"));
            string version = Regex.Match(Path.GetFileName(sdkPackage), @"^EdgeCompile\.Sdk\.(.+)\.nupkg$").Groups[1].Value;
            Assert.True(File.Exists(Path.Combine(feed, $"EdgeCompile.Runtime.{version}.nupkg")), "EdgeCompile.Runtime has the same version");
            Assert.Equal(2, Directory.GetFiles(feed, "*.nupkg").Length);
            CheckSdkPackageLayout(sdkPackage, version);

            // 2. A fresh consumer outside the repository.
            File.Copy(Path.Combine(Vit, "model.onnx"), Path.Combine(Directory.CreateDirectory(Path.Combine(app, "models")).FullName, "digits.onnx"));
            File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <clear />
                    <add key="edgecompile-local" value="{feed}" />
                    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
                  </packageSources>
                </configuration>
                """);
            File.WriteAllText(Path.Combine(app, "PackageConsumer.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    <Nullable>enable</Nullable>
                    <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
                    <RestorePackagesPath>{packages}</RestorePackagesPath>
                  </PropertyGroup>
                  <ItemGroup>
                    <PackageReference Include="EdgeCompile.Sdk" Version="{version}" />
                    <EdgeModel Include="models/digits.onnx" ClassName="DigitClassifier" MaxShapes="batch=1" />
                  </ItemGroup>
                </Project>
                """);
            float[] pixels = NpyFile.Read(Path.Combine(Vit, "test", "pixel_values.npy")).As<float>()[..(16 * 16)];
            float[] expectedLogits = NpyFile.Read(Path.Combine(Vit, "test", "torch_logits.npy")).As<float>()[..10];
            long label = NpyFile.Read(Path.Combine(Vit, "test", "labels.npy")).As<long>()[0];
            File.WriteAllText(Path.Combine(app, "Program.cs"), $$"""
                using System;
                using System.Globalization;
                using PackageConsumer;

                float[] pixels = { {{string.Join(", ", pixels.Select(v => v.ToString("R", CultureInfo.InvariantCulture) + "f"))}} };
                using var model = new DigitClassifier();
                var logits = new float[10];
                model.Run(batch: 1, pixelValues: pixels, logits: logits);
                int best = 0;
                for (int i = 1; i < logits.Length; i++) if (logits[i] > logits[best]) best = i;
                Console.WriteLine("label=" + best);
                Console.WriteLine("logits=" + string.Join(" ", Array.ConvertAll(logits, v => v.ToString("R", CultureInfo.InvariantCulture))));
                Console.WriteLine("info=" + DigitClassifier.Info);
                """);

            // 3. Restore (local feed + nuget.org into the fresh packages folder), build, run.
            var run = Run("dotnet run", watch, app, "run", "--project", Path.Combine(app, "PackageConsumer.csproj"),
                "--property:UseSharedCompilation=false");

            Assert.True(Directory.Exists(Path.Combine(packages, "edgecompile.sdk", version)), "restored into the fresh packages folder");
            Assert.True(Directory.Exists(Path.Combine(packages, "edgecompile.runtime", version)), "EdgeCompile.Runtime came as a dependency");
            var labelLine = Regex.Match(run.Output, @"^label=(\d+)\s*$", RegexOptions.Multiline);
            Assert.True(labelLine.Success, "the app prints its label\n" + run);
            int expectedLabel = Array.IndexOf(expectedLogits, expectedLogits.Max());
            Assert.Equal(expectedLabel, int.Parse(labelLine.Groups[1].Value, CultureInfo.InvariantCulture));
            Assert.Equal(label, (long)expectedLabel); // row 0 is one the model gets right
            var logits = Regex.Match(run.Output, @"^logits=(.*)$", RegexOptions.Multiline).Groups[1].Value.Trim()
                .Split(' ').Select(s => float.Parse(s, CultureInfo.InvariantCulture)).ToArray();
            Assert.Equal(10, logits.Length);
            for (int i = 0; i < 10; i++)
                Assert.True(Math.Abs(logits[i] - expectedLogits[i]) < 1e-4, $"logit {i}: {logits[i]} vs PyTorch {expectedLogits[i]}");
            Assert.Contains("info=DigitClassifier (from models/digits.onnx, profile portable)", run.Output);
            _output.WriteLine($"package test wall time: {watch.Elapsed.TotalSeconds:F1} s");
        }
        finally
        {
            try { Directory.Delete(root, recursive: true); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>What EdgeCompile.Sdk must hold, and what it must not.</summary>
    private void CheckSdkPackageLayout(string nupkg, string version)
    {
        using var zip = ZipFile.OpenRead(nupkg);
        var entries = zip.Entries.Select(e => e.FullName).ToArray();
        _output.WriteLine("EdgeCompile.Sdk:\n  " + string.Join("\n  ", entries.OrderBy(e => e, StringComparer.Ordinal)));
        foreach (var expected in new[]
        {
            "build/EdgeCompile.Sdk.props", "build/EdgeCompile.Sdk.targets", "build/EdgeCompile.props", "build/EdgeCompile.targets",
            "tasks/net10.0/EdgeCompile.Build.dll", "tasks/net10.0/EdgeCompile.Compiler.dll",
            "tasks/net10.0/Google.Protobuf.dll", "tasks/net10.0/System.Numerics.Tensors.dll",
            // The compiler's calibration runs plans with the runtime's kernels, in the task's process.
            "tasks/net10.0/EdgeCompile.Runtime.dll",
            "analyzers/dotnet/cs/EdgeCompile.Generators.dll",
        })
            Assert.Contains(expected, entries);
        Assert.DoesNotContain(entries, e => e.Contains("Microsoft.Build", StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain(entries, e => e.StartsWith("lib/", StringComparison.Ordinal)); // nothing for the consumer to reference
        // The consumer's EdgeCompile.Runtime.dll is the dependency's; the package's own copy serves only the task.
        Assert.DoesNotContain(entries, e => e.EndsWith("EdgeCompile.Runtime.dll", StringComparison.Ordinal) && !e.StartsWith("tasks/", StringComparison.Ordinal));

        // The package's entry points reuse the shared logic instead of copying it.
        using (var reader = new StreamReader(zip.GetEntry("build/EdgeCompile.Sdk.targets")!.Open()))
            Assert.Contains("$(MSBuildThisFileDirectory)EdgeCompile.targets", reader.ReadToEnd());

        var nuspecEntry = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal));
        using var nuspec = new StreamReader(nuspecEntry.Open());
        string text = nuspec.ReadToEnd();
        Assert.Matches(new Regex($@"<dependency id=""EdgeCompile\.Runtime"" version=""{Regex.Escape(version)}"""), text);
        Assert.DoesNotContain("EdgeCompile.Compiler", text);
        Assert.DoesNotContain("EdgeCompile.Generators", text);
        Assert.DoesNotContain("Google.Protobuf", text);
    }
}
