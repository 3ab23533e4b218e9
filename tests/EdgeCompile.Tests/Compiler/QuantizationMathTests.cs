using System;
using System.Linq;
using EdgeCompile.Compiler;
using EdgeCompile.Compiler.Quantization;

namespace EdgeCompile.Tests.Compiler;

/// <summary>
/// The quantizer math of docs/quantization.md and the kernel layouts, against values worked out by hand (the
/// comments show the arithmetic), and the metadata spellings the build accepts.
/// </summary>
public sealed class QuantizationMathTests
{
    [Fact]
    public void Int8_per_column_scales_by_the_column_maximum_and_rounds_to_nearest()
    {
        // W [3,3] row-major; column 0 = (1, 3, -4), column 1 = (-0.5, 0.1, 0), column 2 all zero.
        double[] w = { 1, -0.5, 0, 3, 0.1, 0, -4, 0, 0 };
        var q = Quantizer.Int8PerColumn(w, 3, 3);
        // s0 = 4/127; 1/s0 = 31.75 → 32, 3/s0 = 95.25 → 95, -4/s0 = -127.
        // s1 = 0.5/127; -0.5/s1 = -127, 0.1/s1 = 25.4 → 25.  A zero column gets s = 1 and zeros.
        Assert.Equal(new float[] { 4f / 127f, 0.5f / 127f, 1f }, q.Scales);
        Assert.Equal(new sbyte[] { 32, -127, 0, 95, 25, 0, -127, 0, 0 }, q.Values);
    }

    [Fact]
    public void Int8_per_row_scales_by_the_row_maximum()
    {
        double[] t = { 0.5, -0.3, 2, 8 };   // rows (0.5, -0.3), (2, 8)
        var q = Quantizer.Int8PerRow(t, 2, 2);
        // row 0: s = 0.5/127, -0.3/s = -76.2 → -76; row 1: s = 8/127, 2/s = 31.75 → 32.
        Assert.Equal(new float[] { 0.5f / 127f, 8f / 127f }, q.Scales);
        Assert.Equal(new sbyte[] { 127, -76, 32, 127 }, q.Values);
    }

    [Fact]
    public void Int4_blocks_of_32_along_k_have_half_scales_and_a_short_last_block()
    {
        // K = 40, N = 1: block 0 = k 0..31, block 1 = k 32..39 (8 values).
        var w = new double[40];
        w[0] = 1;       // block 0 maximum: s = (Half)(1/7) = 0.142822265625 (1.142857·2⁻³, mantissa 146/1024)
        w[1] = -0.5;    // -0.5 / 0.142822265625 = -3.5008 → -4
        w[2] = 0.2;     // 1.40034 → 1
        w[32] = 14;     // block 1 maximum: s = 2 exactly
        w[33] = 5;      // 2.5 → 2 (tie to even)
        w[34] = -7;     // -3.5 → -4 (tie to even)
        w[35] = -14;    // -7
        var q = Quantizer.Int4PerColumnBlocks(w, 40, 1);
        Assert.Equal(32, q.Block);
        Assert.Equal(new[] { (Half)0.142822265625, (Half)2 }, q.Scales);
        Assert.Equal(new sbyte[] { 7, -4, 1 }, q.Values[..3]);
        Assert.Equal(new sbyte[] { 7, 2, -4, -7 }, q.Values[32..36]);
        Assert.All(q.Values[3..32].Concat(q.Values[36..]), v => Assert.Equal(0, v));
    }

    [Fact]
    public void Int4_embedding_rows_are_blocked_along_the_row()
    {
        // One row of 33 values: block 0 (d 0..31) max 7 → s 1; block 1 (d 32) = 0 → zero block, s 1.
        var t = new double[33];
        t[0] = 7; t[1] = 2.5; t[2] = -3.5;
        var q = Quantizer.Int4PerRowBlocks(t, 1, 33);
        Assert.Equal(new[] { (Half)1, (Half)1 }, q.Scales);
        Assert.Equal(new sbyte[] { 7, 2, -4 }, q.Values[..3]);   // ties to even
    }

    [Fact]
    public void Half_rounds_to_nearest_even_and_refuses_values_beyond_65504()
    {
        // 1 + 2⁻¹¹ lies halfway between 1 and 1 + 2⁻¹⁰: ties to the even mantissa, 1. 65504 is the largest half.
        var h = Quantizer.ToHalf(new[] { 1 + Math.Pow(2, -11), 1 + 3 * Math.Pow(2, -11), 65504, -65504 }, "layer");
        Assert.Equal(new[] { (Half)1, (Half)(1 + Math.Pow(2, -9)), (Half)65504, (Half)(-65504) }, h);
        var e = Assert.Throws<CompilerException>(() => Quantizer.ToHalf(new[] { 0.5, -65505.0 }, "/encoder/dense/MatMul"));
        Assert.Equal("EC3007", e.Code);
        Assert.Equal("/encoder/dense/MatMul", e.Node);
        Assert.Contains("-65505", e.Message);
        Assert.Contains("±65504", e.Message);
    }

