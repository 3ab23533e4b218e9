using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace EdgeCompile.Runtime;

// Operator structs and the generic loops that drive them, in the style of
// System.Numerics.Tensors.TensorPrimitives: one struct per operation with its scalar and vector
// forms side by side; a handful of loops written once. Everything here is internal.

/// <summary>A float → float elementwise operation with scalar and vector forms.</summary>
internal interface IUnaryOperator
{
    /// <summary>False when only the scalar form is meaningful (the loops then never call the vector forms).</summary>
    static abstract bool Vectorizable { get; }
    float Invoke(float x);
    Vector128<float> Invoke(Vector128<float> x);
    Vector256<float> Invoke(Vector256<float> x);
    Vector512<float> Invoke(Vector512<float> x);
}

/// <summary>A (T, T) → T elementwise operation with scalar and vector forms.</summary>
internal interface IBinaryOperator<T> where T : unmanaged
{
    static abstract bool Vectorizable { get; }
    T Invoke(T a, T b);
    Vector128<T> Invoke(Vector128<T> a, Vector128<T> b);
    Vector256<T> Invoke(Vector256<T> a, Vector256<T> b);
}

/// <summary>A (TA, TB) → TY scalar operation (comparisons, logic).</summary>
internal interface IScalarOperator<TA, TB, TY>
{
    TY Invoke(TA a, TB b);
}

