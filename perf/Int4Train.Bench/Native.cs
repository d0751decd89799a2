using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Int4Train.Bench;

/// <summary>The result struct of int4train_bench_run (native/include/int4train_bench.h), same layout.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct BenchResult
{
    public double MedianMs, MinMs, P90Ms, MeanMs, Ops;
    public int Runs, CheckOk;
    public double CheckErr;
    public fixed byte CheckText[160];

    public readonly string Text
    {
        get
        {
            fixed (byte* p = CheckText) return Marshal.PtrToStringUTF8((IntPtr)p) ?? "";
        }
    }
}

/// <summary>P/Invoke of libint4train_bench: the int4train_* API it shares with libint4train plus the bench entry points.</summary>
internal static unsafe partial class Native
{
    internal const string Library = "int4train_bench";

    // The library's own search rule (Int4Train.Interop.NativeLibraryLoader), for libint4train_bench.
    static Native() => Int4Train.Interop.NativeLibraryLoader.Register(typeof(Native).Assembly, Library);

    internal static void EnsureLoaded() => RuntimeHelpers.RunClassConstructor(typeof(Native).TypeHandle);

    [LibraryImport(Library, EntryPoint = "int4train_last_error")]
    private static partial IntPtr LastErrorPtr();
    internal static string LastError() => Marshal.PtrToStringUTF8(LastErrorPtr()) ?? "";

    [LibraryImport(Library, EntryPoint = "int4train_context_create")]
    internal static partial int ContextCreate(int device, out IntPtr ctx);

    [LibraryImport(Library, EntryPoint = "int4train_context_destroy")]
    internal static partial int ContextDestroy(IntPtr ctx);

    [LibraryImport(Library, EntryPoint = "int4train_context_info")]
    internal static partial int ContextInfo(IntPtr ctx, byte* name, int nameCapacity, out int computeCapability, out nuint workspaceBytes);

    [LibraryImport(Library, EntryPoint = "int4train_bench_run", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int BenchRun(IntPtr ctx, string op, int m, int n, int k, int group, int warmup, int runs, int sets,
                                         ulong seed, out BenchResult result);

    [LibraryImport(Library, EntryPoint = "int4train_bench_phases", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int BenchPhases(IntPtr ctx, string which, int m, int n, int k, int group, int runs, ulong seed,
                                            byte* names, int namesCap, double* ms, int msCap, out int count);

    [LibraryImport(Library, EntryPoint = "int4train_bench_graph")]
    internal static partial int BenchGraph(IntPtr ctx, int m, int n, int k, int group, int runs, ulong seed, out int captured,
                                           out int identical, out double replayMs, byte* msg, int msgCap);

    [LibraryImport(Library, EntryPoint = "int4train_bench_gemm_configs")]
    internal static partial int BenchGemmConfigs(int m, int n, int k, byte* text, int cap, out int count, out int pick);

    internal static void Check(int status, string what)
    {
        if (status != 0) throw new BenchException($"{what}: status {status}: {LastError()}");
    }
}

internal sealed class BenchException(string message) : Exception(message);
