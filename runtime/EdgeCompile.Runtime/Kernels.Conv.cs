using System;
using System.Numerics.Tensors;

namespace EdgeCompile.Runtime;

public static partial class Kernels
{
    /// <summary>
    /// 2-D convolution, NCHW. <c>w</c> is <c>[outChannels, inChannels/groups, kernelHeight, kernelWidth]</c>;
    /// <c>bias</c> has length <c>outChannels</c> or is empty; positions outside the image read 0 (top/left padding
    /// given, bottom/right implied by the output size); the activation is applied in the epilogue.
    /// <c>y</c> must not overlap the inputs.
    /// </summary>
    public static void Conv2d(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> bias, Span<float> y,
        int batch, int inChannels, int inHeight, int inWidth, int outChannels, int outHeight, int outWidth,
        int kernelHeight, int kernelWidth, int strideHeight, int strideWidth, int padTop, int padLeft,
        int dilationHeight, int dilationWidth, int groups, Activation activation) =>
        Conv2dCore(x, new FloatFilters(w), w.Length, bias, y, batch, inChannels, inHeight, inWidth, outChannels, outHeight, outWidth,
            kernelHeight, kernelWidth, strideHeight, strideWidth, padTop, padLeft, dilationHeight, dilationWidth, groups, activation);

    /// <summary>
    /// <see cref="Conv2d"/> with INT8 weights and a float scale per output channel: computes exactly what Conv2d
    /// computes on the weights <c>(float)w[i]·scale[oc]</c> (each filter is widened into a stack buffer of up to
    /// <see cref="QuantizedConvChunk"/> values at a time, then Conv2d's float code runs). Allocation-free.
    /// </summary>
    public static void Conv2dInt8(ReadOnlySpan<float> x, ReadOnlySpan<sbyte> w, ReadOnlySpan<float> scale, ReadOnlySpan<float> bias, Span<float> y,
        int batch, int inChannels, int inHeight, int inWidth, int outChannels, int outHeight, int outWidth,
        int kernelHeight, int kernelWidth, int strideHeight, int strideWidth, int padTop, int padLeft,
        int dilationHeight, int dilationWidth, int groups, Activation activation)
    {
        Guard.Positive(outChannels, nameof(outChannels));
        Guard.Length(scale.Length, outChannels, nameof(scale));
        Conv2dCore(x, new Int8Filters(w, scale, default, w.Length / outChannels), w.Length, bias, y, batch, inChannels, inHeight, inWidth, outChannels, outHeight, outWidth,
            kernelHeight, kernelWidth, strideHeight, strideWidth, padTop, padLeft, dilationHeight, dilationWidth, groups, activation);
    }

    /// <summary>
    /// <see cref="Conv2dInt8(ReadOnlySpan{float}, ReadOnlySpan{sbyte}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int, int, int, int, int, int, int, int, int, int, int, int, int, int, int, int, Activation)"/>
    /// with Half scales: exactly Conv2d on <c>(float)w[i]·(float)scale[oc]</c>. Allocation-free.
    /// </summary>
    public static void Conv2dInt8(ReadOnlySpan<float> x, ReadOnlySpan<sbyte> w, ReadOnlySpan<Half> scale, ReadOnlySpan<float> bias, Span<float> y,
        int batch, int inChannels, int inHeight, int inWidth, int outChannels, int outHeight, int outWidth,
        int kernelHeight, int kernelWidth, int strideHeight, int strideWidth, int padTop, int padLeft,
        int dilationHeight, int dilationWidth, int groups, Activation activation)
    {
        Guard.Positive(outChannels, nameof(outChannels));
        Guard.Length(scale.Length, outChannels, nameof(scale));
        Conv2dCore(x, new Int8Filters(w, default, scale, w.Length / outChannels), w.Length, bias, y, batch, inChannels, inHeight, inWidth, outChannels, outHeight, outWidth,
            kernelHeight, kernelWidth, strideHeight, strideWidth, padTop, padLeft, dilationHeight, dilationWidth, groups, activation);
    }

