using System;
using System.Collections.Generic;
using System.Linq;
using EdgeCompile.Compiler.Ir;

namespace EdgeCompile.Compiler.Planning;

/// <summary>
/// Gives every arena tensor a byte offset in one block sized for the maxima of all dimensions,
/// reusing memory between tensors whose lifetimes (first write .. last read, in schedule order)
/// do not overlap. Greedy by size, first fit: simple, deterministic and close to optimal for
/// the chain-like lifetimes of transformer schedules.
/// </summary>
public static class MemoryPlanner
{
    public const int Alignment = 64;

    public static long Assign(Plan plan, IReadOnlyDictionary<string, long> maxima)
    {
        var first = new Dictionary<PlanTensor, int>();
        var last = new Dictionary<PlanTensor, int>();
        for (int i = 0; i < plan.Ops.Count; i++)
        {
            var op = plan.Ops[i];
            foreach (var t in op.Inputs.Concat(op.Outputs))
            {
                if (t is null) continue;
                var root = t.Root;
                if (root.Storage != StorageKind.Arena) continue;
                if (!first.ContainsKey(root)) first[root] = i;
                last[root] = i;
            }
        }
        var placed = new List<(long Offset, long Size, int First, int Last)>();
        long total = 0;
        foreach (var t in first.Keys.OrderByDescending(t => Bytes(t, maxima)).ThenBy(t => t.Id))
        {
            long size = Math.Max(Align(Bytes(t, maxima)), Alignment);
            var busy = placed.Where(p => p.First <= last[t] && first[t] <= p.Last).OrderBy(p => p.Offset).ToList();
            long offset = 0;
            foreach (var p in busy)
            {
                if (offset + size <= p.Offset) break;
                offset = Math.Max(offset, Align(p.Offset + p.Size));
            }
            t.Location = offset;
            placed.Add((offset, size, first[t], last[t]));
            total = Math.Max(total, offset + size);
        }
        return total;
    }

    public static long Bytes(PlanTensor t, IReadOnlyDictionary<string, long> maxima) =>
        t.ElementCount.Evaluate(maxima) * t.Type.Size();

    public static long Align(long v) => (v + Alignment - 1) / Alignment * Alignment;
}