internal static class Loops
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Load256<T>(ReadOnlySpan<T> s, int i) where T : unmanaged => Vector256.Create(s.Slice(i));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Load128<T>(ReadOnlySpan<T> s, int i) where T : unmanaged => Vector128.Create(s.Slice(i));

    /// <summary>y[i] = op(x[i]); x and y may be the same span.</summary>
    public static void Unary<TOp>(ReadOnlySpan<float> x, Span<float> y, TOp op) where TOp : struct, IUnaryOperator
    {
        Guard.SameLength(x.Length, y.Length, "x", "y");
        int n = x.Length, i = 0;
        if (TOp.Vectorizable)
        {
            if (Vector512.IsHardwareAccelerated)
            {
                for (; i <= n - Vector512<float>.Count; i += Vector512<float>.Count)
                    op.Invoke(Vector512.Create(x.Slice(i))).CopyTo(y.Slice(i));
            }
            if (Vector256.IsHardwareAccelerated)
            {
                for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
                    op.Invoke(Load256(x, i)).CopyTo(y.Slice(i));
            }
            if (Vector128.IsHardwareAccelerated)
            {
                for (; i <= n - Vector128<float>.Count; i += Vector128<float>.Count)
                    op.Invoke(Load128(x, i)).CopyTo(y.Slice(i));
            }
        }
        for (; i < n; i++) y[i] = op.Invoke(x[i]);
    }

    /// <summary>y[i] = op(a[i], b[i]) over equal-length rows (no validation: callers check).</summary>
    public static void BinaryRow<T, TOp>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y, TOp op)
        where T : unmanaged where TOp : struct, IBinaryOperator<T>
    {
        int n = y.Length, i = 0;
        if (TOp.Vectorizable)
        {
            if (Vector256.IsHardwareAccelerated)
            {
                for (; i <= n - Vector256<T>.Count; i += Vector256<T>.Count)
                    op.Invoke(Load256(a, i), Load256(b, i)).CopyTo(y.Slice(i));
            }
            if (Vector128.IsHardwareAccelerated)
            {
                for (; i <= n - Vector128<T>.Count; i += Vector128<T>.Count)
                    op.Invoke(Load128(a, i), Load128(b, i)).CopyTo(y.Slice(i));
            }
        }
        for (; i < n; i++) y[i] = op.Invoke(a[i], b[i]);
    }

    /// <summary>y[i] = op(a[i], b).</summary>
    public static void BinaryRowScalarB<T, TOp>(ReadOnlySpan<T> a, T b, Span<T> y, TOp op)
        where T : unmanaged where TOp : struct, IBinaryOperator<T>
    {
        int n = y.Length, i = 0;
        if (TOp.Vectorizable)
        {
            if (Vector256.IsHardwareAccelerated)
            {
                Vector256<T> vb = Vector256.Create(b);
                for (; i <= n - Vector256<T>.Count; i += Vector256<T>.Count)
                    op.Invoke(Load256(a, i), vb).CopyTo(y.Slice(i));
            }
            if (Vector128.IsHardwareAccelerated)
            {
                Vector128<T> vb = Vector128.Create(b);
                for (; i <= n - Vector128<T>.Count; i += Vector128<T>.Count)
                    op.Invoke(Load128(a, i), vb).CopyTo(y.Slice(i));
            }
        }
        for (; i < n; i++) y[i] = op.Invoke(a[i], b);
    }

    /// <summary>y[i] = op(a, b[i]).</summary>
    public static void BinaryRowScalarA<T, TOp>(T a, ReadOnlySpan<T> b, Span<T> y, TOp op)
        where T : unmanaged where TOp : struct, IBinaryOperator<T>
    {
        int n = y.Length, i = 0;
        if (TOp.Vectorizable)
        {
            if (Vector256.IsHardwareAccelerated)
            {
                Vector256<T> va = Vector256.Create(a);
                for (; i <= n - Vector256<T>.Count; i += Vector256<T>.Count)
                    op.Invoke(va, Load256(b, i)).CopyTo(y.Slice(i));
            }
            if (Vector128.IsHardwareAccelerated)
            {
                Vector128<T> va = Vector128.Create(a);
                for (; i <= n - Vector128<T>.Count; i += Vector128<T>.Count)
                    op.Invoke(va, Load128(b, i)).CopyTo(y.Slice(i));
            }
        }
        for (; i < n; i++) y[i] = op.Invoke(a, b[i]);
    }

    /// <summary>Same-shape binary operation: validates equal lengths.</summary>
    public static void Binary<T, TOp>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y, TOp op)
        where T : unmanaged where TOp : struct, IBinaryOperator<T>
    {
        Guard.SameLength(a.Length, y.Length, "a", "y");
        Guard.SameLength(b.Length, y.Length, "b", "y");
        BinaryRow(a, b, y, op);
    }

    /// <summary>Broadcast binary operation over a 4-D output with per-operand strides.</summary>
    public static void BinaryBroadcast<T, TOp>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y, in Broadcast4 s, TOp op)
        where T : unmanaged where TOp : struct, IBinaryOperator<T>
    {
        int n3 = s.N3, a3 = s.A3, b3 = s.B3;
        int yi = 0;
        for (int i0 = 0; i0 < s.N0; i0++)
        for (int i1 = 0; i1 < s.N1; i1++)
        for (int i2 = 0; i2 < s.N2; i2++)
        {
            int ai = i0 * s.A0 + i1 * s.A1 + i2 * s.A2;
            int bi = i0 * s.B0 + i1 * s.B1 + i2 * s.B2;
            Span<T> yRow = y.Slice(yi, n3);
            if (a3 == 1 && b3 == 1) BinaryRow(a.Slice(ai, n3), b.Slice(bi, n3), yRow, op);
            else if (a3 == 1 && b3 == 0) BinaryRowScalarB(a.Slice(ai, n3), b[bi], yRow, op);
            else if (a3 == 0 && b3 == 1) BinaryRowScalarA(a[ai], b.Slice(bi, n3), yRow, op);
            else
            {
                for (int i3 = 0; i3 < n3; i3++, ai += a3, bi += b3) yRow[i3] = op.Invoke(a[ai], b[bi]);
            }
            yi += n3;
        }
    }

    /// <summary>Broadcast scalar operation (comparisons, logic) over a 4-D output.</summary>
    public static void ScalarBroadcast<TA, TB, TY, TOp>(ReadOnlySpan<TA> a, ReadOnlySpan<TB> b, Span<TY> y, in Broadcast4 s, TOp op)
        where TOp : struct, IScalarOperator<TA, TB, TY>
    {
        int n3 = s.N3, a3 = s.A3, b3 = s.B3;
        int yi = 0;
        for (int i0 = 0; i0 < s.N0; i0++)
        for (int i1 = 0; i1 < s.N1; i1++)
        for (int i2 = 0; i2 < s.N2; i2++)
        {
            int ai = i0 * s.A0 + i1 * s.A1 + i2 * s.A2;
            int bi = i0 * s.B0 + i1 * s.B1 + i2 * s.B2;
            Span<TY> yRow = y.Slice(yi, n3);
            for (int i3 = 0; i3 < yRow.Length; i3++, ai += a3, bi += b3) yRow[i3] = op.Invoke(a[ai], b[bi]);
            yi += n3;
        }
    }

    /// <summary>Same-shape scalar operation.</summary>
    public static void Scalar<TA, TB, TY, TOp>(ReadOnlySpan<TA> a, ReadOnlySpan<TB> b, Span<TY> y, TOp op)
        where TOp : struct, IScalarOperator<TA, TB, TY>
    {
        Guard.SameLength(a.Length, y.Length, "a", "y");
        Guard.SameLength(b.Length, y.Length, "b", "y");
        for (int i = 0; i < y.Length; i++) y[i] = op.Invoke(a[i], b[i]);
    }
}

