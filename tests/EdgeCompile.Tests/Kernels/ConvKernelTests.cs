using System;
using EdgeCompile.Runtime;
using static EdgeCompile.Tests.RuntimeKernels.KernelAssert;

namespace EdgeCompile.Tests.RuntimeKernels;

public class ConvKernelTests
{
    private static int OutSize(int input, int kernel, int stride, int padBegin, int padEnd, int dilation)
        => (input + padBegin + padEnd - dilation * (kernel - 1) - 1) / stride + 1;

    [Theory]
    // batch, inC, H, W, outC, kH, kW, stride, pad, dilation, groups, bias, activation
    [InlineData(1, 1, 5, 5, 1, 3, 3, 1, 0, 1, 1, true, Activation.None)]
    [InlineData(2, 3, 7, 9, 4, 3, 3, 1, 1, 1, 1, true, Activation.Relu)]
    [InlineData(1, 3, 9, 8, 5, 3, 3, 2, 1, 1, 1, false, Activation.None)]        // stride 2, pad 1
    [InlineData(2, 6, 8, 7, 6, 3, 3, 1, 1, 1, 6, true, Activation.Silu)]         // depthwise
    [InlineData(1, 4, 9, 9, 8, 3, 3, 2, 1, 1, 2, true, Activation.None)]         // grouped, stride 2
    [InlineData(1, 2, 11, 10, 3, 3, 3, 1, 2, 2, 1, true, Activation.Sigmoid)]    // dilation 2
    [InlineData(2, 8, 6, 5, 16, 1, 1, 1, 0, 1, 1, true, Activation.Gelu)]        // 1×1 (matrix product path)
    [InlineData(1, 3, 4, 4, 2, 1, 1, 2, 0, 1, 1, false, Activation.None)]        // 1×1 stride 2
    [InlineData(1, 2, 33, 31, 2, 5, 3, 1, 2, 1, 1, true, Activation.Tanh)]
    [InlineData(1, 1, 3, 3, 1, 5, 5, 1, 2, 1, 1, false, Activation.None)]        // kernel larger than image
    public void Conv2dMatchesReference(int batch, int inC, int h, int w, int outC, int kH, int kW, int stride, int pad, int dilation, int groups, bool withBias, Activation activation)
    {
        int oh = OutSize(h, kH, stride, pad, pad, dilation), ow = OutSize(w, kW, stride, pad, pad, dilation);
        int icg = inC / groups, ocg = outC / groups;
        float[] x = Random(batch * inC * h * w, inC * 100 + h);
        float[] wt = Random(outC * icg * kH * kW, outC * 100 + kH, -1, 1);
        float[] bias = withBias ? Random(outC, 5) : Array.Empty<float>();
        var expected = new double[batch * outC * oh * ow];
        for (int b = 0; b < batch; b++) for (int oc = 0; oc < outC; oc++) for (int y0 = 0; y0 < oh; y0++) for (int x0 = 0; x0 < ow; x0++)
        {
            double s = withBias ? bias[oc] : 0;
            int g = oc / ocg;
            for (int c = 0; c < icg; c++) for (int i = 0; i < kH; i++) for (int j = 0; j < kW; j++)
            {
                int ih = y0 * stride - pad + i * dilation, iw = x0 * stride - pad + j * dilation;
                if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
                s += (double)x[((b * inC + g * icg + c) * h + ih) * w + iw] * wt[((oc * icg + c) * kH + i) * kW + j];
            }
            expected[((b * outC + oc) * oh + y0) * ow + x0] = activation switch
            {
                Activation.None => s,
                Activation.Relu => Math.Max(0, s),
                Activation.Silu => s / (1 + Math.Exp(-s)),
                Activation.Sigmoid => 1 / (1 + Math.Exp(-s)),
                Activation.Tanh => Math.Tanh(s),
                Activation.Gelu => 0.5 * s * (1 + Erf(s / Math.Sqrt(2))),
                _ => throw new ArgumentOutOfRangeException(nameof(activation)),
            };
        }
        var y = new float[expected.Length];
        Kernels.Conv2d(x, wt, bias, y, batch: batch, inChannels: inC, inHeight: h, inWidth: w, outChannels: outC, outHeight: oh, outWidth: ow,
            kernelHeight: kH, kernelWidth: kW, strideHeight: stride, strideWidth: stride, padTop: pad, padLeft: pad,
            dilationHeight: dilation, dilationWidth: dilation, groups: groups, activation: activation);
        Close(expected, y, atol: 1e-5, rtol: 1e-5, what: "Conv2d");
    }

