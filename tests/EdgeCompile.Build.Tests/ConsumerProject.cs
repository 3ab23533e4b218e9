using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Reflection;
using System.Text;
using System.Threading.Tasks;

namespace EdgeCompile.Build.Tests;

/// <summary>A throwaway consumer project in a temp folder that imports the repository's props/targets.</summary>
public sealed class ConsumerProject : IDisposable
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>Build the consumer with the configuration these tests were built with, so the
    /// repository's EdgeCompile.Build etc. are already up to date.</summary>
    public static string Configuration { get; } =
        typeof(ConsumerProject).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";

    public ConsumerProject(string itemGroup, string extraProperties = "")
    {
        Directory = Path.Combine(Path.GetTempPath(), "edgecompile-build-tests", Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(Directory);
        WriteProject(itemGroup, extraProperties);
        // Keep the consumer out of any Directory.Build.props/targets above the temp folder.
        File.WriteAllText(Path.Combine(Directory, "Directory.Build.props"), "<Project />");
        File.WriteAllText(Path.Combine(Directory, "Directory.Build.targets"), "<Project />");
    }

    public string Directory { get; }

    /// <summary>obj/&lt;configuration&gt;/net10.0/ of the consumer.</summary>
    public string IntermediateDirectory => Path.Combine(Directory, "obj", Configuration, "net10.0");

    /// <summary>(Re)writes Consumer.csproj, e.g. to change one item's metadata between builds.</summary>
    public void WriteProject(string itemGroup, string extraProperties = "")
    {
        string sdk = Path.Combine(RepoRoot, "sdk", "build");
        File.WriteAllText(Path.Combine(Directory, "Consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <Import Project="{Path.Combine(sdk, "EdgeCompile.props")}" />
              <PropertyGroup>
                <TargetFramework>net10.0</TargetFramework>
                <RootNamespace>My.App</RootNamespace>
                <Nullable>enable</Nullable>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
                {extraProperties}
              </PropertyGroup>
              <ItemGroup>
                {itemGroup}
              </ItemGroup>
              <Import Project="{Path.Combine(sdk, "EdgeCompile.targets")}" />
            </Project>
            """);
    }

    public void WriteFile(string relative, byte[] bytes)
    {
        string path = Path.Combine(Directory, relative);
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
    }

    public void CopyFile(string source, string relative)
    {
        string path = Path.Combine(Directory, relative);
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.Copy(source, path, overwrite: true);
    }

    public BuildResult Build(params string[] extraArgs)
    {
        var args = new List<string> { "build", Path.Combine(Directory, "Consumer.csproj"), "-c", Configuration, "-nologo",
            "-nodeReuse:false", "--disable-build-servers", "-p:UseSharedCompilation=false",
            // The repository's projects (task, runtime, generator) are built before these tests run
            // (project references of this test project); re-checking them per build is slow.
            "--no-dependencies" };
        args.AddRange(extraArgs);
        return RunDotnet(Directory, args);
    }

    /// <summary>Runs <c>dotnet</c> with the given arguments, without build servers or node reuse, and
    /// without the test host's own MSBuild/SDK environment.</summary>
    public static BuildResult RunDotnet(string workingDirectory, IEnumerable<string> args, int timeoutMinutes = 10) =>
        Run("dotnet", workingDirectory, args, new Dictionary<string, string>(), TimeSpan.FromMinutes(timeoutMinutes));

    /// <summary>Runs a program to completion and returns its exit code and output (stdout, then stderr).</summary>
    public static BuildResult Run(string program, string workingDirectory, IEnumerable<string> args, IReadOnlyDictionary<string, string> environment, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = workingDirectory };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        // The test host's own MSBuild/SDK variables must not leak into the child process.
        foreach (var v in new[] { "MSBuildExtensionsPath", "MSBUILD_EXE_PATH", "MSBuildSDKsPath", "DOTNET_HOST_PATH" })
            psi.Environment.Remove(v);
        foreach (var (k, v) in environment) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(" ", args)} did not finish in {timeout}:\n" + stdout);
        }
        p.WaitForExit();
        return new BuildResult(p.ExitCode, stdout + stderr.ToString());
    }

    public void Dispose()
    {
        try { System.IO.Directory.Delete(Directory, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "EdgeCompile.sln")))
                return dir.FullName;
        throw new DirectoryNotFoundException("EdgeCompile.sln not found above " + AppContext.BaseDirectory);
    }
}

public sealed record BuildResult(int ExitCode, string Output)
{
    public override string ToString() => $"exit code {ExitCode}\n{Output}";
}