/// <summary>
/// A validated, coalesced 4-D broadcast: output extents and the element strides of two operands.
/// Unit axes are dropped and adjacent axes that are contiguous for both operands are merged, so
/// that the innermost row is as long as possible.
/// </summary>
internal readonly struct Broadcast4
{
    public readonly int N0, N1, N2, N3, A0, A1, A2, A3, B0, B1, B2, B3;

    private Broadcast4(ReadOnlySpan<int> n, ReadOnlySpan<int> sa, ReadOnlySpan<int> sb)
    {
        N0 = n[0]; N1 = n[1]; N2 = n[2]; N3 = n[3];
        A0 = sa[0]; A1 = sa[1]; A2 = sa[2]; A3 = sa[3];
        B0 = sb[0]; B1 = sb[1]; B2 = sb[2]; B3 = sb[3];
    }

    public long Count => (long)N0 * N1 * N2 * N3;

    /// <summary>Validates extents, strides and span lengths; returns the coalesced form.</summary>
    public static Broadcast4 Create(int aLength, int bLength, int yLength,
        int n0, int n1, int n2, int n3, int a0, int a1, int a2, int a3, int b0, int b1, int b2, int b3)
    {
        if ((n0 | n1 | n2 | n3) < 0) throw new ArgumentException($"Broadcast extents must be non-negative: [{n0},{n1},{n2},{n3}].");
        if ((a0 | a1 | a2 | a3 | b0 | b1 | b2 | b3) < 0) throw new ArgumentException("Broadcast strides must be non-negative.");
        long count = (long)n0 * n1 * n2 * n3;
        if (count != yLength) throw new ArgumentException($"Output span has length {yLength}, the broadcast shape [{n0},{n1},{n2},{n3}] needs {count}.", "y");
        Span<int> n = stackalloc int[4] { n0, n1, n2, n3 };
        Span<int> sa = stackalloc int[4] { a0, a1, a2, a3 };
        Span<int> sb = stackalloc int[4] { b0, b1, b2, b3 };
        if (count == 0) { n.Clear(); n[3] = 0; n[0] = n[1] = n[2] = 1; sa.Clear(); sb.Clear(); return new Broadcast4(n, sa, sb); }
        Guard.StridedExtent(aLength, n, sa, "a");
        Guard.StridedExtent(bLength, n, sb, "b");

        // Coalesce from the innermost axis outwards into slots 3, 2, 1, 0.
        // Filled, not initialised from a constant array: a constant initializer compiles to
        // RuntimeHelpers.CreateSpan(ldtoken), which allocates on every call in unoptimised code.
        Span<int> cn = stackalloc int[4];
        cn.Fill(1);
        Span<int> ca = stackalloc int[4];
        Span<int> cb = stackalloc int[4];
        int slot = 3;
        bool any = false;
        for (int k = 3; k >= 0; k--)
        {
            if (n[k] == 1) continue;
            if (any && sa[k] == ca[slot] * cn[slot] && sb[k] == cb[slot] * cn[slot])
            {
                cn[slot] *= n[k];
                continue;
            }
            if (any) slot--;
            cn[slot] = n[k]; ca[slot] = sa[k]; cb[slot] = sb[k];
            any = true;
        }
        return new Broadcast4(cn, ca, cb);
    }
}

internal static class Guard
{
    public static void SameLength(int a, int b, string nameA, string nameB)
    {
        if (a != b) Throw(a, b, nameA, nameB);
        static void Throw(int a, int b, string nameA, string nameB)
            => throw new ArgumentException($"Span lengths differ: {nameA} has {a} elements, {nameB} has {b}.", nameB);
    }

    public static void NonNegative(int value, string name)
    {
        if (value < 0) throw new ArgumentOutOfRangeException(name, value, $"{name} must be non-negative.");
    }

    public static void Positive(int value, string name)
    {
        if (value <= 0) throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive.");
    }

    /// <summary>Requires <paramref name="length"/> == <paramref name="expected"/>.</summary>
    public static void Length(int length, long expected, string name)
    {
        if (length != expected) throw new ArgumentException($"Span {name} has length {length}, expected {expected}.", name);
    }

    /// <summary>Requires <paramref name="length"/> ≥ <paramref name="needed"/>.</summary>
    public static void AtLeast(int length, long needed, string name)
    {
        if (length < needed) throw new ArgumentException($"Span {name} has length {length}, at least {needed} needed.", name);
    }

    /// <summary>Requires every index Σ i_k·s_k (i_k &lt; n_k, n_k &gt; 0) to lie inside the span; strides ≥ 0.</summary>
    public static void StridedExtent(int length, ReadOnlySpan<int> n, ReadOnlySpan<int> strides, string name)
    {
        long max = 0;
        for (int k = 0; k < n.Length; k++) max += (long)(n[k] - 1) * strides[k];
        if (max >= length) throw new ArgumentException($"Span {name} has length {length} but the strides reach index {max}.", name);
    }
}
