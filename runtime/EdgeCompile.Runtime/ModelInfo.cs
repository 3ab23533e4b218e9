using System;
using System.Collections.Generic;
using System.Collections.ObjectModel;
using System.Globalization;
using System.Text;

namespace EdgeCompile.Runtime;

/// <summary>The element type of a model input or output.</summary>
public enum TensorElementType
{
    /// <summary><see cref="float"/> (ONNX FLOAT, plan <c>f32</c>).</summary>
    Float32,
    /// <summary><see cref="System.Half"/> (ONNX FLOAT16, plan <c>f16</c>).</summary>
    Float16,
    /// <summary><see cref="double"/> (ONNX DOUBLE, plan <c>f64</c>).</summary>
    Float64,
    /// <summary><see cref="long"/> (ONNX INT64, plan <c>i64</c>).</summary>
    Int64,
    /// <summary><see cref="int"/> (ONNX INT32, plan <c>i32</c>).</summary>
    Int32,
    /// <summary><see cref="sbyte"/> (ONNX INT8, plan <c>i8</c>).</summary>
    Int8,
    /// <summary><see cref="byte"/> (ONNX UINT8, plan <c>u8</c>).</summary>
    UInt8,
    /// <summary><see cref="bool"/> (ONNX BOOL, plan <c>bool</c>).</summary>
    Bool,
}

/// <summary>A symbolic dimension of the model and the maximum the build planned for.</summary>
/// <param name="Name">The dimension name as in the ONNX model (e.g. <c>batch</c>, <c>sequence</c>).</param>
/// <param name="Max">The largest value <c>Run</c> accepts (from <c>MaxShapes</c>); the smallest is 1.</param>
public sealed record DimensionInfo(string Name, int Max)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Name} <= {Max.ToString(CultureInfo.InvariantCulture)}";
}

/// <summary>A graph input or output.</summary>
public sealed record TensorInfo
{
    /// <summary>Creates the description of a graph input or output.</summary>
    /// <param name="name">The ONNX name.</param>
    /// <param name="elementType">The element type.</param>
    /// <param name="shape">Each dimension: an integer literal, a dimension name, or an expression over them (e.g. <c>batch*12</c>).</param>
    public TensorInfo(string name, TensorElementType elementType, IReadOnlyList<string> shape)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(shape);
        Name = name;
        ElementType = elementType;
        Shape = ReadOnly(shape);
    }

    /// <summary>The ONNX name.</summary>
    public string Name { get; }

    /// <summary>The element type.</summary>
    public TensorElementType ElementType { get; }

    /// <summary>The shape: one expression per dimension (<c>"batch"</c>, <c>"2"</c>, <c>"batch*12"</c>).</summary>
    public IReadOnlyList<string> Shape { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{Name}: {ElementType} [{string.Join(",", Shape)}]";

    internal static ReadOnlyCollection<T> ReadOnly<T>(IReadOnlyList<T> items)
    {
        var copy = new T[items.Count];
        for (int i = 0; i < copy.Length; i++) copy[i] = items[i];
        return Array.AsReadOnly(copy);
    }
}

/// <summary>
/// What a generated model is: its name, where it came from, the dimensions and tensors of its
/// <c>Run</c> method, and its memory use. Every generated class exposes one as <c>Info</c>.
/// </summary>
public sealed class ModelInfo
{
    /// <summary>Creates a model description (generated code calls this once per model class).</summary>
    public ModelInfo(
        string name,
        string source,
        string profile,
        IReadOnlyList<DimensionInfo> dimensions,
        IReadOnlyList<TensorInfo> inputs,
        IReadOnlyList<TensorInfo> outputs,
        long parameterCount,
        long weightBytes,
        long arenaBytes)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(profile);
        ArgumentNullException.ThrowIfNull(dimensions);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(outputs);
        Name = name;
        Source = source;
        Profile = profile;
        Dimensions = TensorInfo.ReadOnly(dimensions);
        Inputs = TensorInfo.ReadOnly(inputs);
        Outputs = TensorInfo.ReadOnly(outputs);
        ParameterCount = parameterCount;
        WeightBytes = weightBytes;
        ArenaBytes = arenaBytes;
    }

    /// <summary>The generated class name.</summary>
    public string Name { get; }

    /// <summary>The ONNX file the model was compiled from, as given in the project.</summary>
    public string Source { get; }

    /// <summary>The target profile the code was generated for (<c>portable</c>, <c>x64-avx2</c>, ...).</summary>
    public string Profile { get; }

    /// <summary>The symbolic dimensions, in the order of the <c>Run</c> parameters.</summary>
    public IReadOnlyList<DimensionInfo> Dimensions { get; }

    /// <summary>The graph inputs, in the order of the <c>Run</c> parameters.</summary>
    public IReadOnlyList<TensorInfo> Inputs { get; }

    /// <summary>The graph outputs, in the order of the <c>Run</c> parameters.</summary>
    public IReadOnlyList<TensorInfo> Outputs { get; }

    /// <summary>The number of model parameters (elements of the weights the model uses).</summary>
    public long ParameterCount { get; }

    /// <summary>The size of the packed weights blob embedded in the assembly.</summary>
    public long WeightBytes { get; }

    /// <summary>The size of the scratch arena each instance allocates.</summary>
    public long ArenaBytes { get; }

    /// <summary>A multi-line human-readable summary.</summary>
    public override string ToString()
    {
        var ci = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append(ci, $"{Name} (from {Source}, profile {Profile}): {ParameterCount.ToString("N0", ci)} parameters, ");
        sb.Append(ci, $"{FormatBytes(WeightBytes)} weights, {FormatBytes(ArenaBytes)} arena");
        if (Dimensions.Count > 0)
        {
            sb.AppendLine();
            sb.Append("  dimensions: ");
            for (int i = 0; i < Dimensions.Count; i++)
            {
                if (i > 0) sb.Append(", ");
                sb.Append(Dimensions[i].ToString());
            }
        }
        foreach (var input in Inputs) sb.AppendLine().Append("  input  ").Append(input.ToString());
        foreach (var output in Outputs) sb.AppendLine().Append("  output ").Append(output.ToString());
        return sb.ToString();
    }

    private static string FormatBytes(long bytes)
    {
        var ci = CultureInfo.InvariantCulture;
        if (bytes < 1024) return bytes.ToString(ci) + " B";
        if (bytes < 1024 * 1024) return (bytes / 1024.0).ToString("0.#", ci) + " KiB";
        if (bytes < 1024L * 1024 * 1024) return (bytes / (1024.0 * 1024)).ToString("0.#", ci) + " MiB";
        return (bytes / (1024.0 * 1024 * 1024)).ToString("0.##", ci) + " GiB";
    }
}
