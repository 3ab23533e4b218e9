using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using EdgeCompile.Compiler.Data;
using EdgeCompile.Compiler.Ir;
using EdgeCompile.Compiler.Planning;

namespace EdgeCompile.Compiler.Calibration;

/// <summary>
/// A calibration folder: NumPy <c>.npy</c> files named after the graph inputs (<c>input_ids.npy</c>,
/// <c>attention_mask.npy</c>, <c>pixel_values.npy</c>...), samples stacked on axis 0. The files directly in the
/// folder form one set, and every subfolder holding <c>.npy</c> files another (e.g. one per sequence length: within
/// a set all samples share their shape). Other files are ignored.
/// <para>
/// Each array has the rank of its input; axis 0 counts samples and stands for the input's axis 0 (the batch: a
/// named dimension or 1), so each sample runs at batch 1. Every other axis must equal a fixed dimension, or gives
/// a named dimension its value (the same in all inputs of the set, at most its MaxShapes maximum).
/// </para>
/// <para>
/// Element types: exactly the input's, except that an int64 input also takes int32 (NumPy's default integer on
/// some platforms; widened losslessly). Nothing narrows or rounds: float64 for a float32 input is refused, since the
/// model never sees those values. Index inputs the plan checks (token ids) are checked against their limit here.
/// </para>
/// </summary>
public sealed class CalibrationSet
{
    private CalibrationSet(IReadOnlyList<Group> groups) => Groups = groups;

    /// <summary>The sets, in order: the folder's own files first, then subfolders by ordinal name.</summary>
    public IReadOnlyList<Group> Groups { get; }

    public int Count => Groups.Sum(g => g.Count);

    /// <summary>Every sample of every set, in order.</summary>
    public IEnumerable<CalibrationSample> Samples() => Groups.SelectMany(g => g.Samples());

    /// <summary>Reads and checks <paramref name="folder"/> against the graph inputs and dimension maxima of <paramref name="plan"/>.</summary>
    public static CalibrationSet Load(string folder, Plan plan)
    {
        if (!Directory.Exists(folder))
            throw new CompilerException(Codes.CalibrationFolderMissing, $"calibration folder '{folder}' does not exist. Set Calibration on the EdgeModel item to a folder of .npy files named after the model's inputs ({InputList(plan)}).");
        var folders = new[] { folder }.Concat(Directory.GetDirectories(folder).Order(StringComparer.Ordinal));
        var groups = folders.Select(f => (Folder: f, Files: Directory.GetFiles(f, "*.npy").Order(StringComparer.Ordinal).ToArray()))
            .Where(g => g.Files.Length > 0)
            .Select(g => Group.Load(g.Folder, g.Files, plan))
            .ToList();
        if (groups.Count == 0)
            throw new CompilerException(Codes.CalibrationEmpty, $"calibration folder '{folder}' holds no .npy file (nor do its subfolders). Save one array per model input ({InputList(plan)}) with numpy.save, samples stacked on axis 0.");
        return new CalibrationSet(groups);
    }

    private static string InputList(Plan plan) => string.Join(", ", plan.Inputs.Select(i => i.Name + ".npy"));

    /// <summary>One stacked set: the arrays of one folder, with the dimension values they share.</summary>
    public sealed class Group
    {
        private readonly Array[] _arrays;   // in plan input order, element type of the plan input
        private readonly int[] _perSample;

        private Group(string folder, Array[] arrays, int[] perSample, int count, IReadOnlyDictionary<string, long> dims)
        {
            Folder = folder;
            _arrays = arrays;
            _perSample = perSample;
            Count = count;
            Dims = dims;
        }

        public string Folder { get; }
        public int Count { get; }
        /// <summary>The dimension values of every sample of this set (batch 1).</summary>
        public IReadOnlyDictionary<string, long> Dims { get; }

        public IEnumerable<CalibrationSample> Samples()
        {
            for (int s = 0; s < Count; s++)
            {
                var inputs = new Array[_arrays.Length];
                for (int i = 0; i < _arrays.Length; i++)
                {
                    inputs[i] = Array.CreateInstance(_arrays[i].GetType().GetElementType()!, _perSample[i]);
                    Array.Copy(_arrays[i], (long)s * _perSample[i], inputs[i], 0, _perSample[i]);
                }
                yield return new CalibrationSample(inputs, Dims, $"{Folder} (sample {s})");
            }
        }

