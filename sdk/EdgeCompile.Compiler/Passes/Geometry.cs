using System;
using System.Linq;
using EdgeCompile.Compiler.Ir;

namespace EdgeCompile.Compiler.Passes;

/// <summary>Where a Slice starts, steps and how many elements it keeps, per axis.</summary>
public sealed record SliceGeometry(DimExpr[] Starts, long[] Steps, DimExpr[] OutputShape)
{
    public static SliceGeometry From(Node n, DimExpr[] shape)
    {
        int rank = shape.Length;
        var starts = ShapeInference.Known(n.Input(1)) ?? throw Dynamic(n, "starts");
        var ends = ShapeInference.Known(n.Input(2)) ?? throw Dynamic(n, "ends");
        long[] axes = n.Input(3) is not null ? ShapeInference.ConstInts(n, 3, "axes") : Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
        long[] steps = n.Input(4) is not null ? ShapeInference.ConstInts(n, 4, "steps") : Enumerable.Repeat(1L, starts.Length).ToArray();
        var outStarts = Enumerable.Repeat(DimExpr.Const(0), rank).ToArray();
        var outSteps = Enumerable.Repeat(1L, rank).ToArray();
        var outShape = (DimExpr[])shape.Clone();
        for (int i = 0; i < axes.Length; i++)
        {
            int axis = ShapeInference.Axis(n, axes[i], rank);
            var d = shape[axis];
            long step = steps[i];
            if (step == 0) throw new CompilerException(Codes.InvalidModel, "Slice step 0.", n.Name);
            outSteps[axis] = step;
            if (d.IsConstant && starts[i].IsConstant && ends[i].IsConstant)
            {
                long dim = d.ConstValue, s = starts[i].ConstValue, e = ends[i].ConstValue;
                if (s < 0) s += dim;
                if (e < 0) e += dim;
                long count;
                if (step > 0)
                {
                    s = Math.Clamp(s, 0, dim);
                    e = Math.Clamp(e, 0, dim);
                    count = Math.Max(0, (e - s + step - 1) / step);
                }
                else
                {
                    s = Math.Clamp(s, 0, dim - 1);
                    e = Math.Clamp(e, -1, dim - 1);
                    count = Math.Max(0, (s - e + (-step) - 1) / (-step));
                }
                outStarts[axis] = DimExpr.Const(s);
                outShape[axis] = DimExpr.Const(count);
                continue;
            }
            // A named dimension or a named end: forward slices are static, with negative bounds
            // counted from the (named) end as exporters produce them (x[:, :seq_len], x[:, 1:], x[:, :-1]).
            if (step != 1) throw Dynamic(n, "bounds");
            var start = starts[i].IsConstant && starts[i].ConstValue < 0 ? d + starts[i] : starts[i];
            var end = ends[i];
            if (end.IsConstant && end.ConstValue >= int.MaxValue) end = d;
            else if (end.IsConstant && end.ConstValue < 0) end = d + end;
            outStarts[axis] = start;
            outShape[axis] = end - start;
        }
        return new SliceGeometry(outStarts, outSteps, outShape);
    }

    private static CompilerException Dynamic(Node n, string what) =>
        new(Codes.DynamicShape, $"the {what} of Slice are not known at build time in a form EdgeCompile can compile (a fixed start with a fixed or named end).", n.Name);
}

