using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace EdgeCompile.Runtime;

/// <summary>
/// A vector of floats of one fixed width, so that a register-blocked kernel is written once and instantiated
/// for 512-, 256- and 128-bit vectors and for plain floats (<see cref="FloatVector1"/>, the fallback).
/// The implementations are single-field structs whose members the JIT inlines to the bare vector instructions.
/// Loads and stores take a <c>ref float</c>: callers validate the span lengths once and index with
/// <see cref="Unsafe"/> inside.
/// </summary>
internal interface IFloatVector<TSelf> where TSelf : struct, IFloatVector<TSelf>
{
    static abstract int Count { get; }
    static abstract TSelf Zero { get; }
    static abstract TSelf Create(float value);
    static abstract TSelf Load(ref float source);
    static abstract void Store(TSelf value, ref float destination);
    /// <summary><c>a·b + c</c>, fused where the hardware has FMA.</summary>
    static abstract TSelf MultiplyAdd(TSelf a, TSelf b, TSelf c);
    static abstract TSelf Multiply(TSelf a, TSelf b);
    static abstract TSelf Divide(TSelf a, TSelf b);
    static abstract TSelf Add(TSelf a, TSelf b);
    static abstract TSelf Subtract(TSelf a, TSelf b);
    /// <summary>Lane-wise maximum; a NaN lane propagates.</summary>
    static abstract TSelf Max(TSelf a, TSelf b);
    /// <summary>e^x per lane (<see cref="FastMath"/>).</summary>
    static abstract TSelf Exp(TSelf x);
    static abstract float Sum(TSelf value);
    static abstract float MaxAcross(TSelf value);
}

