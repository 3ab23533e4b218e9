using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using EdgeCompile.Compiler.Ir;
using EdgeCompile.Compiler.Onnx.Proto;
using Google.Protobuf;

namespace EdgeCompile.Compiler.Onnx;

/// <summary>Reads an ONNX file into the graph IR. Knows the file format, nothing about operators.</summary>
public static class OnnxImporter
{
    public const int MinOpset = 11;
    public const int MaxOpset = 21;

    /// <summary>Reads a serialized TensorProto (the .pb files of ONNX's conformance tests).</summary>
    public static ConstTensor ReadTensorFile(string path)
    {
        var tensor = TensorProto.Parser.ParseFrom(File.ReadAllBytes(path));
        return new Reader(path, new ModelProto()).ReadTensor(tensor);
    }

    public static Graph Import(string path)
    {
        ModelProto model;
        try
        {
            using var stream = File.OpenRead(path);
            model = ModelProto.Parser.ParseFrom(stream);
        }
        catch (Exception e) when (e is InvalidProtocolBufferException or IOException or UnauthorizedAccessException)
        {
            throw new CompilerException(Codes.UnreadableModel,
                $"cannot read '{path}' as an ONNX model ({e.Message}). Check that the file is an ONNX ModelProto (re-export it; a Git LFS pointer or truncated download gives this error).");
        }
        if (model.Graph is null || model.Graph.Node.Count == 0)
            throw new CompilerException(Codes.UnreadableModel, $"'{path}' holds no graph. Check that the file is an ONNX model and not another protobuf file.");
        return new Reader(path, model).Read();
    }

    private sealed class Reader
    {
        private readonly string _path;
        private readonly ModelProto _model;
        private readonly Dictionary<string, Value> _values = new(StringComparer.Ordinal);
        private readonly Graph _graph = new();

        public Reader(string path, ModelProto model)
        {
            _path = path;
            _model = model;
        }

        public Graph Read()
        {
            _graph.SourcePath = _path;
            _graph.Opset = ReadOpset();
            var g = _model.Graph;
            foreach (var init in g.Initializer)
            {
                var c = ReadTensor(init);
                if (c.Type.IsFloat()) _graph.ParameterCount += c.Count;
                _values[init.Name] = new Value(init.Name, c.Type, c.Shape.Select(DimExpr.Const).ToArray()) { Const = c, SourceInitializer = init.Name };
            }
            foreach (var input in g.Input)
            {
                if (_values.ContainsKey(input.Name)) continue; // IR < 4 lists initializers as inputs too
                var v = new Value(input.Name, ReadElementType(input), ReadShape(input)) { IsGraphInput = true };
                _values[input.Name] = v;
                _graph.Inputs.Add(v);
            }
            foreach (var n in g.Node)
            {
                if (n.Domain is not ("" or "ai.onnx"))
                    throw new CompilerException(Codes.UnsupportedOpset,
                        $"operator {n.OpType} is from domain '{n.Domain}', which EdgeCompile does not compile. Export with only standard ONNX operators (for ONNX Runtime-optimised files, export the original model instead).", n.Name);
                var inputs = n.Input.Select(name => name.Length == 0 ? null : Lookup(name, n)).ToList();
                var outputs = n.Output.Select(name => DefineOutput(name, n)).ToList();
                var node = new Node(n.OpType, n.Name.Length > 0 ? n.Name : $"{n.OpType}_{_graph.Nodes.Count}", inputs, outputs, ReadAttributes(n));
                foreach (var o in outputs) o.Producer = node;
                _graph.Nodes.Add(node);
            }
            foreach (var output in g.Output)
            {
                var v = _values.TryGetValue(output.Name, out var found) ? found
                    : throw new CompilerException(Codes.InvalidModel, $"graph output '{output.Name}' is not produced by any node.");
                v.IsGraphOutput = true;
                if (ElementTypes.IsSupported(output.Type?.TensorType?.ElemType ?? 0)) v.Type = ReadElementType(output);
                _graph.Outputs.Add(v);
            }
            return _graph;
        }

        private int ReadOpset()
        {
            var entry = _model.OpsetImport.FirstOrDefault(o => o.Domain is "" or "ai.onnx");
            long version = entry?.Version ?? 0;
            if (version < MinOpset || version > MaxOpset)
                throw new CompilerException(Codes.UnsupportedOpset,
                    $"the model uses opset {version} of the default ONNX domain; EdgeCompile supports opsets {MinOpset} to {MaxOpset}. Re-export with opset_version in that range.");
            return (int)version;
        }