/// <summary>Spatial geometry shared by Conv and the pooling operators (1-D is treated as H = 1).</summary>
public sealed record WindowGeometry(long InHeight, long InWidth, long OutHeight, long OutWidth, long KernelHeight, long KernelWidth,
    long StrideHeight, long StrideWidth, long PadTop, long PadLeft, long DilationHeight, long DilationWidth)
{
    public static WindowGeometry From(Node n, DimExpr[] inputShape, long[] kernel, bool ceilMode)
    {
        int spatial = inputShape.Length - 2;
        if (spatial is < 1 or > 2)
            throw new CompilerException(Codes.UnsupportedOperatorForm, $"{n.OpType} on {spatial}-D images; EdgeCompile supports 1-D and 2-D.", n.Name);
        if (inputShape.Skip(2).Any(d => !d.IsConstant))
            throw new CompilerException(Codes.DynamicShape, $"{n.OpType} needs fixed spatial dimensions; give the image size a fixed value in the export.", n.Name);
        var input = inputShape.Skip(2).Select(d => d.ConstValue).ToArray();
        var strides = n.Ints("strides") ?? Enumerable.Repeat(1L, spatial).ToArray();
        var dilations = n.Ints("dilations") ?? Enumerable.Repeat(1L, spatial).ToArray();
        var pads = n.Ints("pads") ?? new long[spatial * 2];
        var autoPad = n.Str("auto_pad", "NOTSET");
        var output = new long[spatial];
        var padBegin = new long[spatial];
        for (int i = 0; i < spatial; i++)
        {
            long window = (kernel[i] - 1) * dilations[i] + 1;
            switch (autoPad)
            {
                case "SAME_UPPER":
                case "SAME_LOWER":
                    {
                        output[i] = (input[i] + strides[i] - 1) / strides[i];
                        long total = Math.Max((output[i] - 1) * strides[i] + window - input[i], 0);
                        padBegin[i] = autoPad == "SAME_UPPER" ? total / 2 : total - total / 2;
                        break;
                    }
                case "VALID":
                    output[i] = (input[i] - window) / strides[i] + 1;
                    break;
                case "NOTSET":
                    {
                        long span = input[i] + pads[i] + pads[i + spatial] - window;
                        output[i] = (ceilMode ? (span + strides[i] - 1) / strides[i] : span / strides[i]) + 1;
                        // A window that would start entirely in the end padding is dropped.
                        if (ceilMode && (output[i] - 1) * strides[i] >= input[i] + pads[i]) output[i]--;
                        padBegin[i] = pads[i];
                        break;
                    }
                default:
                    throw new CompilerException(Codes.InvalidModel, $"unknown auto_pad '{autoPad}'.", n.Name);
            }
            if (output[i] < 1) throw new CompilerException(Codes.InvalidModel, $"{n.OpType} output would be empty.", n.Name);
        }
        return spatial == 1
            ? new WindowGeometry(1, input[0], 1, output[0], 1, kernel[0], 1, strides[0], 0, padBegin[0], 1, dilations[0])
            : new WindowGeometry(input[0], input[1], output[0], output[1], kernel[0], kernel[1], strides[0], strides[1], padBegin[0], padBegin[1], dilations[0], dilations[1]);
    }

    public DimExpr[] Spatial(int spatialRank) =>
        spatialRank == 1 ? new[] { DimExpr.Const(OutWidth) } : new[] { DimExpr.Const(OutHeight), DimExpr.Const(OutWidth) };
}

public sealed record PoolGeometry(WindowGeometry Window, DimExpr[] OutputShape)
{
    public static PoolGeometry From(Node n, DimExpr[] x)
    {
        var kernel = n.Ints("kernel_shape") ?? throw new CompilerException(Codes.InvalidModel, $"{n.OpType} without kernel_shape.", n.Name);
        var w = WindowGeometry.From(n, x, kernel, n.Int("ceil_mode", 0) != 0);
        if (n.OpType == "AveragePool" && (w.DilationHeight != 1 || w.DilationWidth != 1))
            throw new CompilerException(Codes.UnsupportedOperatorForm, "AveragePool with dilations is not supported.", n.Name);
        return new PoolGeometry(w, x.Take(2).Concat(w.Spatial(x.Length - 2)).ToArray());
    }
}

public sealed record ConvGeometry(WindowGeometry Window, long Groups, DimExpr[] OutputShape)
{
    public static ConvGeometry From(Node n, DimExpr[] x, DimExpr[] w)
    {
        if (w.Any(d => !d.IsConstant)) throw new CompilerException(Codes.DynamicShape, "Conv weights need a fixed shape.", n.Name);
        var kernel = n.Ints("kernel_shape") ?? w.Skip(2).Select(d => d.ConstValue).ToArray();
        var window = WindowGeometry.From(n, x, kernel, ceilMode: false);
        long groups = n.Int("group", 1);
        if (!x[1].IsConstant || x[1].ConstValue != w[1].ConstValue * groups)
            throw new CompilerException(Codes.InvalidModel, $"Conv input has {x[1]} channels; weights expect {w[1].ConstValue * groups}.", n.Name);
        return new ConvGeometry(window, groups, new[] { x[0], w[0] }.Concat(window.Spatial(x.Length - 2)).ToArray());
    }
}
