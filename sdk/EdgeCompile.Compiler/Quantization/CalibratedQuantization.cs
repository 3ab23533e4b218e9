using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using EdgeCompile.Compiler.Calibration;
using EdgeCompile.Compiler.Planning;

namespace EdgeCompile.Compiler.Quantization;

/// <summary>
/// Steps 3–4 of docs/quantization.md when a calibration set is given: run the FP32 plan on it in the build (the plan
/// interpreter, the runtime's own kernels) and turn what it measured into each layer's choice.
/// <list type="bullet">
/// <item><c>ActivationScales = MinMax | Percentile</c>: the static INT8 input scale of every Dense from its input range.</item>
/// <item><c>Int4</c>: each Dense's inputs' second moments <c>XᵀX</c>, for error-compensated rounding (<see cref="Int4Gptq"/>).</item>
/// <item><c>Mixed</c>: the output error of each layer alone at INT8 and FP16, then the search under the budget
/// (<see cref="MixedPrecisionSearch"/>), every configuration measured by running it.</item>
/// </list>
/// Every mode ends by measuring the chosen configuration's output error on the calibration set, for the report.
/// </summary>
public sealed class CalibratedQuantization
{
    private readonly QuantizeOptions _options;
    private readonly Func<IPrecisionPolicy?, Plan> _lower;
    private readonly Plan _fp32;
    private readonly List<CalibrationSample> _samples;
    private readonly List<float[]> _reference;

    /// <param name="lower">Lowers the model's optimised graph with a policy (null: FP32) into a fresh plan (no memory
    /// planning needed: the interpreter gives every tensor its own buffer).</param>
    public CalibratedQuantization(QuantizeOptions options, Func<IPrecisionPolicy?, Plan> lower)
    {
        _options = options;
        _lower = lower;
        _fp32 = lower(null);
        _samples = CalibrationSet.Load(options.CalibrationDirectory!, _fp32).Samples().ToList();
        var interpreter = new PlanInterpreter(_fp32);
        _reference = _samples.Select(s => FloatOutputs(interpreter.Run(s))).ToList();
        if (_reference.All(r => r.Length == 0))
            throw new CompilerException(Codes.QuantizationUnavailable, "the model has no float output, so its output error cannot be measured on the calibration set.");
    }

    public int SampleCount => _samples.Count;

    /// <summary>The policy for the final lowering, and one sentence for the report on how it chose.</summary>
    public (IPrecisionPolicy Policy, string Note) Choose()
    {
        var scales = StaticScales();
        string scaleNote = scales is null ? "" : $" INT8 input scales static ({_options.ActivationScales}, from {SampleCount} calibration samples).";
        switch (_options.Mode)
        {
            case QuantizeMode.Int4:
                return (new FixedPolicy(_ => Precision.Int4, scales, Hessians()),
                    $"INT4 rounding compensated against each layer's calibration inputs (GPTQ-style, {SampleCount} samples).");
            case QuantizeMode.Mixed:
                return Mixed(scales, scaleNote);
            default:
                var precision = _options.Mode == QuantizeMode.Fp16 ? Precision.Fp16 : Precision.Int8;
                return (new FixedPolicy(_ => precision, scales, null), scaleNote.Trim());
        }
    }

    /// <summary>The output error (relative RMS over the calibration set) of a plan against the FP32 plan.</summary>
    public double OutputError(Plan plan)
    {
        var interpreter = new PlanInterpreter(plan);
        double diff = 0, norm = 0;
        for (int s = 0; s < _samples.Count; s++)
        {
            var y = FloatOutputs(interpreter.Run(_samples[s]));
            var r = _reference[s];
            for (int i = 0; i < r.Length; i++)
            {
                double d = (double)y[i] - r[i];
                diff += d * d;
                norm += (double)r[i] * r[i];
            }
        }
        if (double.IsNaN(diff)) return double.PositiveInfinity;
        return norm > 0 ? Math.Sqrt(diff / norm) : Math.Sqrt(diff);
    }

