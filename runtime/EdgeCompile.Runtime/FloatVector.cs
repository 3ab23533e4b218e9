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
    static abstract TSelf Add(TSelf a, TSelf b);
    static abstract TSelf Subtract(TSelf a, TSelf b);
    /// <summary>Lane-wise maximum; a NaN lane propagates.</summary>
    static abstract TSelf Max(TSelf a, TSelf b);
    /// <summary>e^x per lane (the accurate vector Exp of System.Runtime.Intrinsics).</summary>
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
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector512 Add(FloatVector512 a, FloatVector512 b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector512 Subtract(FloatVector512 a, FloatVector512 b) => new(a._v - b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector512 Max(FloatVector512 a, FloatVector512 b) => new(Vector512.Max(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector512 Exp(FloatVector512 x) => new(Vector512.Exp(x._v));
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
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector256 Add(FloatVector256 a, FloatVector256 b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector256 Subtract(FloatVector256 a, FloatVector256 b) => new(a._v - b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector256 Max(FloatVector256 a, FloatVector256 b) => new(Vector256.Max(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector256 Exp(FloatVector256 x) => new(Vector256.Exp(x._v));
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
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector128 Add(FloatVector128 a, FloatVector128 b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector128 Subtract(FloatVector128 a, FloatVector128 b) => new(a._v - b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector128 Max(FloatVector128 a, FloatVector128 b) => new(Vector128.Max(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector128 Exp(FloatVector128 x) => new(Vector128.Exp(x._v));
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
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector1 Add(FloatVector1 a, FloatVector1 b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector1 Subtract(FloatVector1 a, FloatVector1 b) => new(a._v - b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector1 Max(FloatVector1 a, FloatVector1 b) => new(MathF.Max(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static FloatVector1 Exp(FloatVector1 x) => new(MathF.Exp(x._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(FloatVector1 value) => value._v;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MaxAcross(FloatVector1 value) => value._v;
}