    /// <summary>
    /// <see cref="Conv2d"/> with INT4 weights in blocks along each filter (weight-only): output channel <c>oc</c>'s
    /// filter is the row of <c>R = inChannels/groups·kernelHeight·kernelWidth</c> values in <c>w</c>'s order
    /// <c>(ic, kh, kw)</c>, cut into blocks of <paramref name="block"/> consecutive values (the last block of a row may
    /// be shorter), one Half scale per block: <c>scales[oc·⌈R/block⌉ + r/block]</c>. Value <c>(oc, r)</c> is nibble
    /// <c>oc·R + r</c> of <c>w</c> (low nibble first, two's complement [-8, 7]; <c>⌈O·R/2⌉</c> bytes). Computes exactly
    /// Conv2d on the weights <c>(float)q·(float)s</c>. Allocation-free.
    /// </summary>
    public static void Conv2dInt4(ReadOnlySpan<float> x, ReadOnlySpan<byte> w, ReadOnlySpan<Half> scales, ReadOnlySpan<float> bias, Span<float> y,
        int batch, int inChannels, int inHeight, int inWidth, int outChannels, int outHeight, int outWidth,
        int kernelHeight, int kernelWidth, int strideHeight, int strideWidth, int padTop, int padLeft,
        int dilationHeight, int dilationWidth, int groups, int block, Activation activation)
    {
        Guard.Positive(outChannels, nameof(outChannels)); Guard.Positive(groups, nameof(groups)); Guard.Positive(block, nameof(block));
        Guard.Positive(kernelHeight, nameof(kernelHeight)); Guard.Positive(kernelWidth, nameof(kernelWidth));
        if (inChannels % groups != 0)
            throw new ArgumentException($"groups ({groups}) must divide inChannels ({inChannels}).", nameof(groups));
        long perChannel = (long)(inChannels / groups) * kernelHeight * kernelWidth, weights = outChannels * perChannel;
        long blocksPerChannel = (perChannel + block - 1) / block;
        Guard.Length(w.Length, (weights + 1) / 2, nameof(w));
        Guard.Length(scales.Length, outChannels * blocksPerChannel, nameof(scales));
        Conv2dCore(x, new Int4Filters(w, scales, (int)perChannel, block), checked((int)weights), bias, y, batch, inChannels, inHeight, inWidth, outChannels, outHeight, outWidth,
            kernelHeight, kernelWidth, strideHeight, strideWidth, padTop, padLeft, dilationHeight, dilationWidth, groups, activation);
    }

    /// <summary><see cref="Conv2d"/> with FP16 weights: exactly Conv2d on <c>(float)w[i]</c>. Allocation-free.</summary>
    public static void Conv2dHalf(ReadOnlySpan<float> x, ReadOnlySpan<Half> w, ReadOnlySpan<float> bias, Span<float> y,
        int batch, int inChannels, int inHeight, int inWidth, int outChannels, int outHeight, int outWidth,
        int kernelHeight, int kernelWidth, int strideHeight, int strideWidth, int padTop, int padLeft,
        int dilationHeight, int dilationWidth, int groups, Activation activation) =>
        Conv2dCore(x, new HalfFilters(w), w.Length, bias, y, batch, inChannels, inHeight, inWidth, outChannels, outHeight, outWidth,
            kernelHeight, kernelWidth, strideHeight, strideWidth, padTop, padLeft, dilationHeight, dilationWidth, groups, activation);

    /// <summary>Filter values widened per chunk by the quantized convolutions (a stack buffer of this many floats).</summary>
    public const int QuantizedConvChunk = 256;

    /// <summary>Where a convolution's weights come from: float (used in place) or quantized (widened to float per chunk).</summary>
    private interface IConvFilters
    {
        /// <summary>Writes the float weights <c>[start, start+count)</c> of the flattened weight tensor to <paramref name="buffer"/> (quantized filters only).</summary>
        void Widen(int start, int count, scoped Span<float> buffer);
        /// <summary>The whole weight tensor as float when it is float (the 1×1 GEMM path), else empty.</summary>
        ReadOnlySpan<float> AsFloat { get; }
    }

