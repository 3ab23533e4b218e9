using System;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace EdgeCompile.Runtime;

/// <summary>
/// The runtime kernels that generated model code calls. Every kernel works on spans, validates the
/// lengths it relies on once per call, allocates nothing and relies on span bounds.
/// Elementwise kernels accept <c>y</c> being exactly the same memory as an input (in place).
/// </summary>
public static partial class Kernels
{
    // ---------------------------------------------------------------- copy, fill, range

    /// <summary><c>y = x</c>; equal lengths.</summary>
    public static void Copy<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged
    {
        Guard.SameLength(x.Length, y.Length, nameof(x), nameof(y));
        x.CopyTo(y);
    }

    /// <summary>Every element of <paramref name="y"/> = <paramref name="value"/>.</summary>
    public static void Fill<T>(Span<T> y, T value) where T : unmanaged => y.Fill(value);

    /// <summary><c>y[i] = start + i·delta</c>.</summary>
    public static void Range(Span<float> y, float start, float delta) { for (int i = 0; i < y.Length; i++) y[i] = start + i * delta; }

    /// <summary><c>y[i] = start + i·delta</c>.</summary>
    public static void Range(Span<long> y, long start, long delta) { for (int i = 0; i < y.Length; i++) y[i] = unchecked(start + i * delta); }

    /// <summary><c>y[i] = start + i·delta</c>.</summary>
    public static void Range(Span<int> y, int start, int delta) { for (int i = 0; i < y.Length; i++) y[i] = unchecked(start + i * delta); }

    // ---------------------------------------------------------------- unary float

    /// <summary><c>max(0, x)</c>.</summary>
    public static void Relu(ReadOnlySpan<float> x, Span<float> y) => Loops.Unary(x, y, new ReluOperator());
    /// <summary>Logistic sigmoid.</summary>
    public static void Sigmoid(ReadOnlySpan<float> x, Span<float> y) => Loops.Unary(x, y, new SigmoidOperator());
    /// <summary>Hyperbolic tangent.</summary>
    public static void Tanh(ReadOnlySpan<float> x, Span<float> y) { Guard.SameLength(x.Length, y.Length, nameof(x), nameof(y)); TensorPrimitives.Tanh(x, y); }
    /// <summary>Error function (max abs error ≈ 1e-7).</summary>
    public static void Erf(ReadOnlySpan<float> x, Span<float> y) => Loops.Unary(x, y, new ErfOperator());
    /// <summary>Exact GELU <c>0.5x(1+erf(x/√2))</c>.</summary>
    public static void Gelu(ReadOnlySpan<float> x, Span<float> y) => Loops.Unary(x, y, new GeluOperator());
    /// <summary>GELU, tanh approximation <c>0.5x(1+tanh(√(2/π)(x+0.044715x³)))</c>.</summary>
    public static void GeluTanh(ReadOnlySpan<float> x, Span<float> y) => Loops.Unary(x, y, new GeluTanhOperator());
    /// <summary><c>x·sigmoid(x)</c>.</summary>
    public static void Silu(ReadOnlySpan<float> x, Span<float> y) => Loops.Unary(x, y, new SiluOperator());
    /// <summary>Square root.</summary>
    public static void Sqrt(ReadOnlySpan<float> x, Span<float> y) { Guard.SameLength(x.Length, y.Length, nameof(x), nameof(y)); TensorPrimitives.Sqrt(x, y); }
    /// <summary>e^x (<see cref="FastMath"/>: ≈1 ulp; 0 below −87.33 instead of a subnormal).</summary>
    public static void Exp(ReadOnlySpan<float> x, Span<float> y) => Loops.Unary(x, y, new ExpOperator());
    /// <summary>Natural logarithm.</summary>
    public static void Log(ReadOnlySpan<float> x, Span<float> y) { Guard.SameLength(x.Length, y.Length, nameof(x), nameof(y)); TensorPrimitives.Log(x, y); }
    /// <summary><c>-x</c>.</summary>
    public static void Neg(ReadOnlySpan<float> x, Span<float> y) { Guard.SameLength(x.Length, y.Length, nameof(x), nameof(y)); TensorPrimitives.Negate(x, y); }
    /// <summary><c>|x|</c>.</summary>
    public static void Abs(ReadOnlySpan<float> x, Span<float> y) { Guard.SameLength(x.Length, y.Length, nameof(x), nameof(y)); TensorPrimitives.Abs(x, y); }
    /// <summary><c>1/x</c>.</summary>
    public static void Reciprocal(ReadOnlySpan<float> x, Span<float> y) { Guard.SameLength(x.Length, y.Length, nameof(x), nameof(y)); TensorPrimitives.Reciprocal(x, y); }
    /// <summary>Round toward −∞.</summary>
    public static void Floor(ReadOnlySpan<float> x, Span<float> y) { Guard.SameLength(x.Length, y.Length, nameof(x), nameof(y)); TensorPrimitives.Floor(x, y); }
    /// <summary>Round toward +∞.</summary>
    public static void Ceil(ReadOnlySpan<float> x, Span<float> y) { Guard.SameLength(x.Length, y.Length, nameof(x), nameof(y)); TensorPrimitives.Ceiling(x, y); }
    /// <summary>Sine.</summary>
    public static void Sin(ReadOnlySpan<float> x, Span<float> y) { Guard.SameLength(x.Length, y.Length, nameof(x), nameof(y)); TensorPrimitives.Sin(x, y); }
    /// <summary>Cosine.</summary>
    public static void Cos(ReadOnlySpan<float> x, Span<float> y) { Guard.SameLength(x.Length, y.Length, nameof(x), nameof(y)); TensorPrimitives.Cos(x, y); }
    /// <summary><c>log(1+e^x)</c>, computed without overflow.</summary>
    public static void Softplus(ReadOnlySpan<float> x, Span<float> y) => Loops.Unary(x, y, new SoftplusOperator());
    /// <summary>−1, 0 or 1 (NaN stays NaN).</summary>
    public static void Sign(ReadOnlySpan<float> x, Span<float> y) => Loops.Unary(x, y, new SignOperator());
    /// <summary><c>x·max(0, min(1, x/6 + 1/2))</c>.</summary>
    public static void HardSwish(ReadOnlySpan<float> x, Span<float> y) => Loops.Unary(x, y, new HardSwishOperator());
    /// <summary><c>x ≥ 0 ? x : alpha·x</c>.</summary>
    public static void LeakyRelu(ReadOnlySpan<float> x, Span<float> y, float alpha) => Loops.Unary(x, y, new LeakyReluOperator(alpha));
    /// <summary><c>x ≥ 0 ? x : alpha·(e^x − 1)</c>.</summary>
    public static void Elu(ReadOnlySpan<float> x, Span<float> y, float alpha) => Loops.Unary(x, y, new EluOperator(alpha));
    /// <summary><c>max(0, min(1, alpha·x + beta))</c>.</summary>
    public static void HardSigmoid(ReadOnlySpan<float> x, Span<float> y, float alpha, float beta) => Loops.Unary(x, y, new HardSigmoidOperator(alpha, beta));
    /// <summary><c>min(max(x, min), max)</c>.</summary>
    public static void Clip(ReadOnlySpan<float> x, Span<float> y, float min, float max) => Loops.Unary(x, y, new ClipOperator(min, max));

    /// <summary>Applies a fused activation in place.</summary>
    internal static void ApplyActivation(Span<float> y, Activation activation)
    {
        switch (activation)
        {
            case Activation.None: break;
            case Activation.Relu: Loops.Unary(y, y, new ReluOperator()); break;
            case Activation.Gelu: Loops.Unary(y, y, new GeluOperator()); break;
            case Activation.GeluTanh: Loops.Unary(y, y, new GeluTanhOperator()); break;
            case Activation.Tanh: TensorPrimitives.Tanh(y, y); break;
            case Activation.Sigmoid: Loops.Unary(y, y, new SigmoidOperator()); break;
            case Activation.Silu: Loops.Unary(y, y, new SiluOperator()); break;
            default: throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation.");
        }
    }

    // ---------------------------------------------------------------- binary, same shape