internal readonly struct FloatVector512(Vector512<float> value) : IFloatVector<FloatVector512>
{
    private readonly Vector512<float> _v = value;
    public static int Count => Vector512<float>.Count;
    public static FloatVector512 Zero { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => default; }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector512 Create(float value) => new(Vector512.Create(value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector512 Load(ref float source) => new(Vector512.LoadUnsafe(ref source));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(FloatVector512 value, ref float destination) => value._v.StoreUnsafe(ref destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector512 MultiplyAdd(FloatVector512 a, FloatVector512 b, FloatVector512 c) => new(Vector512.MultiplyAddEstimate(a._v, b._v, c._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector512 Multiply(FloatVector512 a, FloatVector512 b) => new(a._v * b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector512 Divide(FloatVector512 a, FloatVector512 b) => new(a._v / b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector512 Add(FloatVector512 a, FloatVector512 b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector512 Subtract(FloatVector512 a, FloatVector512 b) => new(a._v - b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector512 Max(FloatVector512 a, FloatVector512 b) => new(Vector512.Max(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector512 Exp(FloatVector512 x) => new(FastMath.Exp(x._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(FloatVector512 value) => Vector512.Sum(value._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(FloatVector512 value) => FloatVector256.MaxAcross(new(Vector256.Max(value._v.GetLower(), value._v.GetUpper())));
}

internal readonly struct FloatVector256(Vector256<float> value) : IFloatVector<FloatVector256>
{
    private readonly Vector256<float> _v = value;
    public static int Count => Vector256<float>.Count;
    public static FloatVector256 Zero { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => default; }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector256 Create(float value) => new(Vector256.Create(value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector256 Load(ref float source) => new(Vector256.LoadUnsafe(ref source));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(FloatVector256 value, ref float destination) => value._v.StoreUnsafe(ref destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector256 MultiplyAdd(FloatVector256 a, FloatVector256 b, FloatVector256 c) => new(Vector256.MultiplyAddEstimate(a._v, b._v, c._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector256 Multiply(FloatVector256 a, FloatVector256 b) => new(a._v * b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector256 Divide(FloatVector256 a, FloatVector256 b) => new(a._v / b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector256 Add(FloatVector256 a, FloatVector256 b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector256 Subtract(FloatVector256 a, FloatVector256 b) => new(a._v - b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector256 Max(FloatVector256 a, FloatVector256 b) => new(Vector256.Max(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector256 Exp(FloatVector256 x) => new(FastMath.Exp(x._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(FloatVector256 value) => Vector256.Sum(value._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(FloatVector256 value) => FloatVector128.MaxAcross(new(Vector128.Max(value._v.GetLower(), value._v.GetUpper())));
}

internal readonly struct FloatVector128(Vector128<float> value) : IFloatVector<FloatVector128>
{
    private readonly Vector128<float> _v = value;
    public static int Count => Vector128<float>.Count;
    public static FloatVector128 Zero { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => default; }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector128 Create(float value) => new(Vector128.Create(value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector128 Load(ref float source) => new(Vector128.LoadUnsafe(ref source));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(FloatVector128 value, ref float destination) => value._v.StoreUnsafe(ref destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector128 MultiplyAdd(FloatVector128 a, FloatVector128 b, FloatVector128 c) => new(Vector128.MultiplyAddEstimate(a._v, b._v, c._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector128 Multiply(FloatVector128 a, FloatVector128 b) => new(a._v * b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector128 Divide(FloatVector128 a, FloatVector128 b) => new(a._v / b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector128 Add(FloatVector128 a, FloatVector128 b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector128 Subtract(FloatVector128 a, FloatVector128 b) => new(a._v - b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector128 Max(FloatVector128 a, FloatVector128 b) => new(Vector128.Max(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector128 Exp(FloatVector128 x) => new(FastMath.Exp(x._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(FloatVector128 value) => Vector128.Sum(value._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(FloatVector128 value)
    {
        Vector128<float> v = value._v;
        return MathF.Max(MathF.Max(v.GetElement(0), v.GetElement(1)), MathF.Max(v.GetElement(2), v.GetElement(3)));
    }
}

/// <summary>One float: the scalar instance of the vector kernels, for hardware without vector acceleration.</summary>
internal readonly struct FloatVector1(float value) : IFloatVector<FloatVector1>
{
    private readonly float _v = value;
    public static int Count => 1;
    public static FloatVector1 Zero { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => default; }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector1 Create(float value) => new(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector1 Load(ref float source) => new(source);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(FloatVector1 value, ref float destination) => destination = value._v;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector1 MultiplyAdd(FloatVector1 a, FloatVector1 b, FloatVector1 c) => new(float.MultiplyAddEstimate(a._v, b._v, c._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector1 Multiply(FloatVector1 a, FloatVector1 b) => new(a._v * b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector1 Divide(FloatVector1 a, FloatVector1 b) => new(a._v / b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector1 Add(FloatVector1 a, FloatVector1 b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector1 Subtract(FloatVector1 a, FloatVector1 b) => new(a._v - b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector1 Max(FloatVector1 a, FloatVector1 b) => new(MathF.Max(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector1 Exp(FloatVector1 x) => new(FastMath.Exp(x._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(FloatVector1 value) => value._v;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MaxAcross(FloatVector1 value) => value._v;
}

/// <summary>
/// A fast e^x for the kernels (softmax, GELU, SiLU, ...): x = n·ln2 + r with |r| ≤ ln2/2, e^r by a degree-7 polynomial
/// (Cephes expf), 2^n put into the exponent bits. Relative error ≈ 1 ulp (at most a few) on
/// [−87.33, 88.37]; below that the result is 0 (no subnormals), above +∞; NaN stays NaN. The scalar and vector forms
/// give the same bits lane for lane where the hardware fuses multiply-adds (the scalar tails of a vector loop agree
/// with its body). Several times faster than the vector Exp of System.Runtime.Intrinsics, which works in double.
/// </summary>
internal static class FastMath
{
    private const float Log2E = 1.44269504088896341f;
    private const float Ln2Hi = 0.693359375f;
    private const float Ln2Lo = -2.12194440e-4f;
    private const float Lowest = -87.3365447504f;   // e^x below 2^-126
    private const float Highest = 88.37f;            // x·log2(e) rounds to 128 from 88.3723 on
    private const float P0 = 1.9875691500E-4f, P1 = 1.3981999507E-3f, P2 = 8.3334519073E-3f, P3 = 4.1665795894E-2f, P4 = 1.6666665459E-1f, P5 = 5.0000001201E-1f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Exp(float x)
    {
        if (x < Lowest) return 0f;
        if (x > Highest) return float.PositiveInfinity;
        if (float.IsNaN(x)) return x;
        float n = MathF.Round(x * Log2E);
        float r = float.MultiplyAddEstimate(n, -Ln2Hi, x);
        r = float.MultiplyAddEstimate(n, -Ln2Lo, r);
        float p = float.MultiplyAddEstimate(P0, r, P1);
        p = float.MultiplyAddEstimate(p, r, P2);
        p = float.MultiplyAddEstimate(p, r, P3);
        p = float.MultiplyAddEstimate(p, r, P4);
        p = float.MultiplyAddEstimate(p, r, P5);
        p = float.MultiplyAddEstimate(p, r * r, r) + 1f;
        return p * BitConverter.Int32BitsToSingle(((int)n + 127) << 23);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Exp(Vector128<float> x)
    {
        Vector128<float> n = Vector128.Round(x * Vector128.Create(Log2E));
        Vector128<float> r = Vector128.MultiplyAddEstimate(n, Vector128.Create(-Ln2Hi), x);
        r = Vector128.MultiplyAddEstimate(n, Vector128.Create(-Ln2Lo), r);
        Vector128<float> p = Vector128.MultiplyAddEstimate(Vector128.Create(P0), r, Vector128.Create(P1));
        p = Vector128.MultiplyAddEstimate(p, r, Vector128.Create(P2));
        p = Vector128.MultiplyAddEstimate(p, r, Vector128.Create(P3));
        p = Vector128.MultiplyAddEstimate(p, r, Vector128.Create(P4));
        p = Vector128.MultiplyAddEstimate(p, r, Vector128.Create(P5));
        p = Vector128.MultiplyAddEstimate(p, r * r, r) + Vector128<float>.One;
        Vector128<float> scale = Vector128.ShiftLeft(Vector128.ConvertToInt32(n) + Vector128.Create(127), 23).AsSingle();
        Vector128<float> y = p * scale;
        y = Vector128.ConditionalSelect(Vector128.LessThan(x, Vector128.Create(Lowest)), Vector128<float>.Zero, y);
        return Vector128.ConditionalSelect(Vector128.GreaterThan(x, Vector128.Create(Highest)), Vector128.Create(float.PositiveInfinity), y);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        Vector256<float> n = Vector256.Round(x * Vector256.Create(Log2E));
        Vector256<float> r = Vector256.MultiplyAddEstimate(n, Vector256.Create(-Ln2Hi), x);
        r = Vector256.MultiplyAddEstimate(n, Vector256.Create(-Ln2Lo), r);
        Vector256<float> p = Vector256.MultiplyAddEstimate(Vector256.Create(P0), r, Vector256.Create(P1));
        p = Vector256.MultiplyAddEstimate(p, r, Vector256.Create(P2));
        p = Vector256.MultiplyAddEstimate(p, r, Vector256.Create(P3));
        p = Vector256.MultiplyAddEstimate(p, r, Vector256.Create(P4));
        p = Vector256.MultiplyAddEstimate(p, r, Vector256.Create(P5));
        p = Vector256.MultiplyAddEstimate(p, r * r, r) + Vector256<float>.One;
        Vector256<float> scale = Vector256.ShiftLeft(Vector256.ConvertToInt32(n) + Vector256.Create(127), 23).AsSingle();
        Vector256<float> y = p * scale;
        y = Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256.Create(Lowest)), Vector256<float>.Zero, y);
        return Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256.Create(Highest)), Vector256.Create(float.PositiveInfinity), y);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        Vector512<float> n = Vector512.Round(x * Vector512.Create(Log2E));
        Vector512<float> r = Vector512.MultiplyAddEstimate(n, Vector512.Create(-Ln2Hi), x);
        r = Vector512.MultiplyAddEstimate(n, Vector512.Create(-Ln2Lo), r);
        Vector512<float> p = Vector512.MultiplyAddEstimate(Vector512.Create(P0), r, Vector512.Create(P1));
        p = Vector512.MultiplyAddEstimate(p, r, Vector512.Create(P2));
        p = Vector512.MultiplyAddEstimate(p, r, Vector512.Create(P3));
        p = Vector512.MultiplyAddEstimate(p, r, Vector512.Create(P4));
        p = Vector512.MultiplyAddEstimate(p, r, Vector512.Create(P5));
        p = Vector512.MultiplyAddEstimate(p, r * r, r) + Vector512<float>.One;
        Vector512<float> scale = Vector512.ShiftLeft(Vector512.ConvertToInt32(n) + Vector512.Create(127), 23).AsSingle();
        Vector512<float> y = p * scale;
        y = Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512.Create(Lowest)), Vector512<float>.Zero, y);
        return Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512.Create(Highest)), Vector512.Create(float.PositiveInfinity), y);
    }
}