    private readonly ref struct FloatFilters(ReadOnlySpan<float> w) : IConvFilters
    {
        private readonly ReadOnlySpan<float> _w = w;
        public void Widen(int start, int count, scoped Span<float> buffer) => _w.Slice(start, count).CopyTo(buffer);
        public ReadOnlySpan<float> AsFloat => _w;
    }

    private readonly unsafe ref struct HalfFilters(ReadOnlySpan<Half> w) : IConvFilters
    {
        private readonly ReadOnlySpan<Half> _w = w;
        public void Widen(int start, int count, scoped Span<float> buffer)
        {
            var src = _w.Slice(start, count);
            fixed (Half* ps = src)
            fixed (float* pb = buffer)
                WeightWidening.HalfToSingle((ushort*)ps, pb, count);
        }
        public ReadOnlySpan<float> AsFloat => default;
    }

    /// <summary>INT8 filters with a scale per output channel, float or Half (the other span empty).</summary>
    private readonly unsafe ref struct Int8Filters(ReadOnlySpan<sbyte> w, ReadOnlySpan<float> scale, ReadOnlySpan<Half> halfScale, int perChannel) : IConvFilters
    {
        private readonly ReadOnlySpan<sbyte> _w = w;
        private readonly ReadOnlySpan<float> _scale = scale;
        private readonly ReadOnlySpan<Half> _halfScale = halfScale;
        // A run of the flattened weights shares one scale while it stays within an output channel.
        public void Widen(int start, int count, scoped Span<float> buffer)
        {
            fixed (sbyte* pw = _w)
            fixed (float* pb = buffer)
                for (int done = 0; done < count;)
                {
                    int e = start + done, oc = e / perChannel, run = Math.Min(count - done, (oc + 1) * perChannel - e);
                    WeightWidening.Int8ToSingle(pw + e, _halfScale.IsEmpty ? _scale[oc] : (float)_halfScale[oc], pb + done, run);
                    done += run;
                }
        }
        public ReadOnlySpan<float> AsFloat => default;
    }

    private readonly unsafe ref struct Int4Filters(ReadOnlySpan<byte> w, ReadOnlySpan<Half> scales, int perChannel, int block) : IConvFilters
    {
        private readonly ReadOnlySpan<byte> _w = w;
        private readonly ReadOnlySpan<Half> _scales = scales;
        private readonly int _blocksPerChannel = (perChannel + block - 1) / block;
        // A run of nibbles shares one scale while it stays within one block of one output channel's filter.
        public void Widen(int start, int count, scoped Span<float> buffer)
        {
            fixed (byte* pw = _w)
            fixed (float* pb = buffer)
                for (int done = 0; done < count;)
                {
                    int e = start + done, oc = e / perChannel, r = e - oc * perChannel, b = r / block;
                    int run = Math.Min(count - done, Math.Min((b + 1) * block, perChannel) - r);
                    WeightWidening.Int4RunToSingle(pw, e, run, (float)_scales[oc * _blocksPerChannel + b], pb + done);
                    done += run;
                }
        }
        public ReadOnlySpan<float> AsFloat => default;
    }

