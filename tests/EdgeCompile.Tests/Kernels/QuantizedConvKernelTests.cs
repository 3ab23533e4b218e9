using System;
using EdgeCompile.Runtime;
using EdgeCompile.Tests.Shared;
using static EdgeCompile.Tests.RuntimeKernels.KernelAssert;

namespace EdgeCompile.Tests.RuntimeKernels;

/// <summary>
/// Conv2dInt8 / Conv2dHalf against Conv2d on the dequantized weights ((float)q·scale[oc], (float)h): bit for bit,
/// except Conv2d's 1×1 matrix-product path (float weights only), which the quantized kernels do not take: there
/// the comparison is against a double reference within float rounding. Conv2dInt4 against a double-precision
/// convolution on the dequantized weights (q·s with the blocks packed here, independently of the build's packing),
/// and bit for bit against Conv2d on the same weights.
/// </summary>
public class QuantizedConvKernelTests
{
    private static int OutSize(int input, int kernel, int stride, int pad, int dilation) => (input + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1;

    [Theory]
    // batch, inC, H, W, outC, kH, kW, stride, pad, dilation, groups, bias, activation
    [InlineData(1, 1, 5, 5, 1, 3, 3, 1, 0, 1, 1, true, Activation.None)]
    [InlineData(2, 3, 7, 9, 4, 3, 3, 1, 1, 1, 1, true, Activation.Relu)]
    [InlineData(1, 3, 9, 8, 5, 3, 3, 2, 1, 1, 1, false, Activation.None)]
    [InlineData(2, 6, 8, 7, 6, 3, 3, 1, 1, 1, 6, true, Activation.Silu)]       // depthwise
    [InlineData(1, 4, 9, 9, 8, 3, 3, 2, 1, 1, 2, true, Activation.None)]       // grouped, stride 2
    [InlineData(1, 2, 11, 10, 3, 3, 3, 1, 2, 2, 1, true, Activation.Sigmoid)]  // dilation 2
    [InlineData(1, 40, 6, 6, 3, 3, 3, 1, 1, 1, 1, true, Activation.Gelu)]      // 40 kernels of 9: several widened chunks
    [InlineData(1, 3, 4, 4, 2, 1, 1, 2, 0, 1, 1, false, Activation.None)]      // 1×1 stride 2 (general path)
    [InlineData(1, 2, 20, 20, 2, 17, 17, 1, 8, 1, 1, true, Activation.Tanh)]   // kernel larger than the stack chunk
    [InlineData(2, 8, 6, 5, 16, 1, 1, 1, 0, 1, 1, true, Activation.Relu)]      // 1×1 (Conv2d's matrix-product path)
    public void Int8AndHalfEqualConv2dOnDequantizedWeights(int batch, int inC, int h, int w, int outC, int kH, int kW, int stride, int pad, int dilation, int groups, bool withBias, Activation activation)
    {
        int oh = OutSize(h, kH, stride, pad, dilation), ow = OutSize(w, kW, stride, pad, dilation);
        int perChannel = inC / groups * kH * kW;
        float[] x = Random(batch * inC * h * w, inC * 100 + h);
        float[] real = Random(outC * perChannel, outC * 100 + kH, -1, 1);
        float[] bias = withBias ? Random(outC, 5) : Array.Empty<float>();
        // Per output channel symmetric INT8, and FP16.
        var q = new sbyte[real.Length];
        var scale = new float[outC];
        var deq8 = new float[real.Length];
        for (int oc = 0; oc < outC; oc++)
        {
            float max = 0;
            for (int i = 0; i < perChannel; i++) max = Math.Max(max, Math.Abs(real[oc * perChannel + i]));
            scale[oc] = max / 127f;
            for (int i = 0; i < perChannel; i++)
            {
                int j = oc * perChannel + i;
                q[j] = (sbyte)Math.Clamp(Math.Round(real[j] / scale[oc]), -127, 127);
                deq8[j] = (float)q[j] * scale[oc];
            }
        }
        var half = Array.ConvertAll(real, v => (Half)v);
        var deq16 = Array.ConvertAll(half, v => (float)v);

        int n = batch * outC * oh * ow;
        var (y8, y16, e8, e16) = (new float[n], new float[n], new float[n], new float[n]);
        Kernels.Conv2dInt8(x, q, scale, bias, y8, batch, inC, h, w, outC, oh, ow, kH, kW, stride, stride, pad, pad, dilation, dilation, groups, activation);
        Kernels.Conv2dHalf(x, half, bias, y16, batch, inC, h, w, outC, oh, ow, kH, kW, stride, stride, pad, pad, dilation, dilation, groups, activation);
        // The same INT8 values with the scales as Half: exactly Conv2dInt8 with the float scales (float)(Half)s.
        var halfScale = Array.ConvertAll(scale, s => (Half)s);
        var (y8h, y8f) = (new float[n], new float[n]);
        Kernels.Conv2dInt8(x, q, halfScale, bias, y8h, batch, inC, h, w, outC, oh, ow, kH, kW, stride, stride, pad, pad, dilation, dilation, groups, activation);
        Kernels.Conv2dInt8(x, q, Array.ConvertAll(halfScale, s => (float)s), bias, y8f, batch, inC, h, w, outC, oh, ow, kH, kW, stride, stride, pad, pad, dilation, dilation, groups, activation);
        Assert.Equal(y8f, y8h);
        bool gemmPath = kH * kW == 1 && groups == 1 && stride == 1 && pad == 0;
        if (!gemmPath)
        {
            Kernels.Conv2d(x, deq8, bias, e8, batch, inC, h, w, outC, oh, ow, kH, kW, stride, stride, pad, pad, dilation, dilation, groups, activation);
            Kernels.Conv2d(x, deq16, bias, e16, batch, inC, h, w, outC, oh, ow, kH, kW, stride, stride, pad, pad, dilation, dilation, groups, activation);
            Assert.Equal(e8, y8);
            Assert.Equal(e16, y16);
        }
        else
        {
            AssertNear(DoubleConv(x, deq8, bias, batch, inC, h, w, outC, oh, ow, kH, kW, stride, pad, dilation, groups, activation), y8);
            AssertNear(DoubleConv(x, deq16, bias, batch, inC, h, w, outC, oh, ow, kH, kW, stride, pad, dilation, groups, activation), y16);
        }
    }

    [Theory]
    // batch, inC, H, W, outC, kH, kW, stride, pad, dilation, groups, bias, activation, block
    [InlineData(1, 1, 5, 5, 1, 3, 3, 1, 0, 1, 1, true, Activation.None, 32)]     // one short block per filter (9 of 32)
    [InlineData(2, 5, 7, 9, 3, 3, 3, 1, 1, 1, 1, true, Activation.Relu, 32)]     // R = 45: a full and a ragged block
    [InlineData(1, 3, 9, 8, 5, 3, 3, 2, 1, 1, 1, false, Activation.None, 32)]    // stride 2, odd channels
    [InlineData(2, 6, 8, 7, 6, 3, 3, 1, 1, 1, 6, true, Activation.Relu, 32)]     // depthwise
    [InlineData(1, 8, 9, 9, 4, 3, 3, 2, 1, 1, 2, true, Activation.None, 32)]     // grouped, stride 2: R = 36
    [InlineData(1, 2, 11, 10, 3, 3, 3, 1, 2, 2, 1, true, Activation.Relu, 32)]   // dilation 2
    [InlineData(1, 40, 6, 6, 3, 3, 3, 1, 1, 1, 1, true, Activation.None, 32)]    // several widened chunks, blocks across kernels
    [InlineData(1, 7, 6, 6, 5, 3, 3, 1, 1, 1, 1, true, Activation.None, 5)]      // block 5: blocks straddle kernels and chunk edges
    [InlineData(2, 8, 6, 5, 16, 1, 1, 1, 0, 1, 1, true, Activation.Relu, 32)]    // 1×1 (no GEMM path for quantized weights)
    [InlineData(1, 2, 20, 20, 3, 17, 17, 1, 8, 1, 1, true, Activation.None, 32)] // 17×17: a kernel larger than the stack chunk
    public void Int4EqualsDoubleConvOnDequantizedWeights(int batch, int inC, int h, int w, int outC, int kH, int kW, int stride, int pad, int dilation,
        int groups, bool withBias, Activation activation, int block)
    {
        int oh = OutSize(h, kH, stride, pad, dilation), ow = OutSize(w, kW, stride, pad, dilation);
        int perChannel = inC / groups * kH * kW;
        float[] x = Random(batch * inC * h * w, inC * 100 + h + 7);
        float[] real = Random(outC * perChannel, outC * 100 + kH + 7, -1, 1);
        float[] bias = withBias ? Random(outC, 9) : Array.Empty<float>();
        var (packed, scales, dequantized) = Int4Blocks(real, outC, perChannel, block);

        int n = batch * outC * oh * ow;
        var (y, e) = (new float[n], new float[n]);
        Kernels.Conv2dInt4(x, packed, scales, bias, y, batch, inC, h, w, outC, oh, ow, kH, kW, stride, stride, pad, pad, dilation, dilation, groups, block, activation);
        // Float sums of many taps round more: the bound grows with the taps per output (2e-6 each, 1.2e-3 at 17×17×2).
        AssertNear(DoubleConv(x, dequantized, bias, batch, inC, h, w, outC, oh, ow, kH, kW, stride, pad, dilation, groups, activation), y, 2e-6 * perChannel);
        bool gemmPath = kH * kW == 1 && groups == 1 && stride == 1 && pad == 0;
        if (!gemmPath)
        {
            Kernels.Conv2d(x, dequantized, bias, e, batch, inC, h, w, outC, oh, ow, kH, kW, stride, stride, pad, pad, dilation, dilation, groups, activation);
            Assert.Equal(e, y);
        }
    }

    /// <summary>
    /// Symmetric INT4 in blocks of <paramref name="block"/> along each output channel's filter (Half scales, max/7,
    /// round half to even, clamp to [-8,7]), packed two per byte low nibble first; and the dequantized weights q·s.
    /// </summary>
    private static (byte[] Packed, Half[] Scales, float[] Dequantized) Int4Blocks(float[] real, int outC, int perChannel, int block)
    {
        int blocks = (perChannel + block - 1) / block;
        var packed = new byte[(real.Length + 1) / 2];
        var scales = new Half[outC * blocks];
        var dequantized = new float[real.Length];
        for (int oc = 0; oc < outC; oc++)
            for (int b = 0; b < blocks; b++)
            {
                int first = oc * perChannel + b * block, end = oc * perChannel + Math.Min(perChannel, (b + 1) * block);
                float max = 0;
                for (int i = first; i < end; i++) max = Math.Max(max, Math.Abs(real[i]));
                Half s = max == 0 ? (Half)1 : (Half)(max / 7);
                scales[oc * blocks + b] = s;
                for (int i = first; i < end; i++)
                {
                    int q = (int)Math.Clamp(Math.Round(real[i] / (float)s, MidpointRounding.ToEven), -8, 7);
                    packed[i / 2] |= (byte)((q & 0xF) << (i % 2 * 4));
                    dequantized[i] = q * (float)s;
                }
            }
        return (packed, scales, dequantized);
    }

    /// <summary>Issue 4: no quantized convolution allocates, including a 17×17 kernel (289 taps, more than the 256-float stack chunk).</summary>
    [Fact]
    public void QuantizedConvolutionsAllocateNothingEvenWithA17x17Kernel()
    {
        const int inC = 2, size = 20, outC = 2, k = 17, pad = 8, perChannel = inC * k * k;
        float[] x = Random(inC * size * size, 3), real = Random(outC * perChannel, 4, -1, 1), bias = Random(outC, 5), y = new float[outC * size * size];
        var q8 = Array.ConvertAll(real, v => (sbyte)Math.Round(v * 127));
        var scale = new[] { 1f / 127, 1f / 127 };
        var half = Array.ConvertAll(real, v => (Half)v);
        var (packed, scales, _) = Int4Blocks(real, outC, perChannel, 32);
        Assert.Equal(0, SteadyStateAllocations.Bytes(() =>
            Kernels.Conv2dInt8(x, q8, scale, bias, y, 1, inC, size, size, outC, size, size, k, k, 1, 1, pad, pad, 1, 1, 1, Activation.None), calls: 5));
        Assert.Equal(0, SteadyStateAllocations.Bytes(() =>
            Kernels.Conv2dHalf(x, half, bias, y, 1, inC, size, size, outC, size, size, k, k, 1, 1, pad, pad, 1, 1, 1, Activation.None), calls: 5));
        Assert.Equal(0, SteadyStateAllocations.Bytes(() =>
            Kernels.Conv2dInt4(x, packed, scales, bias, y, 1, inC, size, size, outC, size, size, k, k, 1, 1, pad, pad, 1, 1, 1, 32, Activation.None), calls: 5));
    }

    [Fact]
    public void SpanLengthsAreChecked()
    {
        var x = new float[9]; var y = new float[9];
        Assert.ThrowsAny<ArgumentException>(() => Kernels.Conv2dInt8(x, new sbyte[9], new float[2], default, y, 1, 1, 3, 3, 1, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, Activation.None));
        Assert.ThrowsAny<ArgumentException>(() => Kernels.Conv2dInt8(x, new sbyte[8], new float[1], default, y, 1, 1, 3, 3, 1, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, Activation.None));
        Assert.ThrowsAny<ArgumentException>(() => Kernels.Conv2dHalf(x, new Half[10], default, y, 1, 1, 3, 3, 1, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, Activation.None));
        // INT4: 9 nibbles need 5 bytes and one scale per block of 32.
        Assert.ThrowsAny<ArgumentException>(() => Kernels.Conv2dInt4(x, new byte[4], new Half[1], default, y, 1, 1, 3, 3, 1, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 32, Activation.None));
        Assert.ThrowsAny<ArgumentException>(() => Kernels.Conv2dInt4(x, new byte[5], new Half[2], default, y, 1, 1, 3, 3, 1, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 32, Activation.None));
        Assert.ThrowsAny<ArgumentException>(() => Kernels.Conv2dInt4(x, new byte[5], new Half[1], default, y, 1, 1, 3, 3, 1, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, Activation.None));
    }

    private static void AssertNear(double[] expected, float[] actual, double tolerance = 1e-5)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * (1 + Math.Abs(expected[i])), $"[{i}] {actual[i]} vs {expected[i]}");
    }

    private static double[] DoubleConv(float[] x, float[] wt, float[] bias, int batch, int inC, int h, int w, int outC, int oh, int ow,
        int kH, int kW, int stride, int pad, int dilation, int groups, Activation activation)
    {
        int icg = inC / groups, ocg = outC / groups;
        var r = new double[batch * outC * oh * ow];
        for (int b = 0; b < batch; b++) for (int oc = 0; oc < outC; oc++) for (int y0 = 0; y0 < oh; y0++) for (int x0 = 0; x0 < ow; x0++)
        {
            double s = bias.Length > 0 ? bias[oc] : 0;
            int g = oc / ocg;
            for (int c = 0; c < icg; c++) for (int i = 0; i < kH; i++) for (int j = 0; j < kW; j++)
            {
                int ih = y0 * stride - pad + i * dilation, iw = x0 * stride - pad + j * dilation;
                if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
                s += (double)x[((b * inC + g * icg + c) * h + ih) * w + iw] * wt[((oc * icg + c) * kH + i) * kW + j];
            }
            r[((b * outC + oc) * oh + y0) * ow + x0] = activation switch
            {
                Activation.None => s,
                Activation.Relu => Math.Max(s, 0),
                _ => throw new NotSupportedException(),
            };
        }
        return r;
    }
}