    /// <summary><c>y = a + b</c>.</summary>
    public static void Add(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y) => Loops.Binary(a, b, y, new AddOperator<float>());
    /// <summary><c>y = a + b</c>.</summary>
    public static void Add(ReadOnlySpan<long> a, ReadOnlySpan<long> b, Span<long> y) => Loops.Binary(a, b, y, new AddOperator<long>());
    /// <summary><c>y = a + b</c>.</summary>
    public static void Add(ReadOnlySpan<int> a, ReadOnlySpan<int> b, Span<int> y) => Loops.Binary(a, b, y, new AddOperator<int>());
    /// <summary><c>y = a − b</c>.</summary>
    public static void Sub(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y) => Loops.Binary(a, b, y, new SubOperator<float>());
    /// <summary><c>y = a − b</c>.</summary>
    public static void Sub(ReadOnlySpan<long> a, ReadOnlySpan<long> b, Span<long> y) => Loops.Binary(a, b, y, new SubOperator<long>());
    /// <summary><c>y = a − b</c>.</summary>
    public static void Sub(ReadOnlySpan<int> a, ReadOnlySpan<int> b, Span<int> y) => Loops.Binary(a, b, y, new SubOperator<int>());
    /// <summary><c>y = a·b</c>.</summary>
    public static void Mul(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y) => Loops.Binary(a, b, y, new MulOperator<float>());
    /// <summary><c>y = a·b</c>.</summary>
    public static void Mul(ReadOnlySpan<long> a, ReadOnlySpan<long> b, Span<long> y) => Loops.Binary(a, b, y, new MulOperator<long>());
    /// <summary><c>y = a·b</c>.</summary>
    public static void Mul(ReadOnlySpan<int> a, ReadOnlySpan<int> b, Span<int> y) => Loops.Binary(a, b, y, new MulOperator<int>());
    /// <summary><c>y = a / b</c>.</summary>
    public static void Div(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y) => Loops.Binary(a, b, y, new DivOperator<float>());
    /// <summary><c>y = a / b</c>, truncating; division by zero throws <see cref="DivideByZeroException"/>.</summary>
    public static void Div(ReadOnlySpan<long> a, ReadOnlySpan<long> b, Span<long> y) => Loops.Binary(a, b, y, new DivOperator<long>());
    /// <summary><c>y = a / b</c>, truncating; division by zero throws <see cref="DivideByZeroException"/>.</summary>
    public static void Div(ReadOnlySpan<int> a, ReadOnlySpan<int> b, Span<int> y) => Loops.Binary(a, b, y, new DivOperator<int>());
    /// <summary><c>y = a^b</c>.</summary>
    public static void Pow(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y) => Loops.Binary(a, b, y, new PowOperator());
    /// <summary><c>y = max(a, b)</c> (NaN propagates for float).</summary>
    public static void Max(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y) => Loops.Binary(a, b, y, new MaxOperator<float>());
    /// <summary><c>y = max(a, b)</c>.</summary>
    public static void Max(ReadOnlySpan<long> a, ReadOnlySpan<long> b, Span<long> y) => Loops.Binary(a, b, y, new MaxOperator<long>());
    /// <summary><c>y = max(a, b)</c>.</summary>
    public static void Max(ReadOnlySpan<int> a, ReadOnlySpan<int> b, Span<int> y) => Loops.Binary(a, b, y, new MaxOperator<int>());
    /// <summary><c>y = min(a, b)</c> (NaN propagates for float).</summary>
    public static void Min(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y) => Loops.Binary(a, b, y, new MinOperator<float>());
    /// <summary><c>y = min(a, b)</c>.</summary>
    public static void Min(ReadOnlySpan<long> a, ReadOnlySpan<long> b, Span<long> y) => Loops.Binary(a, b, y, new MinOperator<long>());
    /// <summary><c>y = min(a, b)</c>.</summary>
    public static void Min(ReadOnlySpan<int> a, ReadOnlySpan<int> b, Span<int> y) => Loops.Binary(a, b, y, new MinOperator<int>());

    // ---------------------------------------------------------------- binary, broadcast

