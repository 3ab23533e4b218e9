using System;
using System.Collections.Generic;
using System.Linq;
using EdgeCompile.Compiler.Calibration;
using EdgeCompile.Compiler.Planning;

namespace EdgeCompile.Compiler.Pruning;

/// <summary>Where a pruning group's units are measured while the FP32 plan runs on the calibration set.</summary>
/// <param name="Node">The plan ops of this node are watched.</param>
/// <param name="Input">True: input <paramref name="Index"/> of those ops; false: output <paramref name="Index"/>.</param>
/// <param name="Units">How many units (neurons, channels) the tensor holds per row.</param>
/// <param name="Plane">0: the units are the last axis (a Dense's <c>[rows, F]</c>); else the tensor is channels-first
/// <c>[images, Units, Plane]</c> (NCHW with Plane = H·W) and every pixel is one row.</param>
/// <param name="Kernel">Only the node's plan ops of this kernel (a node may lower to more than one op), or null: all.</param>
public sealed record UnitTap(string Node, bool Input, int Index, int Units, int Plane = 0, string? Kernel = null);

/// <summary>
/// What the calibration set says about the units of one pruning group (an FFN block's neurons, an attention's head
/// outputs, a conv channel group's channels): the activations <c>a</c> that the consuming layer reads (one row per token, or per pixel), summarised
/// as their Gram matrix <c>G = AᵀA</c>, the sums of <c>|a_j|</c> and <c>a_j</c>, and the row count. That is enough for
/// ranking (E|a_j|), the least-squares refit of the consuming layer and the group's output error before and after it,
/// without keeping the activations.
/// </summary>
public sealed class NeuronStatistics
{
    public NeuronStatistics(int neurons)
    {
        Neurons = neurons;
        Gram = new double[(long)neurons * neurons];
        AbsSum = new double[neurons];
        Sum = new double[neurons];
    }

    public int Neurons { get; }
    /// <summary><c>G[i,j] = Σ_rows a_i·a_j</c>, row-major <c>[F,F]</c>.</summary>
    public double[] Gram { get; }
    public double[] AbsSum { get; }
    public double[] Sum { get; }
    public long Rows { get; private set; }

    /// <summary>E|a_j| over every calibration token.</summary>
    public double MeanAbs(int j) => Rows == 0 ? 0 : AbsSum[j] / Rows;

    /// <summary>Adds activations whose last axis is the units: rows of <see cref="Neurons"/> values.</summary>
    public void Add(ReadOnlySpan<float> activations)
    {
        int f = Neurons;
        var row = new double[f];
        for (int r = 0; r + f <= activations.Length; r += f)
        {
            for (int i = 0; i < f; i++) row[i] = activations[r + i];
            AddRow(row);
        }
    }

    /// <summary>
    /// Adds channels-first activations <c>[images, Neurons, plane]</c>: the value of every channel at one pixel is one
    /// row, as a 1×1 convolution reads it (a Dense over the channels at every pixel).
    /// </summary>
    public void AddChannels(ReadOnlySpan<float> activations, int plane)
    {
        int c = Neurons, image = c * plane;
        var row = new double[c];
        for (int start = 0; start + image <= activations.Length; start += image)
            for (int p = 0; p < plane; p++)
            {
                for (int i = 0; i < c; i++) row[i] = activations[start + i * plane + p];
                AddRow(row);
            }
    }

    private void AddRow(double[] row)
    {
        int f = Neurons;
        for (int i = 0; i < f; i++)
        {
            AbsSum[i] += Math.Abs(row[i]);
            Sum[i] += row[i];
        }
        for (int i = 0; i < f; i++)
        {
            double ai = row[i];
            if (ai == 0) continue;
            var line = Gram.AsSpan(i * f, f);
            for (int j = 0; j < f; j++) line[j] += ai * row[j];
        }
        Rows++;
    }

    /// <summary>
    /// Runs the unpruned FP32 plan on every calibration sample with a tap on each block's up projection, whose output
    /// (after the fused activation) is the block's neuron activations. Keyed by the up projection's node name.
    /// </summary>
    public static Dictionary<string, NeuronStatistics> Collect(Plan fp32, IReadOnlyList<FfnBlock> blocks, IEnumerable<CalibrationSample> samples) =>
        Collect(fp32, blocks.Select(b => new UnitTap(b.Up.Name, false, 0, b.Neurons)).ToList(), samples);

    /// <summary>
    /// The statistics of the input features of Dense layers (by node name, with their input width K): what a layer's
    /// rows multiply. The attention output projection's input is every head's values side by side.
    /// </summary>
    public static Dictionary<string, NeuronStatistics> CollectInputs(Plan fp32, IEnumerable<(string Layer, int Width)> layers, IEnumerable<CalibrationSample> samples) =>
        Collect(fp32, layers.Select(l => new UnitTap(l.Layer, Input: true, 0, l.Width, Kernel: "Dense")).ToList(), samples);

    /// <summary>Runs the unpruned FP32 plan on every calibration sample with the given taps; keyed by the tapped node's name.</summary>
    public static Dictionary<string, NeuronStatistics> Collect(Plan fp32, IReadOnlyList<UnitTap> taps, IEnumerable<CalibrationSample> samples)
    {
        var byNode = taps.ToDictionary(t => t.Node, StringComparer.Ordinal);
        var stats = taps.ToDictionary(t => t.Node, t => new NeuronStatistics(t.Units), StringComparer.Ordinal);
        void Add(PlanOp op, int index, ReadOnlySpan<float> values, bool input)
        {
            var tap = byNode[op.Node];
            if (tap.Input != input || tap.Index != index) return;
            if (tap.Plane == 0) stats[op.Node].Add(values);
            else stats[op.Node].AddChannels(values, tap.Plane);
        }
        var planTap = new PlanTap(op => byNode.TryGetValue(op.Node, out var t) && (t.Kernel is null || t.Kernel == op.Kernel),
            (op, index, values) => Add(op, index, values, input: true),
            (op, index, values) => Add(op, index, values, input: false));
        var interpreter = new PlanInterpreter(fp32);
        foreach (var sample in samples) interpreter.Run(sample, planTap);
        return stats;
    }
}