    [Fact]
    public void Relative_rms_error_is_the_norm_of_the_difference_over_the_norm_of_the_weights()
    {
        // exact (3, 4): norm 5; approx (3, 4.5): difference norm 0.5 → 0.1.
        Assert.Equal(0.1, Quantizer.RelativeRmsError(new double[] { 3, 4 }, new[] { 3, 4.5 }), 12);
        Assert.Equal(0, Quantizer.RelativeRmsError(new double[] { 0, 0 }, new double[] { 0, 0 }));
    }

    [Fact]
    public void Int8_quad_panels_interleave_four_k_per_column()
    {
        // K = 5, N = 3, panel 16 (the packer takes the profiles' widths only): Kq = 8, one panel of 8·16 bytes; q[k,n] = 10k + n.
        var q = new sbyte[15];
        for (int k = 0; k < 5; k++) for (int n = 0; n < 3; n++) q[k * 3 + n] = (sbyte)(10 * k + n);
        var packed = KernelLayouts.Int8QuadPanels(q, 5, 3, 16);
        var expected = new long[128];
        // group 0 (k 0..3): four bytes per column, columns 0, 1, 2 side by side; columns 3..15 are padding
        new long[] { 0, 10, 20, 30, 1, 11, 21, 31, 2, 12, 22, 32 }.CopyTo(expected, 0);
        // group 1 (k 4, then the padding k 5..7) starts at 4·16 = 64
        new long[] { 40, 0, 0, 0, 41, 0, 0, 0, 42 }.CopyTo(expected, 64);
        Assert.Equal(expected, packed.Integer);
        Assert.Equal(new long[] { 0 + 10 + 20 + 30 + 40, 1 + 11 + 21 + 31 + 41, 2 + 12 + 22 + 32 + 42 }, KernelLayouts.ColumnSums(q, 5, 3).Integer);
    }

    [Fact]
    public void Int4_values_are_two_per_byte_low_nibble_first()
    {
        // 1 | -1 → 0xF1, 7 | -8 → 0x87, 3 alone → 0x03.
        Assert.Equal(new long[] { 0xF1, 0x87, 0x03 }, KernelLayouts.Int4Rows(new sbyte[] { 1, -1, 7, -8, 3 }, new[] { (Half)1 }, 1, 5, 32).Data.Integer);
    }

    [Fact]
    public void Int4_panels_follow_the_float_panel_order_and_scales_their_own_panels()
    {
        // K = 2, N = 3, panel 2: float-panel order is (p0: k0 c0, k0 c1, k1 c0, k1 c1), (p1: k0 c2, k0 pad, k1 c2, k1 pad).
        sbyte[] q = { 1, 2, 3, 4, 5, 6 };   // [[1,2,3],[4,5,6]]
        // elements 1,2,4,5, 3,0,6,0 → bytes 0x21, 0x54, 0x03, 0x06
        // one block, scales (1.5, 2.5, 3.5) → panel 0 (1.5, 2.5), panel 1 (3.5, 0)
        var (weights, scales) = KernelLayouts.Int4Panels(q, new[] { (Half)1.5, (Half)2.5, (Half)3.5 }, 2, 3, 2, 32);
        Assert.Equal(new long[] { 0x21, 0x54, 0x03, 0x06 }, weights.Integer);
        Assert.Equal(new[] { 1.5, 2.5, 3.5, 0 }, scales.Real);
    }

    [Theory]
    [InlineData("int8", QuantizeMode.Int8)]
    [InlineData(" FP16 ", QuantizeMode.Fp16)]
    [InlineData("Mixed", QuantizeMode.Mixed)]
    [InlineData("INT4", QuantizeMode.Int4)]
    [InlineData("none", QuantizeMode.None)]
    [InlineData("", QuantizeMode.None)]
    public void Quantize_accepts_the_mode_names_in_any_case(string text, QuantizeMode expected)
    {
        Assert.True(QuantizeOptions.TryParseMode(text, out var mode));
        Assert.Equal(expected, mode);
    }

    [Theory]
    [InlineData("fp32")]
    [InlineData("2")]
    [InlineData("Int8,Fp16")]
    [InlineData("int 8")]
    public void Quantize_refuses_anything_else(string text) => Assert.False(QuantizeOptions.TryParseMode(text, out _));

    [Theory]
    [InlineData("0.01", 0.01)]
    [InlineData("1e-3", 0.001)]
    [InlineData("", QuantizeOptions.DefaultMaxOutputError)]
    public void MaxOutputError_is_a_positive_number(string text, double expected)
    {
        Assert.True(QuantizeOptions.TryParseMaxOutputError(text, out var value));
        Assert.Equal(expected, value);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-0.1")]
    [InlineData("abc")]
    [InlineData("NaN")]
    [InlineData("Infinity")]
    [InlineData("1%")]
    public void MaxOutputError_refuses_zero_negative_and_non_numbers(string text) => Assert.False(QuantizeOptions.TryParseMaxOutputError(text, out _));

    [Theory]
    [InlineData("minmax", ActivationScaleMode.MinMax)]
    [InlineData("Percentile", ActivationScaleMode.Percentile)]
    [InlineData("", ActivationScaleMode.Dynamic)]
    public void ActivationScales_accepts_its_names(string text, ActivationScaleMode expected)
    {
        Assert.True(QuantizeOptions.TryParseActivationScales(text, out var mode));
        Assert.Equal(expected, mode);
        Assert.False(QuantizeOptions.TryParseActivationScales("static", out _));
    }
}
