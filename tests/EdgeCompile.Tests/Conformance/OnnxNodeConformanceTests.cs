using System;
using System.Collections.Concurrent;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using EdgeCompile.Tests.Infrastructure;
using Xunit.Abstractions;

namespace EdgeCompile.Tests.Conformance;

/// <summary>
/// ONNX's own per-operator conformance tests, for every test whose operators EdgeCompile
/// supports, through the whole path (compiler → plan → generator → Roslyn → run). A test that
/// fails must be listed in known-failures.txt with its reason; a listed test that now passes
/// must be removed from it. So the count can only go up, and every failure is explained.
/// </summary>
public sealed class OnnxNodeConformanceTests(ITestOutputHelper output)
{
    [NodeTestsFact]
    public void Supported_operator_tests_pass_or_are_known_failures()
    {
        var cases = NodeTestCase.All(Repository.NodeTests!).Where(c => c.UsesOnlySupportedOperators).ToList();
        var known = File.ReadAllLines(Path.Combine(Repository.Root, "tests", "EdgeCompile.Tests", "Conformance", "known-failures.txt"))
            .Where(l => l.Length > 0 && !l.StartsWith('#'))
            .Select(l => l.Split('\t', 2))
            .ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : "");
        var failures = new ConcurrentDictionary<string, string>();
        Parallel.ForEach(cases, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, c =>
        {
            if (c.Run() is { } why) failures[c.Name] = why;
        });
        int passed = cases.Count - failures.Count;
        output.WriteLine($"ONNX node tests for supported operators: {passed} of {cases.Count} pass ({failures.Count} known failures).");
        foreach (var (name, why) in failures.OrderBy(f => f.Key)) output.WriteLine($"{name}\t{why}");

        var unexpected = failures.Keys.Where(k => !known.ContainsKey(k)).OrderBy(k => k).ToList();
        var fixedNow = known.Keys.Where(k => cases.Any(c => c.Name == k) && !failures.ContainsKey(k)).OrderBy(k => k).ToList();
        Assert.True(unexpected.Count == 0, "new failures: " + string.Join("; ", unexpected.Select(k => $"{k}: {failures[k]}")));
        Assert.True(fixedNow.Count == 0, "these now pass; remove them from known-failures.txt: " + string.Join(", ", fixedNow));
    }
}
