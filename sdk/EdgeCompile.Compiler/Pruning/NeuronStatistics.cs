using System;
using System.Collections.Generic;
using System.Linq;
using EdgeCompile.Compiler.Calibration;
using EdgeCompile.Compiler.Planning;

namespace EdgeCompile.Compiler.Pruning;

/// <summary>
/// What the calibration set says about the input features of one layer, an FFN block's neurons or an attention's head
/// outputs: the activations <c>a</c> (one row per token) summarised as their Gram matrix <c>G = AᵀA</c>, the sums of <c>|a_j|</c> and
/// <c>a_j</c>, and the row count. That is enough for ranking (E|a_j|), the least-squares refit of the down projection
/// and the block's output error before and after it, without keeping the activations.
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

    public void Add(ReadOnlySpan<float> activations)
    {
        int f = Neurons;
        var row = new double[f];
        for (int r = 0; r + f <= activations.Length; r += f)
        {
            for (int i = 0; i < f; i++)
            {
                row[i] = activations[r + i];
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
    }

    /// <summary>
    /// Runs the unpruned FP32 plan on every calibration sample with a tap on each block's down projection, whose input
    /// (the up projection's output after its fused activation) is the block's neuron activations. Keyed by the up
    /// projection's node name.
    /// </summary>
    public static Dictionary<string, NeuronStatistics> Collect(Plan fp32, IReadOnlyList<FfnBlock> blocks, IEnumerable<CalibrationSample> samples)
    {
        var byDown = CollectInputs(fp32, blocks.Select(b => (b.Down.Name, b.Neurons)), samples);
        return blocks.ToDictionary(b => b.Up.Name, b => byDown[b.Down.Name], StringComparer.Ordinal);
    }

    /// <summary>
    /// The statistics of the input features of Dense layers (by node name, with their input width K): what a layer's
    /// rows multiply. The FFN down projection's input is the block's neurons; the attention output projection's is
    /// every head's values side by side. Both prunings rank, refit and measure from these.
    /// </summary>
    public static Dictionary<string, NeuronStatistics> CollectInputs(Plan fp32, IEnumerable<(string Layer, int Width)> layers, IEnumerable<CalibrationSample> samples)
    {
        var stats = layers.ToDictionary(l => l.Layer, l => new NeuronStatistics(l.Width), StringComparer.Ordinal);
        var tap = new PlanTap(op => op.Kernel == "Dense" && stats.ContainsKey(op.Node), (op, index, values) =>
        {
            if (index == 0) stats[op.Node].Add(values);
        });
        var interpreter = new PlanInterpreter(fp32);
        foreach (var sample in samples) interpreter.Run(sample, tap);
        return stats;
    }
}