    [Fact]
    public void Conv2dAsymmetricStridesAndValidation()
    {
        // stride (1,2), pads top 0 / left 1, bottom/right implied.
        int h = 6, w = 7, kH = 2, kW = 3, oh = 5, ow = 4;
        float[] x = Random(h * w, 1), wt = Random(kH * kW, 2);
        var y = new float[oh * ow];
        Kernels.Conv2d(x, wt, default, y, 1, 1, h, w, 1, oh, ow, kH, kW, 1, 2, 0, 1, 1, 1, 1, Activation.None);
        var expected = new double[oh * ow];
        for (int a = 0; a < oh; a++) for (int b = 0; b < ow; b++)
        {
            double s = 0;
            for (int i = 0; i < kH; i++) for (int j = 0; j < kW; j++)
            {
                int ih = a + i, iw = b * 2 - 1 + j;
                if (ih < h && iw >= 0 && iw < w) s += (double)x[ih * w + iw] * wt[i * kW + j];
            }
            expected[a * ow + b] = s;
        }
        Close(expected, y, atol: 1e-6, rtol: 1e-6, what: "Conv2d asymmetric");
        Assert.Throws<ArgumentException>(() => Kernels.Conv2d(x, wt, default, y, 1, 1, h, w, 1, oh, ow, kH, kW, 1, 2, 0, 1, 1, 1, 2, Activation.None));
        Assert.Throws<ArgumentException>(() => Kernels.Conv2d(x, wt, new float[2], y, 1, 1, h, w, 1, oh, ow, kH, kW, 1, 2, 0, 1, 1, 1, 1, Activation.None));
        Assert.Throws<ArgumentException>(() => Kernels.Conv2d(x, wt, default, new float[oh * ow + 1], 1, 1, h, w, 1, oh, ow, kH, kW, 1, 2, 0, 1, 1, 1, 1, Activation.None));
    }

    [Theory]
    // planes, H, W, k, stride, pad
    [InlineData(1, 4, 4, 2, 2, 0)]
    [InlineData(3, 7, 9, 3, 2, 1)]
    [InlineData(2, 8, 8, 3, 1, 1)]
    [InlineData(2, 5, 6, 2, 1, 1)]
    [InlineData(1, 9, 9, 5, 3, 2)]
    public void PoolsMatchReference(int planes, int h, int w, int k, int stride, int pad)
    {
        int oh = OutSize(h, k, stride, pad, pad, 1), ow = OutSize(w, k, stride, pad, pad, 1);
        float[] x = Random(planes * h * w, planes + h * w);
        var avgIncl = new double[planes * oh * ow];
        var avgExcl = new double[planes * oh * ow];
        var max = new double[planes * oh * ow];
        for (int p = 0; p < planes; p++) for (int a = 0; a < oh; a++) for (int b = 0; b < ow; b++)
        {
            double s = 0, m = double.NegativeInfinity;
            int count = 0;
            for (int i = 0; i < k; i++) for (int j = 0; j < k; j++)
            {
                int ih = a * stride - pad + i, iw = b * stride - pad + j;
                if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
                float v = x[(p * h + ih) * w + iw];
                s += v; m = Math.Max(m, v); count++;
            }
            int t = (p * oh + a) * ow + b;
            avgIncl[t] = s / (k * k);
            avgExcl[t] = s / count;
            max[t] = m;
        }
        var y = new float[planes * oh * ow];
        Kernels.AveragePool2d(x, y, planes: planes, inHeight: h, inWidth: w, outHeight: oh, outWidth: ow, kernelHeight: k, kernelWidth: k,
            strideHeight: stride, strideWidth: stride, padTop: pad, padLeft: pad, countIncludePad: true);
        Close(avgIncl, y, atol: 1e-6, rtol: 1e-6, what: "AveragePool count_include_pad");
        Kernels.AveragePool2d(x, y, planes, h, w, oh, ow, k, k, stride, stride, pad, pad, countIncludePad: false);
        Close(avgExcl, y, atol: 1e-6, rtol: 1e-6, what: "AveragePool");
        Kernels.MaxPool2d(x, y, planes: planes, inHeight: h, inWidth: w, outHeight: oh, outWidth: ow, kernelHeight: k, kernelWidth: k,
            strideHeight: stride, strideWidth: stride, padTop: pad, padLeft: pad);
        Close(max, y, atol: 0, rtol: 0, what: "MaxPool");
        Assert.Throws<ArgumentException>(() => Kernels.MaxPool2d(x, new float[y.Length + 1], planes, h, w, oh, ow, k, k, stride, stride, pad, pad));
    }
}