        private Value Lookup(string name, NodeProto n) =>
            _values.TryGetValue(name, out var v) ? v
                : throw new CompilerException(Codes.InvalidModel, $"input '{name}' of {n.OpType} is not defined before it is used (the graph must be topologically sorted).", n.Name);

        private Value DefineOutput(string name, NodeProto n)
        {
            if (_values.ContainsKey(name))
                throw new CompilerException(Codes.InvalidModel, $"value '{name}' is produced twice.", n.Name);
            // The element type is set by shape inference; Float32 is a placeholder.
            var v = new Value(name, ElementType.Float32);
            _values[name] = v;
            return v;
        }

        private ElementType ReadElementType(ValueInfoProto info)
        {
            int t = info.Type?.TensorType?.ElemType ?? 0;
            if (!ElementTypes.IsSupported(t))
                throw new CompilerException(Codes.UnsupportedType, $"graph input or output '{info.Name}' has element type {ElementTypes.OnnxName(t)}, which EdgeCompile does not support.");
            return (ElementType)t;
        }

        private DimExpr[] ReadShape(ValueInfoProto info)
        {
            var shape = info.Type?.TensorType?.Shape
                ?? throw new CompilerException(Codes.DynamicShape, $"graph input '{info.Name}' has no shape; export it with a shape (dynamic dimensions named, e.g. dynamic_axes).");
            var dims = new DimExpr[shape.Dim.Count];
            for (int i = 0; i < dims.Length; i++)
            {
                var d = shape.Dim[i];
                if (d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue && d.DimValue > 0)
                    dims[i] = DimExpr.Const(d.DimValue);
                else if (d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam && IsIdentifier(d.DimParam))
                {
                    dims[i] = DimExpr.Symbol(d.DimParam);
                    if (!_graph.Dimensions.Contains(d.DimParam)) _graph.Dimensions.Add(d.DimParam);
                }
                else
                    throw new CompilerException(Codes.DynamicShape,
                        $"dimension {i} of graph input '{info.Name}' is {(d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam ? $"named '{d.DimParam}', which is not a usable name" : "unnamed")}; give every dynamic dimension a name made of letters, digits and '_' (dynamic_axes in torch.onnx.export).");
            }
            return dims;
        }

        private static bool IsIdentifier(string s) =>
            s.Length > 0 && (char.IsLetter(s[0]) || s[0] == '_') && s.All(c => char.IsLetterOrDigit(c) || c == '_');

        private Dictionary<string, Attr> ReadAttributes(NodeProto n)
        {
            var attrs = new Dictionary<string, Attr>(StringComparer.Ordinal);
            foreach (var a in n.Attribute)
            {
                attrs[a.Name] = a.Type switch
                {
                    AttributeProto.Types.AttributeType.Float => new Attr(F: a.F),
                    AttributeProto.Types.AttributeType.Int => new Attr(I: a.I),
                    AttributeProto.Types.AttributeType.String => new Attr(S: a.S.ToStringUtf8()),
                    AttributeProto.Types.AttributeType.Tensor => new Attr(T: ReadTensor(a.T)),
                    AttributeProto.Types.AttributeType.Floats => new Attr(Floats: a.Floats.Select(f => (double)f).ToArray()),
                    AttributeProto.Types.AttributeType.Ints => new Attr(Ints: a.Ints.ToArray()),
                    _ => new Attr(),
                };
            }
            return attrs;
        }

        public ConstTensor ReadTensor(TensorProto t)
        {
            if (!ElementTypes.IsSupported(t.DataType))
                throw new CompilerException(Codes.UnsupportedType, $"tensor '{t.Name}' has element type {ElementTypes.OnnxName(t.DataType)}, which EdgeCompile does not support.");
            var type = (ElementType)t.DataType;
            var shape = t.Dims.ToArray();
            long count = ConstTensor.ElementCount(shape);
            if (count < 0 || count > int.MaxValue)
                throw new CompilerException(Codes.InvalidModel, $"tensor '{t.Name}' has an invalid shape [{string.Join(",", shape)}].");
            ReadOnlySpan<byte> raw;
            if (t.DataLocation == TensorProto.Types.DataLocation.External)
                raw = ReadExternal(t, count * type.Size());
            else if (!t.RawData.IsEmpty)
                raw = t.RawData.Span;
            else
                return ReadTyped(t, type, shape, (int)count);
            if (raw.Length != count * type.Size())
                throw new CompilerException(Codes.InvalidModel, $"tensor '{t.Name}' holds {raw.Length} bytes; shape [{string.Join(",", shape)}] of {ElementTypes.OnnxName(t.DataType)} needs {count * type.Size()}.");
            return Decode(type, shape, raw, (int)count);
        }