    private (IPrecisionPolicy, string) Mixed(IReadOnlyDictionary<string, float>? scales, string scaleNote)
    {
        var layers = new List<QuantizableLayer>();
        _lower(new RecordingPolicy(layers));
        double Error(IReadOnlyDictionary<string, Precision> choice) =>
            OutputError(_lower(new FixedPolicy(l => choice.TryGetValue(l.Node, out var p) ? p : Precision.Fp32, scales, null)));
        var result = MixedPrecisionSearch.Run(layers, Error, _options.MaxOutputError);
        Sensitivities = result.Sensitivities;
        string budget = _options.MaxOutputError.ToString("R", CultureInfo.InvariantCulture);
        return (new FixedPolicy(l => result.Choice.TryGetValue(l.Node, out var p) ? p : Precision.Fp32, scales, null),
            $"Precision per layer chosen on {SampleCount} calibration samples under MaxOutputError = {budget} (relative RMS error of the outputs against FP32), {result.Evaluations} measured configurations.{scaleNote}");
    }

    /// <summary>Mixed only: each layer's output error alone at INT8 and at FP16 (null for the other modes).</summary>
    public IReadOnlyList<LayerSensitivity>? Sensitivities { get; private set; }

    private IReadOnlyDictionary<string, float>? StaticScales()
    {
        if (_options.ActivationScales == ActivationScaleMode.Dynamic || _options.Mode is QuantizeMode.Fp16 or QuantizeMode.Int4) return null;
        var method = _options.ActivationScales == ActivationScaleMode.MinMax ? RangeMethod.MinMax : RangeMethod.Percentile;
        return ActivationRanges.Collect(new PlanInterpreter(_fp32), _samples)
            .ToDictionary(p => p.Key, p => p.Value.Int8Scale(method), StringComparer.Ordinal);
    }

    /// <summary><c>XᵀX</c> of every constant-weight Dense's input over the calibration set, keyed by node.</summary>
    private Dictionary<string, (int K, double[] H)> Hessians() => DenseInputMoments.Collect(_fp32, _samples);

    private static float[] FloatOutputs(Array[] outputs) => outputs.OfType<float[]>().SelectMany(o => o).ToArray();

    /// <summary>Answers FP32 for every layer and records what it was asked, with its bytes per precision.</summary>
    private sealed class RecordingPolicy(List<QuantizableLayer> layers) : IPrecisionPolicy
    {
        public LayerChoice Choose(LayerWeights layer)
        {
            long count = (long)layer.Rows * layer.Columns;
            // INT8: the values plus a float scale per column (Dense) or per row (embedding, Conv output channel).
            long int8 = layer.Kind == LayerKind.Dense ? count + 4L * layer.Columns : count + 4L * layer.Rows;
            if (!layers.Exists(l => l.Node == layer.Node)) layers.Add(new QuantizableLayer(layer.Node, 4 * count, 2 * count, int8));
            return new LayerChoice(Precision.Fp32);
        }
    }

    /// <summary>A precision per layer; INT8 layers get their static input scale when there is one, INT4 Dense layers
    /// their compensated rounding when there are input statistics.</summary>
    private sealed class FixedPolicy(
        Func<LayerWeights, Precision> precision, IReadOnlyDictionary<string, float>? scales, Dictionary<string, (int K, double[] H)>? hessians) : IPrecisionPolicy
    {
        public LayerChoice Choose(LayerWeights layer)
        {
            var p = precision(layer);
            if (p == Precision.Int8 && layer.Kind == LayerKind.Dense && scales is not null && scales.TryGetValue(layer.Node, out var s))
                return new LayerChoice(Precision.Int8) { InputScale = s };
            if (p == Precision.Int4 && layer.Kind == LayerKind.Dense && hessians is not null && hessians.TryGetValue(layer.Node, out var h) && h.K == layer.Rows)
            {
                var w = Array.ConvertAll(layer.Weight.Real!, v => (float)v);
                if (Int4Gptq.Quantize(w, layer.Rows, layer.Columns, h.H) is { } q)
                    return new LayerChoice(Precision.Int4) { Int4Values = q.Values, Int4Scales = q.Scales };
            }
            return new LayerChoice(p);
        }
    }
}
