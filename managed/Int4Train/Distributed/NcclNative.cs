using System.Runtime.InteropServices;

namespace Int4Train.Distributed;

/// <summary>ncclResult_t (nccl.h).</summary>
internal enum NcclResult
{
    Success = 0, UnhandledCudaError = 1, SystemError = 2, InternalError = 3, InvalidArgument = 4, InvalidUsage = 5,
    RemoteError = 6, InProgress = 7,
}

/// <summary>ncclDataType_t values this library uses (nccl.h).</summary>
internal enum NcclDataType { Float32 = 7, Float64 = 8 }

/// <summary>ncclRedOp_t values this library uses (nccl.h; ncclAvg needs NCCL ≥ 2.10).</summary>
internal enum NcclRedOp { Sum = 0, Avg = 4 }

/// <summary>ncclUniqueId: 128 opaque bytes that rank 0 creates and every rank passes to ncclCommInitRank.</summary>
[StructLayout(LayoutKind.Sequential, Size = NcclNative.UniqueIdBytes)]
internal unsafe struct NcclUniqueId
{
    public fixed byte Bytes[NcclNative.UniqueIdBytes];

    public static NcclUniqueId From(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != NcclNative.UniqueIdBytes)
            throw new ArgumentException($"An NCCL unique id has {NcclNative.UniqueIdBytes} bytes, got {bytes.Length}.", nameof(bytes));
        var id = new NcclUniqueId();
        bytes.CopyTo(new Span<byte>(id.Bytes, NcclNative.UniqueIdBytes));
        return id;
    }

    public byte[] ToArray()
    {
        fixed (byte* p = Bytes) return new ReadOnlySpan<byte>(p, NcclNative.UniqueIdBytes).ToArray();
    }
}

/// <summary>
/// The P/Invoke declarations of NCCL's stable C API (nccl.h), one for one. The library name is resolved by
/// <see cref="NcclLibrary"/> (NCCL_LIBRARY, the Python nvidia-nccl package, the system's libnccl.so.2); call
/// <see cref="NcclLibrary.EnsureLoaded"/> first so a missing NCCL is one clear error, not a DllNotFoundException.
/// ncclComm_t and cudaStream_t are opaque pointers.
/// </summary>
internal static partial class NcclNative
{
    /// <summary>Not a file name: <see cref="NcclLibrary"/> resolves it to the libnccl.so.2 it loaded.</summary>
    internal const string Library = "int4train-nccl";
    internal const int UniqueIdBytes = 128; // NCCL_UNIQUE_ID_BYTES

    [LibraryImport(Library)] internal static partial NcclResult ncclGetVersion(out int version);
    [LibraryImport(Library)] internal static partial NcclResult ncclGetUniqueId(out NcclUniqueId uniqueId);
    [LibraryImport(Library)] internal static partial NcclResult ncclCommInitRank(out IntPtr comm, int nranks, NcclUniqueId commId, int rank);
    [LibraryImport(Library)] internal static partial NcclResult ncclAllReduce(IntPtr sendbuff, IntPtr recvbuff, nuint count,
        NcclDataType datatype, NcclRedOp op, NcclCommSafeHandle comm, IntPtr stream);
    [LibraryImport(Library)] internal static partial NcclResult ncclGroupStart();
    [LibraryImport(Library)] internal static partial NcclResult ncclGroupEnd();
    [LibraryImport(Library)] internal static partial NcclResult ncclCommAbort(IntPtr comm);
    [LibraryImport(Library)] internal static partial NcclResult ncclCommDestroy(IntPtr comm);
    [LibraryImport(Library)] internal static partial IntPtr ncclGetErrorString(NcclResult result);

    /// <summary>Throws an <see cref="Int4TrainException"/> naming the call and NCCL's own text for a failure.</summary>
    internal static void Check(NcclResult result, string operation)
    {
        if (result == NcclResult.Success) return;
        string text = Marshal.PtrToStringUTF8(ncclGetErrorString(result)) ?? "unknown error";
        var kind = result == NcclResult.UnhandledCudaError ? NativeErrorKind.Cuda : NativeErrorKind.Internal;
        throw new Int4TrainException($"{operation} failed: {text} (ncclResult {(int)result}). Set NCCL_DEBUG=WARN for NCCL's own log.", kind);
    }
}
