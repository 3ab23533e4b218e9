using System;
using System.Linq;

namespace EdgeCompile.Compiler.Pruning;

/// <summary>
/// Which neurons of an FFN block stay, and how many. Neuron j's importance is how much it contributes to the block's
/// output: the size of its activation times the size of the row of the down projection it multiplies.
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
    public static int KeptCount(int neurons, double fraction)
    {
        double target = neurons * (1 - fraction);
        int rounded = (int)Math.Floor(target / PanelWidth + 0.5) * PanelWidth;
        int kept = rounded >= PanelWidth ? rounded : Math.Max(1, (int)Math.Ceiling(target - 1e-9));
        return Math.Min(kept, neurons);
    }

    /// <summary>Importance of each neuron; <paramref name="meanAbsActivation"/> null: the calibration-free proxy.</summary>
    public static double[] Importance(double[] up, double[] down, int hidden, int neurons, int output, Func<int, double>? meanAbsActivation)
    {
        var score = new double[neurons];
        for (int j = 0; j < neurons; j++)
        {
            double downNorm = 0;
            for (int c = 0; c < output; c++) downNorm += down[(long)j * output + c] * down[(long)j * output + c];
            double size;
            if (meanAbsActivation is not null) size = meanAbsActivation(j);
            else
            {
                double upNorm = 0;
                for (int k = 0; k < hidden; k++) upNorm += up[(long)k * neurons + j] * up[(long)k * neurons + j];
                size = Math.Sqrt(upNorm);
            }
            score[j] = size * Math.Sqrt(downNorm);
        }
        return score;
    }

    /// <summary>The <paramref name="kept"/> most important neurons, in increasing index order.</summary>
    public static int[] Keep(double[] importance, int kept) =>
        Enumerable.Range(0, importance.Length).OrderByDescending(j => importance[j]).ThenBy(j => j).Take(kept).Order().ToArray();
}
