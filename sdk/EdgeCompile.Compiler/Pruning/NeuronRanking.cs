using System;
using System.Linq;

namespace EdgeCompile.Compiler.Pruning;

/// <summary>
/// Which units of a pruning group stay, and how many: the neurons of an FFN block, or the channels of a conv channel
/// group (<see cref="ConvChannelGroup"/>). A unit's importance is how much it contributes to the group's output: the
/// size of its activation times the norm of the consuming weights it multiplies (<see cref="Importance(double[], double[])"/>).
/// For an FFN block:
/// <list type="bullet">
/// <item>With calibration: <c>E|a_j| · ‖W_down[j,:]‖₂</c>, a_j the activation measured on the calibration set.</item>
/// <item>Without: <c>‖W_up[:,j]‖₂ · ‖W_down[j,:]‖₂</c>, the input weights' norm standing in for the activation's size.</item>
/// </list>
/// The most important neurons stay (ties: the lower index), in their original order.
/// </summary>
public static class NeuronRanking
{
    /// <summary>The GEMM kernels' panels are 16 columns wide: a kept count that is a multiple of 16 fills them.</summary>
    public const int PanelWidth = 16;

    /// <summary>
    /// Neurons kept out of <paramref name="neurons"/> when <paramref name="fraction"/> is removed: <c>F·(1−fraction)</c>
    /// rounded to the nearest multiple of 16 (halves up) when that is at least 16, else rounded up to a whole neuron
    /// (at least 1). Never more than <paramref name="neurons"/>. So the removed fraction is the asked one to within 8
    /// neurons: Prune=0.4 on F=128 keeps 80 (removes 37.5 %).
    /// </summary>
    public static int KeptCount(int neurons, double fraction) => KeptCount(neurons, fraction, PanelWidth);

    /// <summary>
    /// <see cref="KeptCount(int, double)"/> with another rounding step: <c>units·(1−fraction)</c> rounded to the nearest
    /// multiple of <paramref name="multiple"/> (halves up) when that is at least <paramref name="multiple"/>, else rounded
    /// up to a whole unit (at least 1); never more than <paramref name="units"/>.
    /// </summary>
    public static int KeptCount(int units, double fraction, int multiple)
    {
        double target = units * (1 - fraction);
        int rounded = (int)Math.Floor(target / multiple + 0.5) * multiple;
        int kept = rounded >= multiple ? rounded : Math.Max(1, (int)Math.Ceiling(target - 1e-9));
        return Math.Min(kept, units);
    }

    /// <summary>Importance of each unit: <c>size[j] · outgoingNorm[j]</c>.</summary>
    public static double[] Importance(double[] size, double[] outgoingNorm)
    {
        var score = new double[size.Length];
        for (int j = 0; j < score.Length; j++) score[j] = size[j] * outgoingNorm[j];
        return score;
    }

    /// <summary>Importance of each neuron of an FFN block; <paramref name="meanAbsActivation"/> null: the calibration-free proxy.</summary>
    public static double[] Importance(double[] up, double[] down, int hidden, int neurons, int output, Func<int, double>? meanAbsActivation)
    {
        var size = new double[neurons];
        var downNorm = new double[neurons];
        for (int j = 0; j < neurons; j++)
        {
            double d = 0;
            for (int c = 0; c < output; c++) d += down[(long)j * output + c] * down[(long)j * output + c];
            downNorm[j] = Math.Sqrt(d);
            if (meanAbsActivation is not null) size[j] = meanAbsActivation(j);
            else
            {
                double upNorm = 0;
                for (int k = 0; k < hidden; k++) upNorm += up[(long)k * neurons + j] * up[(long)k * neurons + j];
                size[j] = Math.Sqrt(upNorm);
            }
        }
        return Importance(size, downNorm);
    }

    /// <summary>The <paramref name="kept"/> most important neurons, in increasing index order.</summary>
    public static int[] Keep(double[] importance, int kept) =>
        Enumerable.Range(0, importance.Length).OrderByDescending(j => importance[j]).ThenBy(j => j).Take(kept).Order().ToArray();
}