    private static void Conv2dCore<TFilters>(ReadOnlySpan<float> x, TFilters filters, int wLength, ReadOnlySpan<float> bias, Span<float> y,
        int batch, int inChannels, int inHeight, int inWidth, int outChannels, int outHeight, int outWidth,
        int kernelHeight, int kernelWidth, int strideHeight, int strideWidth, int padTop, int padLeft,
        int dilationHeight, int dilationWidth, int groups, Activation activation)
        where TFilters : IConvFilters, allows ref struct
    {
        Guard.NonNegative(batch, nameof(batch));
        Guard.Positive(inChannels, nameof(inChannels)); Guard.NonNegative(inHeight, nameof(inHeight)); Guard.NonNegative(inWidth, nameof(inWidth));
        Guard.Positive(outChannels, nameof(outChannels)); Guard.NonNegative(outHeight, nameof(outHeight)); Guard.NonNegative(outWidth, nameof(outWidth));
        Guard.Positive(kernelHeight, nameof(kernelHeight)); Guard.Positive(kernelWidth, nameof(kernelWidth));
        Guard.Positive(strideHeight, nameof(strideHeight)); Guard.Positive(strideWidth, nameof(strideWidth));
        Guard.NonNegative(padTop, nameof(padTop)); Guard.NonNegative(padLeft, nameof(padLeft));
        Guard.Positive(dilationHeight, nameof(dilationHeight)); Guard.Positive(dilationWidth, nameof(dilationWidth));
        Guard.Positive(groups, nameof(groups));
        if (inChannels % groups != 0 || outChannels % groups != 0)
            throw new ArgumentException($"groups ({groups}) must divide inChannels ({inChannels}) and outChannels ({outChannels}).", nameof(groups));
        int icPerGroup = inChannels / groups, ocPerGroup = outChannels / groups;
        int inPlane = inHeight * inWidth, outPlane = outHeight * outWidth, kernelSize = kernelHeight * kernelWidth;
        Guard.Length(x.Length, (long)batch * inChannels * inPlane, nameof(x));
        Guard.Length(wLength, (long)outChannels * icPerGroup * kernelSize, "w");
        if (!bias.IsEmpty) Guard.Length(bias.Length, outChannels, nameof(bias));
        Guard.Length(y.Length, (long)batch * outChannels * outPlane, nameof(y));
        if (y.Length == 0) return;

        // 1×1, stride 1, no padding, one group: a matrix product per image, y[b] = w · x[b].
        if (kernelSize == 1 && groups == 1 && strideHeight == 1 && strideWidth == 1 && padTop == 0 && padLeft == 0
            && outHeight == inHeight && outWidth == inWidth && filters.AsFloat.Length == wLength)
        {
            ReadOnlySpan<float> w = filters.AsFloat;
            for (int b = 0; b < batch; b++)
            {
                Span<float> yb = y.Slice(b * outChannels * outPlane, outChannels * outPlane);
                Gemm.Multiply(w, x.Slice(b * inChannels * inPlane, inChannels * inPlane), yb, outChannels, inChannels, outPlane);
                for (int oc = 0; oc < outChannels; oc++)
                {
                    Span<float> yp = yb.Slice(oc * outPlane, outPlane);
                    if (!bias.IsEmpty) TensorPrimitives.Add(yp, bias[oc], yp);
                    ApplyActivation(yp, activation);
                }
            }
            return;
        }

        // Quantized weights are widened into one stack buffer: a chunk of whole kernels (≥ 1) at a time when a kernel
        // fits, else the taps of one kernel a chunk at a time (large kernels: still no allocation). Float weights are
        // read in place.
        ReadOnlySpan<float> floatW = filters.AsFloat;
        bool isFloat = floatW.Length == wLength;
        int kernelsPerChunk = Math.Max(1, QuantizedConvChunk / kernelSize);
        int tapsPerPiece = isFloat ? kernelSize : Math.Min(kernelSize, QuantizedConvChunk);
        Span<float> chunk = isFloat ? default : stackalloc float[QuantizedConvChunk];
        for (int b = 0; b < batch; b++)
        for (int oc = 0; oc < outChannels; oc++)
        {
            int g = oc / ocPerGroup;
            Span<float> yp = y.Slice((b * outChannels + oc) * outPlane, outPlane);
            yp.Fill(bias.IsEmpty ? 0f : bias[oc]);
            scoped ReadOnlySpan<float> wc = default;
            for (int icg = 0; icg < icPerGroup; icg++)
            {
                int ic = g * icPerGroup + icg;
                ReadOnlySpan<float> xp = x.Slice((b * inChannels + ic) * inPlane, inPlane);
                int kernelStart = (oc * icPerGroup + icg) * kernelSize;
                for (int tap0 = 0; tap0 < kernelSize; tap0 += tapsPerPiece)
                {
                    int taps = Math.Min(tapsPerPiece, kernelSize - tap0);
                    scoped ReadOnlySpan<float> wk;
                    if (isFloat) wk = floatW.Slice(kernelStart, kernelSize);
                    else if (tapsPerPiece < kernelSize)
                    {
                        filters.Widen(kernelStart + tap0, taps, chunk);
                        wk = chunk.Slice(0, taps);
                    }
                    else
                    {
                        int inChunk = icg % kernelsPerChunk;
                        if (inChunk == 0)
                        {
                            int count = Math.Min(kernelsPerChunk, icPerGroup - icg) * kernelSize;
                            filters.Widen(kernelStart, count, chunk);
                            wc = chunk.Slice(0, count);
                        }
                        wk = wc.Slice(inChunk * kernelSize, kernelSize);
                    }
                    for (int t = 0; t < taps; t++)
                        AccumulateTap(xp, yp, wk[t], (tap0 + t) / kernelWidth, (tap0 + t) % kernelWidth, inHeight, inWidth, outHeight, outWidth,
                            strideHeight, strideWidth, padTop, padLeft, dilationHeight, dilationWidth);
                }
            }
            ApplyActivation(yp, activation);
        }
    }

