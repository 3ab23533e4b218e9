using System;
using System.Collections.Generic;
using System.Linq;

namespace EdgeCompile.Compiler.Pruning;

/// <summary>
/// Which weights of a Dense <c>[K,N]</c> (row k = input feature, column j = output) <c>PruneMode="NM"</c> and
/// <c>"Unstructured"</c> remove, and how many (README, "Pruning").
/// <list type="bullet">
/// <item>NM: in every group of <see cref="GroupSize"/> consecutive rows of each column, <see cref="RemovedPerGroup"/>
/// weights; a last group of r &lt; M rows (K not a multiple of M) removes ⌊n·r/M⌋.</item>
/// <item>Unstructured: <c>round(p·K·N)</c> weights of the layer, wherever they are.</item>
/// </list>
/// Which ones is decided by a score (smallest first, ties to the lower index): |w| for magnitude pruning, w²/[H⁻¹]_kk
/// for SparseGPT.
/// </summary>
public sealed record SparsityPattern(double Fraction, int RemovedPerGroup, int GroupSize)
{
    public const int NmGroup = 4;

    public bool IsNM => GroupSize > 0;

    public static SparsityPattern Unstructured(double fraction) => new(fraction, 0, 0);

    public static SparsityPattern NM(int removed) => new(removed / (double)NmGroup, removed, NmGroup);

    /// <summary>The weights of every group of 4 NM removes for a <c>Prune</c> fraction: round(4·p), halves away from zero.</summary>
    public static int NmRemovedPerGroup(double fraction) => (int)Math.Round(fraction * NmGroup, MidpointRounding.AwayFromZero);

    /// <summary>False when NM with this fraction would remove none or all of every group (a metadata error).</summary>
    public static bool IsUsableNm(double fraction) => NmRemovedPerGroup(fraction) is > 0 and < NmGroup;

    /// <summary>Weights to remove in a last NM group of <paramref name="rows"/> rows.</summary>
    public int RemovedIn(int rows) => RemovedPerGroup * rows / GroupSize;

    /// <summary>Weights an unstructured layer of <paramref name="count"/> weights loses.</summary>
    public long RemovedOf(long count) => (long)Math.Round(Fraction * count, MidpointRounding.AwayFromZero);

    /// <summary>"2:4" or "50 %", for the report.</summary>
    public override string ToString() => IsNM ? $"{RemovedPerGroup}:{GroupSize}" : $"{Fraction * 100:0.#} %";

    /// <summary>
    /// Magnitude pruning: the mask (true = removed) of <paramref name="w"/> <c>[k,n]</c>, by |w|.
    /// </summary>
    public bool[] MagnitudeMask(ReadOnlySpan<double> w, int k, int n)
    {
        var mask = new bool[w.Length];
        var magnitude = new double[w.Length];
        for (int i = 0; i < w.Length; i++) magnitude[i] = Math.Abs(w[i]);
        if (IsNM)
            for (int row = 0; row < k; row += GroupSize) MarkGroups(magnitude, k, n, row, mask);
        else
            MarkSmallest(magnitude, Enumerable.Range(0, w.Length), RemovedOf(w.Length), mask);
        return mask;
    }

    /// <summary>For every column, marks the smallest-scored weights of the NM group starting at <paramref name="row"/>.</summary>
    public void MarkGroups(ReadOnlySpan<double> score, int k, int n, int row, bool[] mask)
    {
        int rows = Math.Min(GroupSize, k - row), removed = RemovedIn(rows);
        if (removed == 0) return;
        Span<int> order = stackalloc int[rows];
        Span<double> keys = stackalloc double[rows];
        for (int j = 0; j < n; j++)
        {
            for (int r = 0; r < rows; r++)
            {
                order[r] = r;
                keys[r] = score[(row + r) * n + j];
            }
            // Insertion sort by score, stable: a tie goes to the lower row.
            for (int a = 1; a < rows; a++)
                for (int b = a; b > 0 && keys[b] < keys[b - 1]; b--)
                {
                    (keys[b], keys[b - 1]) = (keys[b - 1], keys[b]);
                    (order[b], order[b - 1]) = (order[b - 1], order[b]);
                }
            for (int r = 0; r < removed; r++) mask[(row + order[r]) * n + j] = true;
        }
    }

    /// <summary>Marks the <paramref name="count"/> smallest-scored of <paramref name="indices"/> (ties to the lower index).</summary>
    public static void MarkSmallest(double[] score, IEnumerable<int> indices, long count, bool[] mask)
    {
        foreach (var i in indices.OrderBy(i => score[i]).ThenBy(i => i).Take((int)count)) mask[i] = true;
    }
}