    private static void Broadcast<T, TOp>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y,
        int n0, int n1, int n2, int n3, int a0, int a1, int a2, int a3, int b0, int b1, int b2, int b3, TOp op)
        where T : unmanaged where TOp : struct, IBinaryOperator<T>
    {
        var s = Broadcast4.Create(a.Length, b.Length, y.Length, n0, n1, n2, n3, a0, a1, a2, a3, b0, b1, b2, b3);
        Loops.BinaryBroadcast(a, b, y, s, op);
    }

    /// <summary>Broadcast <c>a + b</c> into contiguous <c>y[n0,n1,n2,n3]</c>; a and b addressed by element strides (0 on broadcast axes).</summary>
    public static void AddBroadcast(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y, int n0, int n1, int n2, int n3, int a0, int a1, int a2, int a3, int b0, int b1, int b2, int b3) => Broadcast(a, b, y, n0, n1, n2, n3, a0, a1, a2, a3, b0, b1, b2, b3, new AddOperator<float>());
    /// <inheritdoc cref="AddBroadcast(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int, int, int, int, int, int, int, int, int, int, int, int)"/>
    public static void AddBroadcast(ReadOnlySpan<long> a, ReadOnlySpan<long> b, Span<long> y, int n0, int n1, int n2, int n3, int a0, int a1, int a2, int a3, int b0, int b1, int b2, int b3) => Broadcast(a, b, y, n0, n1, n2, n3, a0, a1, a2, a3, b0, b1, b2, b3, new AddOperator<long>());
    /// <inheritdoc cref="AddBroadcast(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int, int, int, int, int, int, int, int, int, int, int, int)"/>
    public static void AddBroadcast(ReadOnlySpan<int> a, ReadOnlySpan<int> b, Span<int> y, int n0, int n1, int n2, int n3, int a0, int a1, int a2, int a3, int b0, int b1, int b2, int b3) => Broadcast(a, b, y, n0, n1, n2, n3, a0, a1, a2, a3, b0, b1, b2, b3, new AddOperator<int>());
    /// <summary>Broadcast <c>a − b</c>.</summary>
    public static void SubBroadcast(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y, int n0, int n1, int n2, int n3, int a0, int a1, int a2, int a3, int b0, int b1, int b2, int b3) => Broadcast(a, b, y, n0, n1, n2, n3, a0, a1, a2, a3, b0, b1, b2, b3, new SubOperator<float>());
    /// <summary>Broadcast <c>a − b</c>.</summary>
    public static void SubBroadcast(ReadOnlySpan<long> a, ReadOnlySpan<long> b, Span<long> y, int n0, int n1, int n2, int n3, int a0, int a1, int a2, int a3, int b0, int b1, int b2, int b3) => Broadcast(a, b, y, n0, n1, n2, n3, a0, a1, a2, a3, b0, b1, b2, b3, new SubOperator<long>());
    /// <summary>Broadcast <c>a − b</c>.</summary>
    public static void SubBroadcast(ReadOnlySpan<int> a, ReadOnlySpan<int> b, Span<int> y, int n0, int n1, int n2, int n3, int a0, int a1, int a2, int a3, int b0, int b1, int b2, int b3) => Broadcast(a, b, y, n0, n1, n2, n3, a0, a1, a2, a3, b0, b1, b2, b3, new SubOperator<int>());
    /// <summary>Broadcast <c>a·b</c>.</summary>
    public static void MulBroadcast(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y, int n0, int n1, int n2, int n3, int a0, int a1, int a2, int a3, int b0, int b1, int b2, int b3) => Broadcast(a, b, y, n0, n1, n2, n3, a0, a1, a2, a3, b0, b1, b2, b3, new MulOperator<float>());
    /// <summary>Broadcast <c>a·b</c>.</summary>
    public static void MulBroadcast(ReadOnlySpan<long> a, ReadOnlySpan<long> b, Span<long> y, int n0, int n1, int n2, int n3, int a0, int a1, int a2, int a3, int b0, int b1, int b2, int b3) => Broadcast(a, b, y, n0, n1, n2, n3, a0, a1, a2, a3, b0, b1, b2, b3, new MulOperator<long>());
    /// <summary>Broadcast <c>a·b</c>.</summary>
    public static void MulBroadcast(ReadOnlySpan<int> a, ReadOnlySpan<int> b, Span<int> y, int n0, int n1, int n2, int n3, int a0, int a1, int a2, int a3, int b0, int b1, int b2, int b3) => Broadcast(a, b, y, n0, n1, n2, n3, a0, a1, a2, a3, b0, b1, b2, b3, new MulOperator<int>());
    /// <summary>Broadcast <c>a / b</c>.</summary>
    public static void DivBroadcast(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y, int n0, int n1, int n2, int n3, int a0, int a1, int a2, int a3, int b0, int b1, int b2, int b3) => Broadcast(a, b, y, n0, n1, n2, n3, a0, a1, a2, a3, b0, b1, b2, b3, new DivOperator<float>());
    /// <summary>Broadcast <c>a / b</c>, truncating.</summary>
    public static void DivBroadcast(ReadOnlySpan<long> a, ReadOnlySpan<long> b, Span<long> y, int n0, int n1, int n2, int n3, int a0, int a1, int a2, int a3, int b0, int b1, int b2, int b3) => Broadcast(a, b, y, n0, n1, n2, n3, a0, a1, a2, a3, b0, b1, b2, b3, new DivOperator<long>());
    /// <summary>Broadcast <c>a / b</c>, truncating.</summary>
    public static void DivBroadcast(ReadOnlySpan<int> a, ReadOnlySpan<int> b, Span<int> y, int n0, int n1, int n2, int n3, int a0, int a1, int a2, int a3, int b0, int b1, int b2, int b3) => Broadcast(a, b, y, n0, n1, n2, n3, a0, a1, a2, a3, b0, b1, b2, b3, new DivOperator<int>());
    /// <summary>Broadcast <c>a^b</c>.</summary>
    public static void PowBroadcast(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y, int n0, int n1, int n2, int n3, int a0, int a1, int a2, int a3, int b0, int b1, int b2, int b3) => Broadcast(a, b, y, n0, n1, n2, n3, a0, a1, a2, a3, b0, b1, b2, b3, new PowOperator());
    /// <summary>Broadcast <c>max(a, b)</c>.</summary>
    public static void MaxBroadcast(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y, int n0, int n1, int n2, int n3, int a0, int a1, int a2, int a3, int b0, int b1, int b2, int b3) => Broadcast(a, b, y, n0, n1, n2, n3, a0, a1, a2, a3, b0, b1, b2, b3, new MaxOperator<float>());
    /// <summary>Broadcast <c>max(a, b)</c>.</summary>
    public static void MaxBroadcast(ReadOnlySpan<long> a, ReadOnlySpan<long> b, Span<long> y, int n0, int n1, int n2, int n3, int a0, int a1, int a2, int a3, int b0, int b1, int b2, int b3) => Broadcast(a, b, y, n0, n1, n2, n3, a0, a1, a2, a3, b0, b1, b2, b3, new MaxOperator<long>());
    /// <summary>Broadcast <c>max(a, b)</c>.</summary>
    public static void MaxBroadcast(ReadOnlySpan<int> a, ReadOnlySpan<int> b, Span<int> y, int n0, int n1, int n2, int n3, int a0, int a1, int a2, int a3, int b0, int b1, int b2, int b3) => Broadcast(a, b, y, n0, n1, n2, n3, a0, a1, a2, a3, b0, b1, b2, b3, new MaxOperator<int>());
    /// <summary>Broadcast <c>min(a, b)</c>.</summary>
    public static void MinBroadcast(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y, int n0, int n1, int n2, int n3, int a0, int a1, int a2, int a3, int b0, int b1, int b2, int b3) => Broadcast(a, b, y, n0, n1, n2, n3, a0, a1, a2, a3, b0, b1, b2, b3, new MinOperator<float>());
    /// <summary>Broadcast <c>min(a, b)</c>.</summary>
    public static void MinBroadcast(ReadOnlySpan<long> a, ReadOnlySpan<long> b, Span<long> y, int n0, int n1, int n2, int n3, int a0, int a1, int a2, int a3, int b0, int b1, int b2, int b3) => Broadcast(a, b, y, n0, n1, n2, n3, a0, a1, a2, a3, b0, b1, b2, b3, new MinOperator<long>());
    /// <summary>Broadcast <c>min(a, b)</c>.</summary>
    public static void MinBroadcast(ReadOnlySpan<int> a, ReadOnlySpan<int> b, Span<int> y, int n0, int n1, int n2, int n3, int a0, int a1, int a2, int a3, int b0, int b1, int b2, int b3) => Broadcast(a, b, y, n0, n1, n2, n3, a0, a1, a2, a3, b0, b1, b2, b3, new MinOperator<int>());

    // ---------------------------------------------------------------- compare and logic

    private static void ScalarBroadcast<TA, TB, TY, TOp>(ReadOnlySpan<TA> a, ReadOnlySpan<TB> b, Span<TY> y,
        int n0, int n1, int n2, int n3, int a0, int a1, int a2, int a3, int b0, int b1, int b2, int b3, TOp op)
        where TOp : struct, IScalarOperator<TA, TB, TY>
    {
        var s = Broadcast4.Create(a.Length, b.Length, y.Length, n0, n1, n2, n3, a0, a1, a2, a3, b0, b1, b2, b3);
        Loops.ScalarBroadcast(a, b, y, s, op);
    }

    /// <summary><c>y = a == b</c>.</summary>
    public static void Equal(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<bool> y) => Loops.Scalar(a, b, y, new EqualOperator<float>());
    /// <summary><c>y = a == b</c>.</summary>
    public static void Equal(ReadOnlySpan<long> a, ReadOnlySpan<long> b, Span<bool> y) => Loops.Scalar(a, b, y, new EqualOperator<long>());
    /// <summary><c>y = a == b</c>.</summary>
    public static void Equal(ReadOnlySpan<int> a, ReadOnlySpan<int> b, Span<bool> y) => Loops.Scalar(a, b, y, new EqualOperator<int>());
    /// <summary><c>y = a &gt; b</c>.</summary>
    public static void Greater(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<bool> y) => Loops.Scalar(a, b, y, new GreaterOperator<float>());
    /// <summary><c>y = a &gt; b</c>.</summary>
    public static void Greater(ReadOnlySpan<long> a, ReadOnlySpan<long> b, Span<bool> y) => Loops.Scalar(a, b, y, new GreaterOperator<long>());
    /// <summary><c>y = a &gt; b</c>.</summary>
    public static void Greater(ReadOnlySpan<int> a, ReadOnlySpan<int> b, Span<bool> y) => Loops.Scalar(a, b, y, new GreaterOperator<int>());
    /// <summary><c>y = a &lt; b</c>.</summary>
    public static void Less(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<bool> y) => Loops.Scalar(a, b, y, new LessOperator<float>());
    /// <summary><c>y = a &lt; b</c>.</summary>
    public static void Less(ReadOnlySpan<long> a, ReadOnlySpan<long> b, Span<bool> y) => Loops.Scalar(a, b, y, new LessOperator<long>());
    /// <summary><c>y = a &lt; b</c>.</summary>
    public static void Less(ReadOnlySpan<int> a, ReadOnlySpan<int> b, Span<bool> y) => Loops.Scalar(a, b, y, new LessOperator<int>());

    /// <summary>Broadcast <c>a == b</c>.</summary>
    public static void EqualBroadcast(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<bool> y, int n0, int n1, int n2, int n3, int a0, int a1, int a2, int a3, int b0, int b1, int b2, int b3) => ScalarBroadcast(a, b, y, n0, n1, n2, n3, a0, a1, a2, a3, b0, b1, b2, b3, new EqualOperator<float>());
    /// <summary>Broadcast <c>a == b</c>.</summary>
    public static void EqualBroadcast(ReadOnlySpan<long> a, ReadOnlySpan<long> b, Span<bool> y, int n0, int n1, int n2, int n3, int a0, int a1, int a2, int a3, int b0, int b1, int b2, int b3) => ScalarBroadcast(a, b, y, n0, n1, n2, n3, a0, a1, a2, a3, b0, b1, b2, b3, new EqualOperator<long>());
    /// <summary>Broadcast <c>a == b</c>.</summary>
    public static void EqualBroadcast(ReadOnlySpan<int> a, ReadOnlySpan<int> b, Span<bool> y, int n0, int n1, int n2, int n3, int a0, int a1, int a2, int a3, int b0, int b1, int b2, int b3) => ScalarBroadcast(a, b, y, n0, n1, n2, n3, a0, a1, a2, a3, b0, b1, b2, b3, new EqualOperator<int>());
    /// <summary>Broadcast <c>a &gt; b</c>.</summary>
    public static void GreaterBroadcast(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<bool> y, int n0, int n1, int n2, int n3, int a0, int a1, int a2, int a3, int b0, int b1, int b2, int b3) => ScalarBroadcast(a, b, y, n0, n1, n2, n3, a0, a1, a2, a3, b0, b1, b2, b3, new GreaterOperator<float>());
    /// <summary>Broadcast <c>a &gt; b</c>.</summary>
    public static void GreaterBroadcast(ReadOnlySpan<long> a, ReadOnlySpan<long> b, Span<bool> y, int n0, int n1, int n2, int n3, int a0, int a1, int a2, int a3, int b0, int b1, int b2, int b3) => ScalarBroadcast(a, b, y, n0, n1, n2, n3, a0, a1, a2, a3, b0, b1, b2, b3, new GreaterOperator<long>());
    /// <summary>Broadcast <c>a &gt; b</c>.</summary>
    public static void GreaterBroadcast(ReadOnlySpan<int> a, ReadOnlySpan<int> b, Span<bool> y, int n0, int n1, int n2, int n3, int a0, int a1, int a2, int a3, int b0, int b1, int b2, int b3) => ScalarBroadcast(a, b, y, n0, n1, n2, n3, a0, a1, a2, a3, b0, b1, b2, b3, new GreaterOperator<int>());
    /// <summary>Broadcast <c>a &lt; b</c>.</summary>
    public static void LessBroadcast(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<bool> y, int n0, int n1, int n2, int n3, int a0, int a1, int a2, int a3, int b0, int b1, int b2, int b3) => ScalarBroadcast(a, b, y, n0, n1, n2, n3, a0, a1, a2, a3, b0, b1, b2, b3, new LessOperator<float>());
    /// <summary>Broadcast <c>a &lt; b</c>.</summary>
    public static void LessBroadcast(ReadOnlySpan<long> a, ReadOnlySpan<long> b, Span<bool> y, int n0, int n1, int n2, int n3, int a0, int a1, int a2, int a3, int b0, int b1, int b2, int b3) => ScalarBroadcast(a, b, y, n0, n1, n2, n3, a0, a1, a2, a3, b0, b1, b2, b3, new LessOperator<long>());
    /// <summary>Broadcast <c>a &lt; b</c>.</summary>
    public static void LessBroadcast(ReadOnlySpan<int> a, ReadOnlySpan<int> b, Span<bool> y, int n0, int n1, int n2, int n3, int a0, int a1, int a2, int a3, int b0, int b1, int b2, int b3) => ScalarBroadcast(a, b, y, n0, n1, n2, n3, a0, a1, a2, a3, b0, b1, b2, b3, new LessOperator<int>());

    /// <summary><c>y = a ∧ b</c>.</summary>
    public static void And(ReadOnlySpan<bool> a, ReadOnlySpan<bool> b, Span<bool> y) => Loops.Scalar(a, b, y, new AndOperator());
    /// <summary><c>y = a ∨ b</c>.</summary>
    public static void Or(ReadOnlySpan<bool> a, ReadOnlySpan<bool> b, Span<bool> y) => Loops.Scalar(a, b, y, new OrOperator());
    /// <summary>Broadcast <c>a ∧ b</c>.</summary>
    public static void AndBroadcast(ReadOnlySpan<bool> a, ReadOnlySpan<bool> b, Span<bool> y, int n0, int n1, int n2, int n3, int a0, int a1, int a2, int a3, int b0, int b1, int b2, int b3) => ScalarBroadcast(a, b, y, n0, n1, n2, n3, a0, a1, a2, a3, b0, b1, b2, b3, new AndOperator());
    /// <summary>Broadcast <c>a ∨ b</c>.</summary>
    public static void OrBroadcast(ReadOnlySpan<bool> a, ReadOnlySpan<bool> b, Span<bool> y, int n0, int n1, int n2, int n3, int a0, int a1, int a2, int a3, int b0, int b1, int b2, int b3) => ScalarBroadcast(a, b, y, n0, n1, n2, n3, a0, a1, a2, a3, b0, b1, b2, b3, new OrOperator());

    // ---------------------------------------------------------------- cast (ONNX semantics)
    /// <summary>ONNX Cast float → float.</summary>
    public static void Cast(ReadOnlySpan<float> x, Span<float> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast float → Half.</summary>
    public static void Cast(ReadOnlySpan<float> x, Span<Half> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast float → double.</summary>
    public static void Cast(ReadOnlySpan<float> x, Span<double> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast float → long.</summary>
    public static void Cast(ReadOnlySpan<float> x, Span<long> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast float → int.</summary>
    public static void Cast(ReadOnlySpan<float> x, Span<int> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast float → sbyte.</summary>
    public static void Cast(ReadOnlySpan<float> x, Span<sbyte> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast float → byte.</summary>
    public static void Cast(ReadOnlySpan<float> x, Span<byte> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast float → bool.</summary>
    public static void Cast(ReadOnlySpan<float> x, Span<bool> y) => CastToBool(x, y);
    /// <summary>ONNX Cast Half → float.</summary>
    public static void Cast(ReadOnlySpan<Half> x, Span<float> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast Half → Half.</summary>
    public static void Cast(ReadOnlySpan<Half> x, Span<Half> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast Half → double.</summary>
    public static void Cast(ReadOnlySpan<Half> x, Span<double> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast Half → long.</summary>
    public static void Cast(ReadOnlySpan<Half> x, Span<long> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast Half → int.</summary>
    public static void Cast(ReadOnlySpan<Half> x, Span<int> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast Half → sbyte.</summary>
    public static void Cast(ReadOnlySpan<Half> x, Span<sbyte> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast Half → byte.</summary>
    public static void Cast(ReadOnlySpan<Half> x, Span<byte> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast Half → bool.</summary>
    public static void Cast(ReadOnlySpan<Half> x, Span<bool> y) => CastToBool(x, y);
    /// <summary>ONNX Cast double → float.</summary>
    public static void Cast(ReadOnlySpan<double> x, Span<float> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast double → Half.</summary>
    public static void Cast(ReadOnlySpan<double> x, Span<Half> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast double → double.</summary>
    public static void Cast(ReadOnlySpan<double> x, Span<double> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast double → long.</summary>
    public static void Cast(ReadOnlySpan<double> x, Span<long> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast double → int.</summary>
    public static void Cast(ReadOnlySpan<double> x, Span<int> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast double → sbyte.</summary>
    public static void Cast(ReadOnlySpan<double> x, Span<sbyte> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast double → byte.</summary>
    public static void Cast(ReadOnlySpan<double> x, Span<byte> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast double → bool.</summary>
    public static void Cast(ReadOnlySpan<double> x, Span<bool> y) => CastToBool(x, y);
    /// <summary>ONNX Cast long → float.</summary>
    public static void Cast(ReadOnlySpan<long> x, Span<float> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast long → Half.</summary>
    public static void Cast(ReadOnlySpan<long> x, Span<Half> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast long → double.</summary>
    public static void Cast(ReadOnlySpan<long> x, Span<double> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast long → long.</summary>
    public static void Cast(ReadOnlySpan<long> x, Span<long> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast long → int.</summary>
    public static void Cast(ReadOnlySpan<long> x, Span<int> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast long → sbyte.</summary>
    public static void Cast(ReadOnlySpan<long> x, Span<sbyte> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast long → byte.</summary>
    public static void Cast(ReadOnlySpan<long> x, Span<byte> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast long → bool.</summary>
    public static void Cast(ReadOnlySpan<long> x, Span<bool> y) => CastToBool(x, y);
    /// <summary>ONNX Cast int → float.</summary>
    public static void Cast(ReadOnlySpan<int> x, Span<float> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast int → Half.</summary>
    public static void Cast(ReadOnlySpan<int> x, Span<Half> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast int → double.</summary>
    public static void Cast(ReadOnlySpan<int> x, Span<double> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast int → long.</summary>
    public static void Cast(ReadOnlySpan<int> x, Span<long> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast int → int.</summary>
    public static void Cast(ReadOnlySpan<int> x, Span<int> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast int → sbyte.</summary>
    public static void Cast(ReadOnlySpan<int> x, Span<sbyte> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast int → byte.</summary>
    public static void Cast(ReadOnlySpan<int> x, Span<byte> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast int → bool.</summary>
    public static void Cast(ReadOnlySpan<int> x, Span<bool> y) => CastToBool(x, y);
    /// <summary>ONNX Cast sbyte → float.</summary>
    public static void Cast(ReadOnlySpan<sbyte> x, Span<float> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast sbyte → Half.</summary>
    public static void Cast(ReadOnlySpan<sbyte> x, Span<Half> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast sbyte → double.</summary>
    public static void Cast(ReadOnlySpan<sbyte> x, Span<double> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast sbyte → long.</summary>
    public static void Cast(ReadOnlySpan<sbyte> x, Span<long> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast sbyte → int.</summary>
    public static void Cast(ReadOnlySpan<sbyte> x, Span<int> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast sbyte → sbyte.</summary>
    public static void Cast(ReadOnlySpan<sbyte> x, Span<sbyte> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast sbyte → byte.</summary>
    public static void Cast(ReadOnlySpan<sbyte> x, Span<byte> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast sbyte → bool.</summary>
    public static void Cast(ReadOnlySpan<sbyte> x, Span<bool> y) => CastToBool(x, y);
    /// <summary>ONNX Cast byte → float.</summary>
    public static void Cast(ReadOnlySpan<byte> x, Span<float> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast byte → Half.</summary>
    public static void Cast(ReadOnlySpan<byte> x, Span<Half> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast byte → double.</summary>
    public static void Cast(ReadOnlySpan<byte> x, Span<double> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast byte → long.</summary>
    public static void Cast(ReadOnlySpan<byte> x, Span<long> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast byte → int.</summary>
    public static void Cast(ReadOnlySpan<byte> x, Span<int> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast byte → sbyte.</summary>
    public static void Cast(ReadOnlySpan<byte> x, Span<sbyte> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast byte → byte.</summary>
    public static void Cast(ReadOnlySpan<byte> x, Span<byte> y) => CastNumbers(x, y);
    /// <summary>ONNX Cast byte → bool.</summary>
    public static void Cast(ReadOnlySpan<byte> x, Span<bool> y) => CastToBool(x, y);
    /// <summary>ONNX Cast bool → float.</summary>
    public static void Cast(ReadOnlySpan<bool> x, Span<float> y) => CastFromBool(x, y);
    /// <summary>ONNX Cast bool → Half.</summary>
    public static void Cast(ReadOnlySpan<bool> x, Span<Half> y) => CastFromBool(x, y);
    /// <summary>ONNX Cast bool → double.</summary>
    public static void Cast(ReadOnlySpan<bool> x, Span<double> y) => CastFromBool(x, y);
    /// <summary>ONNX Cast bool → long.</summary>
    public static void Cast(ReadOnlySpan<bool> x, Span<long> y) => CastFromBool(x, y);
    /// <summary>ONNX Cast bool → int.</summary>
    public static void Cast(ReadOnlySpan<bool> x, Span<int> y) => CastFromBool(x, y);
    /// <summary>ONNX Cast bool → sbyte.</summary>
    public static void Cast(ReadOnlySpan<bool> x, Span<sbyte> y) => CastFromBool(x, y);
    /// <summary>ONNX Cast bool → byte.</summary>
    public static void Cast(ReadOnlySpan<bool> x, Span<byte> y) => CastFromBool(x, y);
    /// <summary>ONNX Cast bool → bool.</summary>
    public static void Cast(ReadOnlySpan<bool> x, Span<bool> y) => Copy(x, y);

    /// <summary>Numeric conversion: float → integer truncates toward zero (saturating, never throws), integer narrowing wraps, float → Half rounds to nearest even.</summary>
    private static void CastNumbers<TFrom, TTo>(ReadOnlySpan<TFrom> x, Span<TTo> y)
        where TFrom : unmanaged, INumberBase<TFrom> where TTo : unmanaged, INumberBase<TTo>
    {
        Guard.SameLength(x.Length, y.Length, nameof(x), nameof(y));
        if (typeof(TFrom) == typeof(TTo)) { x.CopyTo(System.Runtime.InteropServices.MemoryMarshal.Cast<TTo, TFrom>(y)); return; }
        TensorPrimitives.ConvertTruncating(x, y);
    }

    private static void CastToBool<TFrom>(ReadOnlySpan<TFrom> x, Span<bool> y) where TFrom : unmanaged, INumberBase<TFrom>
    {
        Guard.SameLength(x.Length, y.Length, nameof(x), nameof(y));
        for (int i = 0; i < y.Length; i++) y[i] = !TFrom.IsZero(x[i]);   // NaN → true, ±0 → false
    }

    private static void CastFromBool<TTo>(ReadOnlySpan<bool> x, Span<TTo> y) where TTo : unmanaged, INumberBase<TTo>
    {
        Guard.SameLength(x.Length, y.Length, nameof(x), nameof(y));
        for (int i = 0; i < y.Length; i++) y[i] = x[i] ? TTo.One : TTo.Zero;
    }

    /// <summary><c>y = ¬x</c>.</summary>
    public static void Not(ReadOnlySpan<bool> x, Span<bool> y)
    {
        Guard.SameLength(x.Length, y.Length, nameof(x), nameof(y));
        for (int i = 0; i < y.Length; i++) y[i] = !x[i];
    }

    /// <summary>
    /// <c>z = c ? x : y</c> into contiguous <c>z[n0,n1,n2,n3]</c>; c, x, y addressed by element strides
    /// (0 on broadcast axes).
    /// </summary>
    public static void Where<T>(ReadOnlySpan<bool> c, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> z,
        int n0, int n1, int n2, int n3, int c0, int c1, int c2, int c3, int x0, int x1, int x2, int x3, int y0, int y1, int y2, int y3)
        where T : unmanaged
    {
        if ((n0 | n1 | n2 | n3) < 0) throw new ArgumentException($"Where extents must be non-negative: [{n0},{n1},{n2},{n3}].");
        if ((c0 | c1 | c2 | c3 | x0 | x1 | x2 | x3 | y0 | y1 | y2 | y3) < 0) throw new ArgumentException("Where strides must be non-negative.");
        Guard.Length(z.Length, (long)n0 * n1 * n2 * n3, nameof(z));
        if (z.Length == 0) return;
        Span<int> n = stackalloc int[4] { n0, n1, n2, n3 };
        Span<int> s = stackalloc int[4] { c0, c1, c2, c3 };
        Guard.StridedExtent(c.Length, n, s, nameof(c));
        s[0] = x0; s[1] = x1; s[2] = x2; s[3] = x3;
        Guard.StridedExtent(x.Length, n, s, nameof(x));
        s[0] = y0; s[1] = y1; s[2] = y2; s[3] = y3;
        Guard.StridedExtent(y.Length, n, s, nameof(y));

        int zi = 0;
        for (int i0 = 0; i0 < n0; i0++)
        for (int i1 = 0; i1 < n1; i1++)
        for (int i2 = 0; i2 < n2; i2++)
        {
            int ci = i0 * c0 + i1 * c1 + i2 * c2, xi = i0 * x0 + i1 * x1 + i2 * x2, yi = i0 * y0 + i1 * y1 + i2 * y2;
            Span<T> zRow = z.Slice(zi, n3);
            if (c3 == 1 && x3 == 1 && y3 == 1)
            {
                ReadOnlySpan<bool> cRow = c.Slice(ci, n3);
                ReadOnlySpan<T> xRow = x.Slice(xi, n3), yRow = y.Slice(yi, n3);
                for (int i3 = 0; i3 < zRow.Length; i3++) zRow[i3] = cRow[i3] ? xRow[i3] : yRow[i3];
            }
            else
            {
                for (int i3 = 0; i3 < zRow.Length; i3++, ci += c3, xi += x3, yi += y3) zRow[i3] = c[ci] ? x[xi] : y[yi];
            }
            zi += n3;
        }
    }
}

// ==================================================================== operator structs

internal readonly struct ReluOperator : IUnaryOperator
{
    public static bool Vectorizable => true;
    public float Invoke(float x) => MathF.Max(x, 0f);
    public Vector128<float> Invoke(Vector128<float> x) => Vector128.Max(x, Vector128<float>.Zero);
    public Vector256<float> Invoke(Vector256<float> x) => Vector256.Max(x, Vector256<float>.Zero);
    public Vector512<float> Invoke(Vector512<float> x) => Vector512.Max(x, Vector512<float>.Zero);
}

/// <summary>
/// erf in float, max abs error ≈ 1e-7 (≈1 ulp): |x| ≤ 0.927734375 uses an odd minimax polynomial,
/// above that <c>1 − exp(p(|x|))</c> with sign restored (after N. Juffa's erff).
/// </summary>
internal readonly struct ErfOperator : IUnaryOperator
{
    private const float Split = 0.927734375f;

    public static bool Vectorizable => true;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float a)
    {
        float t = MathF.Abs(a);
        if (t > Split)
        {
            t = MathF.Min(t, 4f);
            float s = t * t;
            float r = float.MultiplyAddEstimate(-1.72853470e-5f, t, 3.83197126e-4f);
            float u = float.MultiplyAddEstimate(-3.88396438e-3f, t, 2.42546219e-2f);
            r = float.MultiplyAddEstimate(r, s, u);
            r = float.MultiplyAddEstimate(r, t, -1.06777877e-1f);
            r = float.MultiplyAddEstimate(r, t, -6.34846687e-1f);
            r = float.MultiplyAddEstimate(r, t, -1.28717512e-1f);
            r = float.MultiplyAddEstimate(r, t, -t);
            r = 1f - FastMath.Exp(r);
            return MathF.CopySign(r, a);
        }
        else
        {
            float s = a * a;
            float r = -5.96761703e-4f;
            r = float.MultiplyAddEstimate(r, s, 4.99119423e-3f);
            r = float.MultiplyAddEstimate(r, s, -2.67681349e-2f);
            r = float.MultiplyAddEstimate(r, s, 1.12819925e-1f);
            r = float.MultiplyAddEstimate(r, s, -3.76125336e-1f);
            r = float.MultiplyAddEstimate(r, s, 1.28379166e-1f);
            return float.MultiplyAddEstimate(r, a, a);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector128<float> Invoke(Vector128<float> a)
    {
        Vector128<float> t = Vector128.Abs(a);
        Vector128<float> small = Vector128.LessThanOrEqual(t, Vector128.Create(Split));
        Vector128<float> r;
        if (Vector128.EqualsAll(small.AsInt32(), Vector128<int>.AllBitsSet)) r = Vector128<float>.Zero; // skip the exp branch
        else
        {
            Vector128<float> tc = Vector128.Min(t, Vector128.Create(4f));
            Vector128<float> s2 = tc * tc;
            Vector128<float> p = Fma128(Vector128.Create(-1.72853470e-5f), tc, Vector128.Create(3.83197126e-4f));
            Vector128<float> u = Fma128(Vector128.Create(-3.88396438e-3f), tc, Vector128.Create(2.42546219e-2f));
            p = Fma128(p, s2, u);
            p = Fma128(p, tc, Vector128.Create(-1.06777877e-1f));
            p = Fma128(p, tc, Vector128.Create(-6.34846687e-1f));
            p = Fma128(p, tc, Vector128.Create(-1.28717512e-1f));
            p = Fma128(p, tc, -tc);
            r = Vector128.CopySign(Vector128<float>.One - FastMath.Exp(p), a);
        }
        Vector128<float> s = a * a;
        Vector128<float> q = Vector128.Create(-5.96761703e-4f);
        q = Fma128(q, s, Vector128.Create(4.99119423e-3f));
        q = Fma128(q, s, Vector128.Create(-2.67681349e-2f));
        q = Fma128(q, s, Vector128.Create(1.12819925e-1f));
        q = Fma128(q, s, Vector128.Create(-3.76125336e-1f));
        q = Fma128(q, s, Vector128.Create(1.28379166e-1f));
        q = Fma128(q, a, a);
        return Vector128.ConditionalSelect(small, q, r);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> a)
    {
        Vector256<float> t = Vector256.Abs(a);
        Vector256<float> small = Vector256.LessThanOrEqual(t, Vector256.Create(Split));
        Vector256<float> r;
        if (Vector256.EqualsAll(small.AsInt32(), Vector256<int>.AllBitsSet)) r = Vector256<float>.Zero;
        else
        {
            Vector256<float> tc = Vector256.Min(t, Vector256.Create(4f));
            Vector256<float> s2 = tc * tc;
            Vector256<float> p = Fma256(Vector256.Create(-1.72853470e-5f), tc, Vector256.Create(3.83197126e-4f));
            Vector256<float> u = Fma256(Vector256.Create(-3.88396438e-3f), tc, Vector256.Create(2.42546219e-2f));
            p = Fma256(p, s2, u);
            p = Fma256(p, tc, Vector256.Create(-1.06777877e-1f));
            p = Fma256(p, tc, Vector256.Create(-6.34846687e-1f));
            p = Fma256(p, tc, Vector256.Create(-1.28717512e-1f));
            p = Fma256(p, tc, -tc);
            r = Vector256.CopySign(Vector256<float>.One - FastMath.Exp(p), a);
        }
        Vector256<float> s = a * a;
        Vector256<float> q = Vector256.Create(-5.96761703e-4f);
        q = Fma256(q, s, Vector256.Create(4.99119423e-3f));
        q = Fma256(q, s, Vector256.Create(-2.67681349e-2f));
        q = Fma256(q, s, Vector256.Create(1.12819925e-1f));
        q = Fma256(q, s, Vector256.Create(-3.76125336e-1f));
        q = Fma256(q, s, Vector256.Create(1.28379166e-1f));
        q = Fma256(q, a, a);
        return Vector256.ConditionalSelect(small, q, r);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> a)
    {
        Vector512<float> t = Vector512.Abs(a);
        Vector512<float> small = Vector512.LessThanOrEqual(t, Vector512.Create(Split));
        Vector512<float> r;
        if (Vector512.EqualsAll(small.AsInt32(), Vector512<int>.AllBitsSet)) r = Vector512<float>.Zero;
        else
        {
            Vector512<float> tc = Vector512.Min(t, Vector512.Create(4f));
            Vector512<float> s2 = tc * tc;
            Vector512<float> p = Fma512(Vector512.Create(-1.72853470e-5f), tc, Vector512.Create(3.83197126e-4f));
            Vector512<float> u = Fma512(Vector512.Create(-3.88396438e-3f), tc, Vector512.Create(2.42546219e-2f));
            p = Fma512(p, s2, u);
            p = Fma512(p, tc, Vector512.Create(-1.06777877e-1f));
            p = Fma512(p, tc, Vector512.Create(-6.34846687e-1f));
            p = Fma512(p, tc, Vector512.Create(-1.28717512e-1f));
            p = Fma512(p, tc, -tc);
            r = Vector512.CopySign(Vector512<float>.One - FastMath.Exp(p), a);
        }
        Vector512<float> s = a * a;
        Vector512<float> q = Vector512.Create(-5.96761703e-4f);
        q = Fma512(q, s, Vector512.Create(4.99119423e-3f));
        q = Fma512(q, s, Vector512.Create(-2.67681349e-2f));
        q = Fma512(q, s, Vector512.Create(1.12819925e-1f));
        q = Fma512(q, s, Vector512.Create(-3.76125336e-1f));
        q = Fma512(q, s, Vector512.Create(1.28379166e-1f));
        q = Fma512(q, a, a);
        return Vector512.ConditionalSelect(small, q, r);
    }

    // Fused where the hardware has it, else multiply + add (slightly less accurate, never slow).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Fma128(Vector128<float> a, Vector128<float> b, Vector128<float> c) => Vector128.MultiplyAddEstimate(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Fma256(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.MultiplyAddEstimate(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Fma512(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.MultiplyAddEstimate(a, b, c);
}

/// <summary>
/// Exact (erf) GELU <c>x·Φ(x)</c> on one path, without erf: with t = |x| and E(t) = Φ(−t) = erfc(t/√2)/2,
/// <c>gelu(x) = max(x, 0) − t·E(t)</c> (for x ≥ 0 that is x − x·Φ(−x), for x &lt; 0 it is x·Φ(x)).
/// E = 2^q(t): q is a degree-9 minimax polynomial of log2 E on [0, 6.5], weighted by E·max(1, t) because that is how
/// an error in q reaches the result; 2^q splits q into an integer (exponent bits) and r ∈ [−½, ½] (degree-6 minimax,
/// relative error 2e-9). So for x ≥ 0 the small term t·E is subtracted from x instead of computing 1 + erf, and for
/// x &lt; 0 the relative error grows much more slowly than through 1 + erf's cancellation (max 12 against 161 ulp on
/// [−3, 0]; 2.3 against 2.6 ulp on [−1, 10]; max abs error on [−10, 10] 2.4e-7 against 4.5e-7: GeluKernelTests).
/// t is clamped at 6.5 (q stays in the exponent range; x − 6.5·E(6.5) rounds to x) and x &lt; −6.5 gives 0
/// (|gelu| &lt; 3e-10 there). NaN stays NaN. One path of ~27 AVX-512 instructions, where <see cref="GeluErfOperator"/>
/// computed erf on two polynomial paths plus an exp and blended them; the coefficients were fitted by a Remez
/// exchange in 40-digit arithmetic (tools/fit_gelu.py prints them) and rounded to float.
/// </summary>
internal readonly struct GeluOperator : IUnaryOperator
{
    private const float Clamp = 6.5f;
    // q(u) = log2 Φ(u) for u = −t ∈ [−6.5, 0] (the fit's coefficients in −t, so that u is the value the final FMA needs).
    // Its constant term is exactly −1 (Φ(0) = ½) and goes into the exponent (Round): the polynomial computes q + 1,
    // whose float rounding error is half that of q near t = 1.
    private const float Q1 = 1.151104569e+00f, Q2 = -4.592179656e-01f, Q3 = 5.244853348e-02f,
        Q4 = 6.957720965e-03f, Q5 = 1.296544269e-05f, Q6 = -2.676341392e-04f, Q7 = -6.932521501e-05f,
        Q8 = -8.559933121e-06f, Q9 = -4.410290444e-07f;
    // 2^r on [−½, ½].
    private const float P1 = 6.931471825e-01f, P2 = 2.402264625e-01f, P3 = 5.550328642e-02f, P4 = 9.618489072e-03f,
        P5 = 1.339993090e-03f, P6 = 1.534581243e-04f;
    // (q + 1) + Round rounds q + 1 to an integer n held in the low mantissa bits as n + 126 (1.5·2^23 keeps the sum
    // in [2^23, 2^24), where the float spacing is 1): shifted left by 23 those bits are the float 2^(n − 1).
    private const float Round = 12582912f + 126f;

    public static bool Vectorizable => true;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float x)
    {
        if (x < -Clamp) return 0f;
        float u = MathF.Max(-MathF.Abs(x), -Clamp);
        float q = float.MultiplyAddEstimate(Q9, u, Q8);
        q = float.MultiplyAddEstimate(q, u, Q7);
        q = float.MultiplyAddEstimate(q, u, Q6);
        q = float.MultiplyAddEstimate(q, u, Q5);
        q = float.MultiplyAddEstimate(q, u, Q4);
        q = float.MultiplyAddEstimate(q, u, Q3);
        q = float.MultiplyAddEstimate(q, u, Q2);
        q = float.MultiplyAddEstimate(q, u, Q1) * u;
        float j = q + Round;
        float r = q - (j - Round);
        float p = float.MultiplyAddEstimate(P6, r, P5);
        p = float.MultiplyAddEstimate(p, r, P4);
        p = float.MultiplyAddEstimate(p, r, P3);
        p = float.MultiplyAddEstimate(p, r, P2);
        p = float.MultiplyAddEstimate(p, r, P1);
        p = float.MultiplyAddEstimate(p, r, 1f);
        float e = p * BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(j) << 23);
        return float.MultiplyAddEstimate(u, e, float.MaxNative(0f, x));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector128<float> Invoke(Vector128<float> x)
    {
        // −|x| by setting the sign bit; MaxNative: a NaN x may give −6.5 here, the max(0, x) term still carries it.
        // max(0, x) as MaxNative with x second: x86 maxps returns its second operand when either is NaN (and for
        // ±0), Arm fmax returns NaN; one instruction where Max adds a fix-up for NaN and signed zeros.
        Vector128<float> u = Vector128.MaxNative(x | Vector128.Create(-0f), Vector128.Create(-Clamp));
        Vector128<float> q = Vector128.MultiplyAddEstimate(Vector128.Create(Q9), u, Vector128.Create(Q8));
        q = Vector128.MultiplyAddEstimate(q, u, Vector128.Create(Q7));
        q = Vector128.MultiplyAddEstimate(q, u, Vector128.Create(Q6));
        q = Vector128.MultiplyAddEstimate(q, u, Vector128.Create(Q5));
        q = Vector128.MultiplyAddEstimate(q, u, Vector128.Create(Q4));
        q = Vector128.MultiplyAddEstimate(q, u, Vector128.Create(Q3));
        q = Vector128.MultiplyAddEstimate(q, u, Vector128.Create(Q2));
        q = Vector128.MultiplyAddEstimate(q, u, Vector128.Create(Q1)) * u;
        Vector128<float> j = q + Vector128.Create(Round);
        Vector128<float> r = q - (j - Vector128.Create(Round));
        Vector128<float> p = Vector128.MultiplyAddEstimate(Vector128.Create(P6), r, Vector128.Create(P5));
        p = Vector128.MultiplyAddEstimate(p, r, Vector128.Create(P4));
        p = Vector128.MultiplyAddEstimate(p, r, Vector128.Create(P3));
        p = Vector128.MultiplyAddEstimate(p, r, Vector128.Create(P2));
        p = Vector128.MultiplyAddEstimate(p, r, Vector128.Create(P1));
        p = Vector128.MultiplyAddEstimate(p, r, Vector128<float>.One);
        Vector128<float> e = p * Vector128.ShiftLeft(j.AsInt32(), 23).AsSingle();
        Vector128<float> y = Vector128.MultiplyAddEstimate(u, e, Vector128.MaxNative(Vector128<float>.Zero, x));
        return Vector128.ConditionalSelect(Vector128.LessThan(x, Vector128.Create(-Clamp)), Vector128<float>.Zero, y);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> x)
    {
        Vector256<float> u = Vector256.MaxNative(x | Vector256.Create(-0f), Vector256.Create(-Clamp));
        Vector256<float> q = Vector256.MultiplyAddEstimate(Vector256.Create(Q9), u, Vector256.Create(Q8));
        q = Vector256.MultiplyAddEstimate(q, u, Vector256.Create(Q7));
        q = Vector256.MultiplyAddEstimate(q, u, Vector256.Create(Q6));
        q = Vector256.MultiplyAddEstimate(q, u, Vector256.Create(Q5));
        q = Vector256.MultiplyAddEstimate(q, u, Vector256.Create(Q4));
        q = Vector256.MultiplyAddEstimate(q, u, Vector256.Create(Q3));
        q = Vector256.MultiplyAddEstimate(q, u, Vector256.Create(Q2));
        q = Vector256.MultiplyAddEstimate(q, u, Vector256.Create(Q1)) * u;
        Vector256<float> j = q + Vector256.Create(Round);
        Vector256<float> r = q - (j - Vector256.Create(Round));
        Vector256<float> p = Vector256.MultiplyAddEstimate(Vector256.Create(P6), r, Vector256.Create(P5));
        p = Vector256.MultiplyAddEstimate(p, r, Vector256.Create(P4));
        p = Vector256.MultiplyAddEstimate(p, r, Vector256.Create(P3));
        p = Vector256.MultiplyAddEstimate(p, r, Vector256.Create(P2));
        p = Vector256.MultiplyAddEstimate(p, r, Vector256.Create(P1));
        p = Vector256.MultiplyAddEstimate(p, r, Vector256<float>.One);
        Vector256<float> e = p * Vector256.ShiftLeft(j.AsInt32(), 23).AsSingle();
        Vector256<float> y = Vector256.MultiplyAddEstimate(u, e, Vector256.MaxNative(Vector256<float>.Zero, x));
        return Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256.Create(-Clamp)), Vector256<float>.Zero, y);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> x)
    {
        Vector512<float> u = Vector512.MaxNative(x | Vector512.Create(-0f), Vector512.Create(-Clamp));
        Vector512<float> q = Vector512.MultiplyAddEstimate(Vector512.Create(Q9), u, Vector512.Create(Q8));
        q = Vector512.MultiplyAddEstimate(q, u, Vector512.Create(Q7));
        q = Vector512.MultiplyAddEstimate(q, u, Vector512.Create(Q6));
        q = Vector512.MultiplyAddEstimate(q, u, Vector512.Create(Q5));
        q = Vector512.MultiplyAddEstimate(q, u, Vector512.Create(Q4));
        q = Vector512.MultiplyAddEstimate(q, u, Vector512.Create(Q3));
        q = Vector512.MultiplyAddEstimate(q, u, Vector512.Create(Q2));
        q = Vector512.MultiplyAddEstimate(q, u, Vector512.Create(Q1)) * u;
        Vector512<float> j = q + Vector512.Create(Round);
        Vector512<float> r = q - (j - Vector512.Create(Round));
        Vector512<float> p = Vector512.MultiplyAddEstimate(Vector512.Create(P6), r, Vector512.Create(P5));
        p = Vector512.MultiplyAddEstimate(p, r, Vector512.Create(P4));
        p = Vector512.MultiplyAddEstimate(p, r, Vector512.Create(P3));
        p = Vector512.MultiplyAddEstimate(p, r, Vector512.Create(P2));
        p = Vector512.MultiplyAddEstimate(p, r, Vector512.Create(P1));
        p = Vector512.MultiplyAddEstimate(p, r, Vector512<float>.One);
        Vector512<float> e = p * Vector512.ShiftLeft(j.AsInt32(), 23).AsSingle();
        Vector512<float> y = Vector512.MultiplyAddEstimate(u, e, Vector512.MaxNative(Vector512<float>.Zero, x));
        return Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512.Create(-Clamp)), Vector512<float>.Zero, y);
    }
}

/// <summary>
/// GELU as <c>0.5x(1 + erf(x/√2))</c> through <see cref="ErfOperator"/>: what <see cref="GeluOperator"/> replaced,
/// kept as the baseline of the benchmarks' same-run A/B (GeluBenchmarks) and of the accuracy comparison in the tests.
/// </summary>
internal readonly struct GeluErfOperator : IUnaryOperator
{
    private const float InvSqrt2 = 0.70710678118654752f;
    public static bool Vectorizable => true;
    public float Invoke(float x) => 0.5f * x * (1f + new ErfOperator().Invoke(x * InvSqrt2));
    public Vector128<float> Invoke(Vector128<float> x) => Vector128.Create(0.5f) * x * (Vector128<float>.One + new ErfOperator().Invoke(x * Vector128.Create(InvSqrt2)));
    public Vector256<float> Invoke(Vector256<float> x) => Vector256.Create(0.5f) * x * (Vector256<float>.One + new ErfOperator().Invoke(x * Vector256.Create(InvSqrt2)));
    public Vector512<float> Invoke(Vector512<float> x) => Vector512.Create(0.5f) * x * (Vector512<float>.One + new ErfOperator().Invoke(x * Vector512.Create(InvSqrt2)));
}

/// <summary>0.5x(1+tanh(u)) computed as x·sigmoid(2u) = x / (1 + e^(−2u)), u = √(2/π)(x + 0.044715x³).</summary>
internal readonly struct GeluTanhOperator : IUnaryOperator
{
    private const float C = -2f * 0.7978845608028654f;     // −2·√(2/π)
    private const float D = -2f * 0.7978845608028654f * 0.044715f;
    public static bool Vectorizable => true;
    public float Invoke(float x) => x / (1f + FastMath.Exp(x * (C + D * x * x)));
    public Vector128<float> Invoke(Vector128<float> x) => x / (Vector128<float>.One + FastMath.Exp(x * (Vector128.Create(C) + Vector128.Create(D) * x * x)));
    public Vector256<float> Invoke(Vector256<float> x) => x / (Vector256<float>.One + FastMath.Exp(x * (Vector256.Create(C) + Vector256.Create(D) * x * x)));
    public Vector512<float> Invoke(Vector512<float> x) => x / (Vector512<float>.One + FastMath.Exp(x * (Vector512.Create(C) + Vector512.Create(D) * x * x)));
}

internal readonly struct ExpOperator : IUnaryOperator
{
    public static bool Vectorizable => true;
    public float Invoke(float x) => FastMath.Exp(x);
    public Vector128<float> Invoke(Vector128<float> x) => FastMath.Exp(x);
    public Vector256<float> Invoke(Vector256<float> x) => FastMath.Exp(x);
    public Vector512<float> Invoke(Vector512<float> x) => FastMath.Exp(x);
}

/// <summary><c>1 / (1 + e^(−x))</c> with <see cref="FastMath.Exp(float)"/>.</summary>
internal readonly struct SigmoidOperator : IUnaryOperator
{
    public static bool Vectorizable => true;
    public float Invoke(float x) => 1f / (1f + FastMath.Exp(-x));
    public Vector128<float> Invoke(Vector128<float> x) => Vector128<float>.One / (Vector128<float>.One + FastMath.Exp(-x));
    public Vector256<float> Invoke(Vector256<float> x) => Vector256<float>.One / (Vector256<float>.One + FastMath.Exp(-x));
    public Vector512<float> Invoke(Vector512<float> x) => Vector512<float>.One / (Vector512<float>.One + FastMath.Exp(-x));
}

internal readonly struct SiluOperator : IUnaryOperator
{
    public static bool Vectorizable => true;
    public float Invoke(float x) => x / (1f + FastMath.Exp(-x));
    public Vector128<float> Invoke(Vector128<float> x) => x / (Vector128<float>.One + FastMath.Exp(-x));
    public Vector256<float> Invoke(Vector256<float> x) => x / (Vector256<float>.One + FastMath.Exp(-x));
    public Vector512<float> Invoke(Vector512<float> x) => x / (Vector512<float>.One + FastMath.Exp(-x));
}

internal readonly struct SoftplusOperator : IUnaryOperator
{
    public static bool Vectorizable => false;
    public float Invoke(float x) => x > 0f ? x + MathF.Log(1f + MathF.Exp(-x)) : MathF.Log(1f + MathF.Exp(x));
    public Vector128<float> Invoke(Vector128<float> x) => throw new NotSupportedException();
    public Vector256<float> Invoke(Vector256<float> x) => throw new NotSupportedException();
    public Vector512<float> Invoke(Vector512<float> x) => throw new NotSupportedException();
}

internal readonly struct SignOperator : IUnaryOperator
{
    public static bool Vectorizable => false;
    public float Invoke(float x) => x > 0f ? 1f : x < 0f ? -1f : x * 0f;   // ±0 → 0, NaN → NaN
    public Vector128<float> Invoke(Vector128<float> x) => throw new NotSupportedException();
    public Vector256<float> Invoke(Vector256<float> x) => throw new NotSupportedException();
    public Vector512<float> Invoke(Vector512<float> x) => throw new NotSupportedException();
}

internal readonly struct HardSwishOperator : IUnaryOperator
{
    public static bool Vectorizable => true;
    public float Invoke(float x) => x * MathF.Max(0f, MathF.Min(1f, x * (1f / 6f) + 0.5f));
    public Vector128<float> Invoke(Vector128<float> x) => x * Vector128.Max(Vector128<float>.Zero, Vector128.Min(Vector128<float>.One, x * Vector128.Create(1f / 6f) + Vector128.Create(0.5f)));
    public Vector256<float> Invoke(Vector256<float> x) => x * Vector256.Max(Vector256<float>.Zero, Vector256.Min(Vector256<float>.One, x * Vector256.Create(1f / 6f) + Vector256.Create(0.5f)));
    public Vector512<float> Invoke(Vector512<float> x) => x * Vector512.Max(Vector512<float>.Zero, Vector512.Min(Vector512<float>.One, x * Vector512.Create(1f / 6f) + Vector512.Create(0.5f)));
}

internal readonly struct LeakyReluOperator(float alpha) : IUnaryOperator
{
    public static bool Vectorizable => true;
    public float Invoke(float x) => x >= 0f ? x : alpha * x;
    public Vector128<float> Invoke(Vector128<float> x) => Vector128.ConditionalSelect(Vector128.GreaterThanOrEqual(x, Vector128<float>.Zero), x, x * alpha);
    public Vector256<float> Invoke(Vector256<float> x) => Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(x, Vector256<float>.Zero), x, x * alpha);
    public Vector512<float> Invoke(Vector512<float> x) => Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(x, Vector512<float>.Zero), x, x * alpha);
}

internal readonly struct EluOperator(float alpha) : IUnaryOperator
{
    public static bool Vectorizable => true;
    public float Invoke(float x) => x >= 0f ? x : alpha * (FastMath.Exp(x) - 1f);
    public Vector128<float> Invoke(Vector128<float> x) => Vector128.ConditionalSelect(Vector128.GreaterThanOrEqual(x, Vector128<float>.Zero), x, (FastMath.Exp(x) - Vector128<float>.One) * alpha);
    public Vector256<float> Invoke(Vector256<float> x) => Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(x, Vector256<float>.Zero), x, (FastMath.Exp(x) - Vector256<float>.One) * alpha);
    public Vector512<float> Invoke(Vector512<float> x) => Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(x, Vector512<float>.Zero), x, (FastMath.Exp(x) - Vector512<float>.One) * alpha);
}

internal readonly struct HardSigmoidOperator(float alpha, float beta) : IUnaryOperator
{
    public static bool Vectorizable => true;
    public float Invoke(float x) => MathF.Max(0f, MathF.Min(1f, alpha * x + beta));
    public Vector128<float> Invoke(Vector128<float> x) => Vector128.Max(Vector128<float>.Zero, Vector128.Min(Vector128<float>.One, x * alpha + Vector128.Create(beta)));
    public Vector256<float> Invoke(Vector256<float> x) => Vector256.Max(Vector256<float>.Zero, Vector256.Min(Vector256<float>.One, x * alpha + Vector256.Create(beta)));
    public Vector512<float> Invoke(Vector512<float> x) => Vector512.Max(Vector512<float>.Zero, Vector512.Min(Vector512<float>.One, x * alpha + Vector512.Create(beta)));
}

internal readonly struct ClipOperator(float min, float max) : IUnaryOperator
{
    public static bool Vectorizable => true;
    public float Invoke(float x) => MathF.Min(MathF.Max(x, min), max);
    public Vector128<float> Invoke(Vector128<float> x) => Vector128.Min(Vector128.Max(x, Vector128.Create(min)), Vector128.Create(max));
    public Vector256<float> Invoke(Vector256<float> x) => Vector256.Min(Vector256.Max(x, Vector256.Create(min)), Vector256.Create(max));
    public Vector512<float> Invoke(Vector512<float> x) => Vector512.Min(Vector512.Max(x, Vector512.Create(min)), Vector512.Create(max));
}

/// <summary><c>x·scale + shift</c> (ChannelAffine).</summary>
internal readonly struct AffineOperator(float scale, float shift) : IUnaryOperator
{
    public static bool Vectorizable => true;
    public float Invoke(float x) => x * scale + shift;
    public Vector128<float> Invoke(Vector128<float> x) => x * scale + Vector128.Create(shift);
    public Vector256<float> Invoke(Vector256<float> x) => x * scale + Vector256.Create(shift);
    public Vector512<float> Invoke(Vector512<float> x) => x * scale + Vector512.Create(shift);
}

internal readonly struct AddOperator<T> : IBinaryOperator<T> where T : unmanaged, INumber<T>
{
    public static bool Vectorizable => true;
    public T Invoke(T a, T b) => unchecked(a + b);
    public Vector128<T> Invoke(Vector128<T> a, Vector128<T> b) => a + b;
    public Vector256<T> Invoke(Vector256<T> a, Vector256<T> b) => a + b;
}

internal readonly struct SubOperator<T> : IBinaryOperator<T> where T : unmanaged, INumber<T>
{
    public static bool Vectorizable => true;
    public T Invoke(T a, T b) => unchecked(a - b);
    public Vector128<T> Invoke(Vector128<T> a, Vector128<T> b) => a - b;
    public Vector256<T> Invoke(Vector256<T> a, Vector256<T> b) => a - b;
}

internal readonly struct MulOperator<T> : IBinaryOperator<T> where T : unmanaged, INumber<T>
{
    public static bool Vectorizable => true;
    public T Invoke(T a, T b) => unchecked(a * b);
    public Vector128<T> Invoke(Vector128<T> a, Vector128<T> b) => a * b;
    public Vector256<T> Invoke(Vector256<T> a, Vector256<T> b) => a * b;
}

/// <summary>Float division is vectorised; integer division truncates and throws on a zero divisor.</summary>
internal readonly struct DivOperator<T> : IBinaryOperator<T> where T : unmanaged, INumber<T>
{
    public static bool Vectorizable => typeof(T) == typeof(float) || typeof(T) == typeof(double);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public T Invoke(T a, T b)
    {
        if (typeof(T) == typeof(float) || typeof(T) == typeof(double)) return a / b;
        if (T.IsZero(b)) ThrowDivideByZero();
        if (b == -T.One) return unchecked(-a);   // MinValue / −1 wraps instead of raising OverflowException
        return a / b;
    }

    public Vector128<T> Invoke(Vector128<T> a, Vector128<T> b) => a / b;
    public Vector256<T> Invoke(Vector256<T> a, Vector256<T> b) => a / b;

    private static void ThrowDivideByZero() => throw new DivideByZeroException("Integer division by zero in Div.");
}

internal readonly struct PowOperator : IBinaryOperator<float>
{
    public static bool Vectorizable => false;
    public float Invoke(float a, float b) => b == 2f ? a * a : MathF.Pow(a, b);
    public Vector128<float> Invoke(Vector128<float> a, Vector128<float> b) => throw new NotSupportedException();
    public Vector256<float> Invoke(Vector256<float> a, Vector256<float> b) => throw new NotSupportedException();
}

internal readonly struct MaxOperator<T> : IBinaryOperator<T> where T : unmanaged, INumber<T>
{
    public static bool Vectorizable => true;
    public T Invoke(T a, T b) => T.Max(a, b);
    public Vector128<T> Invoke(Vector128<T> a, Vector128<T> b) => Vector128.Max(a, b);
    public Vector256<T> Invoke(Vector256<T> a, Vector256<T> b) => Vector256.Max(a, b);
}

internal readonly struct MinOperator<T> : IBinaryOperator<T> where T : unmanaged, INumber<T>
{
    public static bool Vectorizable => true;
    public T Invoke(T a, T b) => T.Min(a, b);
    public Vector128<T> Invoke(Vector128<T> a, Vector128<T> b) => Vector128.Min(a, b);
    public Vector256<T> Invoke(Vector256<T> a, Vector256<T> b) => Vector256.Min(a, b);
}

internal readonly struct EqualOperator<T> : IScalarOperator<T, T, bool> where T : INumber<T>
{
    public bool Invoke(T a, T b) => a == b;
}

internal readonly struct GreaterOperator<T> : IScalarOperator<T, T, bool> where T : INumber<T>
{
    public bool Invoke(T a, T b) => a > b;
}

internal readonly struct LessOperator<T> : IScalarOperator<T, T, bool> where T : INumber<T>
{
    public bool Invoke(T a, T b) => a < b;
}

internal readonly struct AndOperator : IScalarOperator<bool, bool, bool>
{
    public bool Invoke(bool a, bool b) => a & b;
}

internal readonly struct OrOperator : IScalarOperator<bool, bool, bool>
{
    public bool Invoke(bool a, bool b) => a | b;
}