    /// <summary>One filter tap <c>(kh, kw)</c> of weight <paramref name="wv"/>: <c>yp[oh, ow] += wv · xp[ih, iw]</c> over the output positions whose input is inside the image.</summary>
    private static void AccumulateTap(ReadOnlySpan<float> xp, Span<float> yp, float wv, int kh, int kw, int inHeight, int inWidth, int outHeight, int outWidth,
        int strideHeight, int strideWidth, int padTop, int padLeft, int dilationHeight, int dilationWidth)
    {
        int offW = kw * dilationWidth - padLeft;                 // iw = ow·strideWidth + offW
        int owStart = offW >= 0 ? 0 : (-offW + strideWidth - 1) / strideWidth;
        int lastIw = inWidth - 1 - offW;                         // ow·strideWidth ≤ lastIw
        int owEnd = lastIw < 0 ? 0 : Math.Min(outWidth, lastIw / strideWidth + 1);
        int count = owEnd - owStart;
        if (count <= 0) return;
        int offH = kh * dilationHeight - padTop;
        for (int oh = 0; oh < outHeight; oh++)
        {
            int ih = oh * strideHeight + offH;
            if ((uint)ih >= (uint)inHeight) continue;
            Span<float> yRow = yp.Slice(oh * outWidth + owStart, count);
            int iw0 = ih * inWidth + owStart * strideWidth + offW;
            if (strideWidth == 1)
            {
                ReadOnlySpan<float> xRow = xp.Slice(iw0, count);
                TensorPrimitives.MultiplyAdd(xRow, wv, yRow, yRow);
            }
            else
            {
                for (int t = 0, iw = iw0; t < yRow.Length; t++, iw += strideWidth) yRow[t] += wv * xp[iw];
            }
        }
    }

    /// <summary>
    /// Average pooling over <c>planes</c> = batch·channels planes. With <paramref name="countIncludePad"/> the divisor is
    /// always <c>kernelHeight·kernelWidth</c>; otherwise it is the number of positions inside the image.
    /// </summary>
    public static void AveragePool2d(ReadOnlySpan<float> x, Span<float> y, int planes, int inHeight, int inWidth, int outHeight, int outWidth,
        int kernelHeight, int kernelWidth, int strideHeight, int strideWidth, int padTop, int padLeft, bool countIncludePad) =>
        Pool2d(x, y, planes, inHeight, inWidth, outHeight, outWidth, kernelHeight, kernelWidth, strideHeight, strideWidth, padTop, padLeft,
            new AveragePool(countIncludePad ? kernelHeight * kernelWidth : 0));

    /// <summary>Max pooling over <c>planes</c> = batch·channels planes; padding never wins (a window entirely in padding gives float.MinValue).</summary>
    public static void MaxPool2d(ReadOnlySpan<float> x, Span<float> y, int planes, int inHeight, int inWidth, int outHeight, int outWidth,
        int kernelHeight, int kernelWidth, int strideHeight, int strideWidth, int padTop, int padLeft) =>
        Pool2d(x, y, planes, inHeight, inWidth, outHeight, outWidth, kernelHeight, kernelWidth, strideHeight, strideWidth, padTop, padLeft,
            new MaxPool());