        internal static Group Load(string folder, string[] files, Plan plan)
        {
            var byName = files.ToDictionary(f => Path.GetFileNameWithoutExtension(f), StringComparer.Ordinal);
            foreach (var name in byName.Keys.Where(n => !plan.Inputs.Any(i => i.Name == n)))
                throw new CompilerException(Codes.CalibrationUnknownFile, $"calibration file '{byName[name]}' does not name an input of the model; its inputs are: {InputList(plan)}. Rename or remove it.");
            var dims = new Dictionary<string, long>(StringComparer.Ordinal);
            var setBy = new Dictionary<string, string>(StringComparer.Ordinal);
            var arrays = new Array[plan.Inputs.Count];
            var perSample = new int[plan.Inputs.Count];
            long count = -1;
            string? countFile = null;
            for (int i = 0; i < plan.Inputs.Count; i++)
            {
                var (name, tensor) = plan.Inputs[i];
                if (!byName.TryGetValue(name, out var path))
                    throw new CompilerException(Codes.CalibrationInputMissing, $"calibration set '{folder}' has no '{name}.npy' for model input '{name}' ({tensor.Type.PlanName()} {Plan.ShapeText(tensor.Shape)}). Every set needs one file per input: {InputList(plan)}.");
                var npy = Read(path);
                arrays[i] = Convert(npy, tensor.Type, path);
                BindShape(npy, tensor, path, plan, dims, setBy);
                if (count >= 0 && npy.Shape[0] != count)
                    throw new CompilerException(Codes.CalibrationSampleCount, $"'{path}' holds {npy.Shape[0]} samples (axis 0) but '{countFile}' holds {count}: the arrays of one set must hold the same samples.");
                if (npy.Shape[0] == 0)
                    throw new CompilerException(Codes.CalibrationSampleCount, $"'{path}' holds no samples (axis 0 has length 0).");
                count = npy.Shape[0];
                countFile = path;
                perSample[i] = checked((int)npy.Shape.Skip(1).Aggregate(1L, (a, b) => a * b));
            }
            foreach (var (dim, max) in plan.Dimensions)
            {
                if (!dims.ContainsKey(dim))
                    throw new CompilerException(Codes.CalibrationShape, $"calibration set '{folder}' gives no value to dimension '{dim}'.");
                if (dims[dim] > max)
                    throw new CompilerException(Codes.CalibrationAboveMaximum, $"'{setBy[dim]}' gives dimension '{dim}' the value {dims[dim]}, above its maximum {max}. Raise it in MaxShapes (\"{dim}={dims[dim]}\") or cut the calibration data to at most {max}.");
            }
            foreach (var (name, tensor) in plan.Inputs)
            {
                // Inputs whose shapes use expressions of dimensions (not plain names) are checked once all are known.
                long expected = tensor.ElementCount.Evaluate(dims);
                int index = plan.Inputs.FindIndex(p => p.Name == name);
                if (expected != perSample[index])
                    throw new CompilerException(Codes.CalibrationShape, $"'{byName[name]}': a sample has {perSample[index]} elements, input '{name}' {Plan.ShapeText(tensor.Shape)} needs {expected} at {string.Join(", ", dims.Select(d => $"{d.Key}={d.Value}"))}.");
            }
            CheckIndices(plan, arrays, byName);
            return new Group(folder, arrays, perSample, (int)count, dims);
        }

        /// <summary>The plan's check-indices on inputs (token ids against the vocabulary), done once here for the whole set.</summary>
        private static void CheckIndices(Plan plan, Array[] arrays, Dictionary<string, string> byName)
        {
            foreach (var (tensor, limit) in plan.IndexChecks)
            {
                int input = plan.Inputs.FindIndex(i => i.Tensor.Root == tensor.Root);
                if (input < 0) continue;
                var values = arrays[input] switch { long[] l => l, int[] n => Array.ConvertAll(n, v => (long)v), _ => null };
                if (values is null) continue;
                int bad = Array.FindIndex(values, v => v < -limit || v >= limit);
                if (bad >= 0)
                    throw new CompilerException(Codes.CalibrationIndexOutOfRange, $"'{byName[plan.Inputs[input].Name]}' holds {values[bad]} at flat position {bad}; input '{plan.Inputs[input].Name}' indexes a table of {limit} rows (valid: -{limit}..{limit - 1}). Tokenize the calibration text with the model's own vocabulary.");
            }
        }

