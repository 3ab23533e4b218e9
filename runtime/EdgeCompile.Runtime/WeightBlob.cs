using System;
using System.IO;
using System.Reflection;
using System.Runtime.CompilerServices;

namespace EdgeCompile.Runtime;

/// <summary>
/// The packed weights of a model: a little-endian blob that the build embeds in the consuming
/// assembly as a manifest resource. Generated code reads typed views with <see cref="Get{T}"/>.
/// </summary>
/// <remarks>
/// <para>When the runtime maps the resource in memory (an assembly loaded from a file or from a
/// byte array by the CLR loader: <see cref="Assembly.GetManifestResourceStream(string)"/> returns an
/// <see cref="UnmanagedMemoryStream"/>), the weights are read in place: no copy, the stream is kept
/// referenced so the image (and, for a collectible load context, the assembly) stays alive.</para>
/// <para>Otherwise (a resource served as a managed stream, e.g. by a dynamic or custom
/// <see cref="Assembly"/> implementation) the blob is copied once into 64-byte-aligned native
/// memory owned by this object.</para>
/// <para>Views may be unaligned (the blob is packed); reading <see cref="float"/> and other
/// primitives through an unaligned span is supported by .NET on x64 and ARM64.</para>
/// </remarks>
public sealed unsafe class WeightBlob : IDisposable
{
    private readonly byte* _pointer;
    private readonly long _length;
    private readonly IDisposable? _owner; // the resource stream (in place) or the native copy
    private bool _disposed;

    private WeightBlob(byte* pointer, long length, IDisposable? owner)
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("EdgeCompile weights are little-endian; big-endian platforms are not supported.");
        _pointer = pointer;
        _length = length;
        _owner = owner;
    }

    /// <summary>The size of the blob in bytes.</summary>
    public long Length => _length;

    /// <summary>Whether the weights are read in place from the mapped assembly image (no copy).</summary>
    public bool IsMappedInPlace { get; private init; }

    /// <summary>
    /// Opens the weights blob embedded in <paramref name="assembly"/> as the manifest resource
    /// <paramref name="resourceName"/> and checks its size is <paramref name="expectedBytes"/>.
    /// A model without weights (<paramref name="expectedBytes"/> 0) needs no resource.
    /// </summary>
    /// <exception cref="InvalidOperationException">The resource is missing or has the wrong size.</exception>
    public static WeightBlob FromResource(Assembly assembly, string resourceName, long expectedBytes)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        ArgumentNullException.ThrowIfNull(resourceName);
        ArgumentOutOfRangeException.ThrowIfNegative(expectedBytes);

        Stream? stream = assembly.GetManifestResourceStream(resourceName);
        if (stream is null)
        {
            if (expectedBytes == 0) return FromBytes(ReadOnlySpan<byte>.Empty);
            throw new InvalidOperationException(
                $"The weights of this model are missing: assembly '{assembly.FullName}' has no manifest resource " +
                $"'{resourceName}' ({expectedBytes} bytes expected). The EdgeCompile build targets embed it; check that " +
                "the project that declares the <EdgeModel> item is the one that contains the generated class, that its " +
                "LogicalName/RootNamespace were not changed after the build, and rebuild.");
        }

        try
        {
            if (stream.Length != expectedBytes)
            {
                throw new InvalidOperationException(
                    $"The weights resource '{resourceName}' in assembly '{assembly.FullName}' is {stream.Length} bytes, " +
                    $"but the generated model expects {expectedBytes}. The weights and the generated code come from " +
                    "different builds: do a clean rebuild of the project.");
            }

            if (stream is UnmanagedMemoryStream unmanaged)
            {
                byte* p = unmanaged.PositionPointer;
                return new WeightBlob(p, expectedBytes, unmanaged) { IsMappedInPlace = true };
            }

            var block = NativeBlock.Allocate(expectedBytes, zero: false);
            var target = block.Pointer;
            long done = 0;
            while (done < expectedBytes)
            {
                int chunk = (int)Math.Min(expectedBytes - done, 1 << 30);
                int read = stream.Read(new Span<byte>(target + done, chunk));
                if (read <= 0)
                {
                    block.Dispose();
                    throw new InvalidOperationException(
                        $"The weights resource '{resourceName}' in assembly '{assembly.FullName}' ended after {done} of {expectedBytes} bytes.");
                }
                done += read;
            }
            stream.Dispose();
            return new WeightBlob(target, expectedBytes, block);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>A blob holding a copy of <paramref name="bytes"/> (tests, tools).</summary>
    public static WeightBlob FromBytes(ReadOnlySpan<byte> bytes)
    {
        var block = NativeBlock.Allocate(bytes.Length, zero: true);
        bytes.CopyTo(new Span<byte>(block.Pointer, bytes.Length));
        return new WeightBlob(block.Pointer, bytes.Length, block);
    }

    /// <summary>
    /// A view of <paramref name="length"/> elements of type <typeparamref name="T"/> starting
    /// <paramref name="byteOffset"/> bytes into the blob (little-endian, possibly unaligned).
    /// </summary>
    /// <exception cref="InvalidOperationException">The view would leave the blob (a planner bug or a stale blob).</exception>
    /// <exception cref="ObjectDisposedException">The blob was disposed.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ReadOnlySpan<T> Get<T>(long byteOffset, int length) where T : unmanaged
    {
        if ((ulong)byteOffset > (ulong)_length || (uint)length > (ulong)(_length - byteOffset) / (ulong)sizeof(T) || _disposed)
            ThrowOutOfBounds(byteOffset, length, sizeof(T));
        return new ReadOnlySpan<T>(_pointer + byteOffset, length);
    }

    /// <summary>Releases the resource stream or the native copy. Idempotent.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _owner?.Dispose();
    }

    private void ThrowOutOfBounds(long byteOffset, int length, int elementSize)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        throw new InvalidOperationException(
            $"Weights access out of bounds: {length} elements of {elementSize} bytes at byte offset {byteOffset} " +
            $"do not fit in the {_length}-byte weights blob. This is an EdgeCompile planner bug; " +
            "please report it with the .edgeplan file of the model.");
    }
}