    /// <summary>How a pooling window reduces the image values inside it (padding positions are never read).</summary>
    private interface IPoolOperator
    {
        float Seed { get; }
        float Accumulate(float acc, float value);
        /// <summary>The window's result from its accumulator and the number of image positions it covered.</summary>
        float Finish(float acc, int count);
    }

    private readonly struct AveragePool(int fixedDivisor) : IPoolOperator
    {
        public float Seed => 0f;
        public float Accumulate(float acc, float value) => acc + value;
        // fixedDivisor is kernelHeight·kernelWidth with countIncludePad, else 0: divide by the positions inside the image.
        public float Finish(float acc, int count)
        {
            int divisor = fixedDivisor != 0 ? fixedDivisor : count;
            return divisor == 0 ? 0f : acc / divisor;
        }
    }

    private readonly struct MaxPool : IPoolOperator
    {
        public float Seed => float.MinValue;
        public float Accumulate(float acc, float value) => value > acc || float.IsNaN(value) ? value : acc;
        public float Finish(float acc, int count) => acc;
    }

    private static void Pool2d<TPool>(ReadOnlySpan<float> x, Span<float> y, int planes, int inHeight, int inWidth, int outHeight, int outWidth,
        int kernelHeight, int kernelWidth, int strideHeight, int strideWidth, int padTop, int padLeft, TPool pool)
        where TPool : struct, IPoolOperator
    {
        CheckPool(x.Length, y.Length, planes, inHeight, inWidth, outHeight, outWidth, kernelHeight, kernelWidth, strideHeight, strideWidth, padTop, padLeft);
        int inPlane = inHeight * inWidth, outPlane = outHeight * outWidth;
        for (int p = 0; p < planes; p++)
        {
            ReadOnlySpan<float> xp = x.Slice(p * inPlane, inPlane);
            Span<float> yp = y.Slice(p * outPlane, outPlane);
            for (int oh = 0; oh < outHeight; oh++)
            {
                int h0 = oh * strideHeight - padTop;
                int hs = Math.Max(h0, 0), he = Math.Min(h0 + kernelHeight, inHeight);
                for (int ow = 0; ow < outWidth; ow++)
                {
                    int w0 = ow * strideWidth - padLeft;
                    int ws = Math.Max(w0, 0), we = Math.Min(w0 + kernelWidth, inWidth);
                    float acc = pool.Seed;
                    for (int ih = hs; ih < he; ih++)
                    {
                        ReadOnlySpan<float> row = xp.Slice(ih * inWidth, inWidth);
                        for (int iw = ws; iw < we; iw++) acc = pool.Accumulate(acc, row[iw]);
                    }
                    yp[oh * outWidth + ow] = pool.Finish(acc, Math.Max(he - hs, 0) * Math.Max(we - ws, 0));
                }
            }
        }
    }

    private static void CheckPool(int xLength, int yLength, int planes, int inHeight, int inWidth, int outHeight, int outWidth,
        int kernelHeight, int kernelWidth, int strideHeight, int strideWidth, int padTop, int padLeft)
    {
        Guard.NonNegative(planes, nameof(planes)); Guard.NonNegative(inHeight, nameof(inHeight)); Guard.NonNegative(inWidth, nameof(inWidth));
        Guard.NonNegative(outHeight, nameof(outHeight)); Guard.NonNegative(outWidth, nameof(outWidth));
        Guard.Positive(kernelHeight, nameof(kernelHeight)); Guard.Positive(kernelWidth, nameof(kernelWidth));
        Guard.Positive(strideHeight, nameof(strideHeight)); Guard.Positive(strideWidth, nameof(strideWidth));
        Guard.NonNegative(padTop, nameof(padTop)); Guard.NonNegative(padLeft, nameof(padLeft));
        Guard.Length(xLength, (long)planes * inHeight * inWidth, "x");
        Guard.Length(yLength, (long)planes * outHeight * outWidth, "y");
    }
}