        private static NpyFile Read(string path)
        {
            try
            {
                return NpyFile.Read(path);
            }
            catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException or FormatException or OverflowException)
            {
                throw new CompilerException(Codes.CalibrationUnreadable, $"cannot read calibration file '{path}': {e.Message}");
            }
        }

        /// <summary>The values in the input's element type: the same type, or int32 widened to int64.</summary>
        private static Array Convert(NpyFile npy, ElementType type, string path)
        {
            var want = PlanInterpreter.ClrType(type);
            if (npy.Data.GetType().GetElementType() == want) return npy.Data;
            if (type == ElementType.Int64 && npy.Data is int[] narrow) return Array.ConvertAll(narrow, v => (long)v);
            string hint = type switch
            {
                ElementType.Float32 => "arr.astype(numpy.float32)",
                ElementType.Int64 => "arr.astype(numpy.int64) (int32 is accepted too)",
                _ => $"an array of {type.PlanName()}",
            };
            throw new CompilerException(Codes.CalibrationType, $"'{path}' holds {npy.DType}, the model input is {type.PlanName()}: save {hint}.");
        }

        /// <summary>Checks the array's shape against the input's and records the named dimensions it sets.</summary>
        private static void BindShape(NpyFile npy, PlanTensor tensor, string path, Plan plan, Dictionary<string, long> dims, Dictionary<string, string> setBy)
        {
            var shape = tensor.Shape;
            string Expect() => $"[samples,{string.Join(",", shape.Skip(1).Select(d => d.ToString()))}]";
            if (shape.Length == 0)
                throw new CompilerException(Codes.CalibrationShape, $"model input '{Path.GetFileNameWithoutExtension(path)}' is a scalar; calibration needs inputs with a batch axis.");
            if (npy.Shape.Length != shape.Length)
                throw new CompilerException(Codes.CalibrationShape, $"'{path}' has shape [{string.Join(",", npy.Shape)}], rank {npy.Shape.Length}; the input is {Plan.ShapeText(shape)}, so the file must be {Expect()} (samples on axis 0).");
            // Axis 0 is the sample axis: each sample runs at batch 1.
            if (shape[0].IsConstant ? shape[0].ConstValue != 1 : !IsName(shape[0], plan, out _))
                throw new CompilerException(Codes.CalibrationShape, $"input {Plan.ShapeText(shape)} has no batch axis (axis 0 must be a named dimension or 1) for samples to be stacked on.");
            for (int axis = 0; axis < shape.Length; axis++)
            {
                long value = axis == 0 ? 1 : npy.Shape[axis];
                if (shape[axis].IsConstant)
                {
                    if (shape[axis].ConstValue != value)
                        throw new CompilerException(Codes.CalibrationShape, $"'{path}' has shape [{string.Join(",", npy.Shape)}]; axis {axis} must be {shape[axis].ConstValue} for input {Plan.ShapeText(shape)}: {Expect()}.");
                    continue;
                }
                if (!IsName(shape[axis], plan, out var dim)) continue;   // an expression: checked by element count later
                if (dims.TryGetValue(dim, out var bound) && bound != value)
                    throw new CompilerException(Codes.CalibrationShape, $"'{path}' gives dimension '{dim}' the value {value} (axis {axis}), but '{setBy[dim]}' gives it {bound}: the inputs of one set must agree.");
                dims[dim] = value;
                setBy.TryAdd(dim, path);
            }
        }

        private static bool IsName(DimExpr d, Plan plan, out string name)
        {
            foreach (var (dim, _) in plan.Dimensions)
                if (d == DimExpr.Symbol(dim)) { name = dim; return true; }
            name = "";
            return false;
        }
    }
}
