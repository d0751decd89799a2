using System.Diagnostics;

namespace Int4Train.Tests.Distributed;

/// <summary>A stand-in libnccl.so.2 built with the C compiler: the NCCL entry points with the real signatures, which
/// record what they were called with (and check that the 128-byte unique id arrives by value), so the P/Invoke
/// binding, the library lookup and the communicator's abort/destroy logic can be tested without GPUs or NCCL.</summary>
internal static class NcclStub
{
    private const string Source = """
        #include <stdlib.h>
        #include <string.h>
        typedef struct { char internal[128]; } ncclUniqueId;
        static long calls; static size_t last_count; static int last_type, last_op, nranks_seen, rank_seen, aborted, destroyed, nvls;
        int ncclGetVersion(int* v) { const char* e = getenv("NCCL_NVLS_ENABLE"); nvls = e ? atoi(e) + 1 : -1; *v = 23203; return 0; }
        int ncclGetUniqueId(ncclUniqueId* id) { for (int i = 0; i < 128; i++) id->internal[i] = (char)i; return 0; }
        int ncclCommInitRank(void** comm, int nranks, ncclUniqueId id, int rank) {
          for (int i = 0; i < 128; i++) if ((unsigned char)id.internal[i] != (unsigned char)(i ^ 0x5a)) return 4;
          nranks_seen = nranks; rank_seen = rank; *comm = malloc(16); return 0; }
        int ncclAllReduce(const void* s, void* r, size_t count, int type, int op, void* comm, void* stream) {
          calls++; last_count = count; last_type = type; last_op = op; return (s == r && stream == (void*)0x77) ? 0 : 4; }
        int ncclGroupStart(void) { return 0; }
        int ncclGroupEnd(void) { return 0; }
        int ncclCommAbort(void* c) { aborted++; free(c); return 0; }
        int ncclCommDestroy(void* c) { destroyed++; free(c); return 0; }
        const char* ncclGetErrorString(int r) { return r == 4 ? "invalid argument (stub)" : "other error (stub)"; }
        long stub_calls(void) { return calls; }
        long stub_count(void) { return (long)last_count; }
        int stub_type(void) { return last_type; }
        int stub_op(void) { return last_op; }
        int stub_nranks(void) { return nranks_seen; }
        int stub_rank(void) { return rank_seen; }
        int stub_aborted(void) { return aborted; }
        int stub_destroyed(void) { return destroyed; }
        int stub_nvls(void) { return nvls; }
        """;

    /// <summary>Builds the stub into a fresh temporary folder; null (with the reason) without a working cc.</summary>
    public static string? Build(out string reason)
    {
        string dir = Directory.CreateTempSubdirectory("i4t-ncclstub-").FullName;
        string source = Path.Combine(dir, "stub.c"), library = Path.Combine(dir, "libnccl.so.2");
        File.WriteAllText(source, Source);
        try
        {
            using var cc = Process.Start(new ProcessStartInfo("cc", ["-shared", "-fPIC", "-o", library, source])
                { RedirectStandardError = true, RedirectStandardOutput = true })!;
            string errors = cc.StandardError.ReadToEnd();
            cc.WaitForExit();
            reason = cc.ExitCode == 0 ? "" : "cc failed: " + errors;
            return cc.ExitCode == 0 ? library : null;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            reason = "no C compiler (cc): " + e.Message;
            return null;
        }
    }
}
