using System;
using System.IO;

namespace EdgeCompile.Tests.Infrastructure;

/// <summary>Paths inside the repository the tests run from.</summary>
public static class Repository
{
    public static string Root { get; } = FindRoot();

    public static string Fixture(string family) => Path.Combine(Root, "tests", "fixtures", family);

    /// <summary>../shared/onnx-node-tests beside the repository, or null when it is absent.</summary>
    public static string? NodeTests
    {
        get
        {
            var path = Path.GetFullPath(Path.Combine(Root, "..", "shared", "onnx-node-tests"));
            return Directory.Exists(path) ? path : null;
        }
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "EdgeCompile.sln"))) return dir.FullName;
        throw new InvalidOperationException("cannot find EdgeCompile.sln above " + AppContext.BaseDirectory);
    }
}