        private static ConstTensor Decode(ElementType type, long[] shape, ReadOnlySpan<byte> raw, int count)
        {
            if (type.IsFloat())
            {
                var values = new double[count];
                for (int i = 0; i < count; i++)
                    values[i] = type switch
                    {
                        ElementType.Float32 => BinaryPrimitives.ReadSingleLittleEndian(raw[(i * 4)..]),
                        ElementType.Float16 => (double)BinaryPrimitives.ReadHalfLittleEndian(raw[(i * 2)..]),
                        _ => BinaryPrimitives.ReadDoubleLittleEndian(raw[(i * 8)..]),
                    };
                return new ConstTensor(type, shape, values, null);
            }
            var ints = new long[count];
            for (int i = 0; i < count; i++)
                ints[i] = type switch
                {
                    ElementType.Int64 => BinaryPrimitives.ReadInt64LittleEndian(raw[(i * 8)..]),
                    ElementType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(raw[(i * 4)..]),
                    ElementType.Int8 => (sbyte)raw[i],
                    ElementType.Bool => raw[i] != 0 ? 1 : 0,
                    _ => raw[i],
                };
            return new ConstTensor(type, shape, null, ints);
        }

        private static ConstTensor ReadTyped(TensorProto t, ElementType type, long[] shape, int count)
        {
            double[]? real = null;
            long[]? ints = null;
            switch (type)
            {
                case ElementType.Float32: real = t.FloatData.Select(f => (double)f).ToArray(); break;
                case ElementType.Float64: real = t.DoubleData.ToArray(); break;
                case ElementType.Float16: real = t.Int32Data.Select(b => (double)BitConverter.UInt16BitsToHalf((ushort)b)).ToArray(); break;
                case ElementType.Int64: ints = t.Int64Data.ToArray(); break;
                default: ints = t.Int32Data.Select(v => ConstTensor.WrapTo(type, v)).ToArray(); break;
            }
            int found = real?.Length ?? ints!.Length;
            if (found != count)
                throw new CompilerException(Codes.InvalidModel, $"tensor '{t.Name}' holds {found} values; its shape [{string.Join(",", shape)}] needs {count}.");
            return new ConstTensor(type, shape, real, ints);
        }

        private byte[] ReadExternal(TensorProto t, long bytes)
        {
            string? location = null;
            long offset = 0, length = bytes;
            foreach (var kv in t.ExternalData)
            {
                if (kv.Key == "location") location = kv.Value;
                else if (kv.Key == "offset") offset = long.Parse(kv.Value, System.Globalization.CultureInfo.InvariantCulture);
                else if (kv.Key == "length") length = long.Parse(kv.Value, System.Globalization.CultureInfo.InvariantCulture);
            }
            var dir = Path.GetDirectoryName(Path.GetFullPath(_path))!;
            var file = location is null ? null : Path.GetFullPath(Path.Combine(dir, location));
            if (file is null || !file.StartsWith(dir, StringComparison.Ordinal) || !File.Exists(file))
                throw new CompilerException(Codes.ExternalData,
                    $"tensor '{t.Name}' keeps its data in external file '{location}', which is missing (it must sit beside the model, under '{dir}'). Copy the .data file next to the .onnx file.");
            using var fs = File.OpenRead(file);
            if (offset < 0 || length != bytes || offset + length > fs.Length)
                throw new CompilerException(Codes.ExternalData,
                    $"tensor '{t.Name}' asks for bytes {offset}..{offset + length} of '{location}' ({fs.Length} bytes) but its shape needs {bytes}; the external data file does not match the model.");
            var buffer = new byte[length];
            fs.Seek(offset, SeekOrigin.Begin);
            fs.ReadExactly(buffer);
            return buffer;
        }
    }
}
