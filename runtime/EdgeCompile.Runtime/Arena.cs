using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace EdgeCompile.Runtime;

/// <summary>
/// The scratch memory of one model instance: one zeroed, 64-byte-aligned native block that the
/// planner laid every intermediate tensor out in (offsets in the plan, planned for the maximum of
/// every dimension). Generated code asks it for typed views with <see cref="Get{T}"/>.
/// </summary>
/// <remarks>
/// <para>The block is released by <see cref="Dispose"/>. <see cref="Arena"/> itself has no
/// finalizer: the memory is owned by a <see cref="SafeHandle"/>, whose critical finalizer frees it
/// if the owner is never disposed, so a forgotten <c>Dispose</c> leaks nothing for long.</para>
/// <para>Not thread-safe: a model instance (and its arena) serves one <c>Run</c> at a time, and
/// must not be disposed while a <c>Run</c> is in progress.</para>
/// </remarks>
public sealed unsafe class Arena : IDisposable
{
    /// <summary>The alignment of the block (a cache line; enough for AVX-512 loads).</summary>
    public const int Alignment = 64;

    private readonly NativeBlock _block;
    private readonly byte* _pointer;

    /// <summary>Allocates a zeroed, 64-byte-aligned block of <paramref name="bytes"/> bytes.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="bytes"/> is negative.</exception>
    public Arena(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        _block = NativeBlock.Allocate(bytes, zero: true);
        _pointer = _block.Pointer;
        Length = bytes;
    }

    /// <summary>The size of the block in bytes.</summary>
    public long Length { get; }

    /// <summary>Whether <see cref="Dispose"/> was called.</summary>
    public bool IsDisposed => _block.IsClosed;

    /// <summary>
    /// A view of <paramref name="length"/> elements of type <typeparamref name="T"/> starting
    /// <paramref name="byteOffset"/> bytes into the block.
    /// </summary>
    /// <exception cref="InvalidOperationException">The view would leave the block (a planner bug).</exception>
    /// <exception cref="ObjectDisposedException">The arena was disposed.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Span<T> Get<T>(long byteOffset, int length) where T : unmanaged
    {
        if ((ulong)byteOffset > (ulong)Length || (uint)length > (ulong)(Length - byteOffset) / (ulong)sizeof(T) || _block.IsClosed)
            ThrowOutOfBounds(byteOffset, length, sizeof(T));
        return new Span<T>(_pointer + byteOffset, length);
    }

    /// <summary>Frees the block. Idempotent.</summary>
    public void Dispose() => _block.Dispose();

    private void ThrowOutOfBounds(long byteOffset, int length, int elementSize)
    {
        ObjectDisposedException.ThrowIf(_block.IsClosed, this);
        throw new InvalidOperationException(
            $"Arena access out of bounds: {length} elements of {elementSize} bytes at byte offset {byteOffset} " +
            $"do not fit in the {Length}-byte arena. This is an EdgeCompile planner bug; " +
            "please report it with the .edgeplan file of the model.");
    }
}

/// <summary>A 64-byte-aligned block of native memory, freed by the handle (or its finalizer).</summary>
internal sealed unsafe class NativeBlock : SafeHandle
{
    private NativeBlock() : base(IntPtr.Zero, ownsHandle: true) { }

    public byte* Pointer => (byte*)handle;

    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>Allocates at least one cache line so that a zero-byte block still has a valid address.</summary>
    public static NativeBlock Allocate(long bytes, bool zero)
    {
        nuint size = (nuint)Math.Max(bytes, Arena.Alignment);
        var block = new NativeBlock();
        void* p = NativeMemory.AlignedAlloc(size, Arena.Alignment);
        if (zero) NativeMemory.Clear(p, size);
        block.SetHandle((IntPtr)p);
        return block;
    }

    protected override bool ReleaseHandle()
    {
        NativeMemory.AlignedFree((void*)handle);
        return true;
    }
}
