using System.Runtime.InteropServices;
using System.Runtime.Loader;

namespace Int4Train.Distributed;

/// <summary>
/// Finds and loads NCCL (libnccl.so.2) for <see cref="NcclNative"/>: the file named by <c>NCCL_LIBRARY</c> (only
/// that file when set: a wrong path is an error, not a silent fallback), then the lib folder of the Python
/// <c>nvidia-nccl-cu12</c> package in the active virtual environment, conda prefix, PYTHONPATH, user and system
/// site-packages, then the system loader's own search (the distro's libnccl2). Also applies NCCL settings this
/// library relies on before NCCL first reads its environment: <c>NCCL_NVLS_ENABLE=0</c> unless the user set it
/// (NVLink multicast stays off, see docs/scaling.md).
/// </summary>
public static partial class NcclLibrary
{
    /// <summary>How to get NCCL, for error messages.</summary>
    public const string InstallHint = "install it with `pip install nvidia-nccl-cu12` (into the Python environment that is active, or set "
        + "NCCL_LIBRARY to its nvidia/nccl/lib/libnccl.so.2) or with the distribution's package (apt install libnccl2)";

    private const string FileName = "libnccl.so.2";
    private static readonly Lock Gate = new();
    private static IntPtr _handle;

    /// <summary>Loads NCCL once per process and applies the environment defaults; throws an
    /// <see cref="Int4TrainException"/> (<see cref="NativeErrorKind.NotSupported"/>) saying how to install it when it
    /// is missing.</summary>
    public static void EnsureLoaded()
    {
        lock (Gate)
        {
            if (_handle != IntPtr.Zero) return;
            ApplyEnvironmentDefaults();
            if (!TryLoad(Environment.GetEnvironmentVariable, out IntPtr handle, out string reason))
                throw new Int4TrainException(reason, NativeErrorKind.NotSupported);
            _handle = handle;
            // The assembly's DllImport resolver belongs to libint4train's loader (one per assembly), so NCCL is handed
            // over by the load context's fallback event instead; NcclNative.Library is a name no default probe finds,
            // so the event always decides, and NCCL_LIBRARY keeps its priority over a system libnccl.
            var context = AssemblyLoadContext.GetLoadContext(typeof(NcclLibrary).Assembly) ?? AssemblyLoadContext.Default;
            context.ResolvingUnmanagedDll += (_, name) => name == NcclNative.Library ? _handle : IntPtr.Zero;
        }
    }

    /// <summary>True when NCCL loads; otherwise the reason (with <see cref="InstallHint"/>).</summary>
    public static bool IsAvailable(out string reason)
    {
        try { EnsureLoaded(); reason = ""; return true; }
        catch (Int4TrainException e) { reason = e.Message; return false; }
    }

    /// <summary>NCCL's version as major·10000 + minor·100 + patch (ncclGetVersion).</summary>
    public static int Version()
    {
        EnsureLoaded();
        NcclNative.Check(NcclNative.ncclGetVersion(out int v), "ncclGetVersion");
        return v;
    }

    /// <summary>Loads NCCL from the first candidate that loads, reading variables through
    /// <paramref name="getVariable"/>; the reason lists what was tried when none does.</summary>
    internal static bool TryLoad(Func<string, string?> getVariable, out IntPtr handle, out string reason)
    {
        string? explicitPath = getVariable("NCCL_LIBRARY");
        if (!string.IsNullOrWhiteSpace(explicitPath))
        {
            if (NativeLibrary.TryLoad(explicitPath, out handle)) { reason = ""; return true; }
            reason = File.Exists(explicitPath)
                ? $"NCCL_LIBRARY={explicitPath} exists but did not load (a CUDA driver or dependency missing, or not libnccl?); {InstallHint}."
                : $"NCCL_LIBRARY={explicitPath} does not exist; unset it or point it to libnccl.so.2, or {InstallHint}.";
            return false;
        }
        var tried = new List<string>();
        foreach (string candidate in PythonPackageCandidates(getVariable))
        {
            if (!File.Exists(candidate)) continue;
            if (NativeLibrary.TryLoad(candidate, out handle)) { reason = ""; return true; }
            tried.Add(candidate);
        }
        if (NativeLibrary.TryLoad(FileName, out handle)) { reason = ""; return true; }
        reason = "NCCL (libnccl.so.2) is needed for training on several GPUs but was not found"
            + (tried.Count > 0 ? $" (found but not loadable: {string.Join(", ", tried)})" : "") + $"; {InstallHint}.";
        return false;
    }

    /// <summary>Where pip puts nvidia-nccl-cu12's library: &lt;site-packages&gt;/nvidia/nccl/lib/libnccl.so.2.</summary>
    internal static IEnumerable<string> PythonPackageCandidates(Func<string, string?> getVariable)
    {
        var roots = new List<string>();
        foreach (string prefixVar in new[] { "VIRTUAL_ENV", "CONDA_PREFIX" })
            if (getVariable(prefixVar) is { Length: > 0 } prefix) roots.AddRange(SitePackagesUnder(Path.Combine(prefix, "lib")));
        if (getVariable("PYTHONPATH") is { Length: > 0 } pythonPath)
            roots.AddRange(pythonPath.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries));
        if (getVariable("HOME") is { Length: > 0 } home) roots.AddRange(SitePackagesUnder(Path.Combine(home, ".local", "lib")));
        foreach (string system in new[] { "/usr/local/lib", "/usr/lib" }) roots.AddRange(SitePackagesUnder(system));
        return roots.Select(r => Path.Combine(r, "nvidia", "nccl", "lib", FileName)).Distinct();
    }

    private static IEnumerable<string> SitePackagesUnder(string libDir)
    {
        if (!Directory.Exists(libDir)) return [];
        try
        {
            return Directory.EnumerateDirectories(libDir, "python3*").Order()
                .SelectMany(py => new[] { Path.Combine(py, "site-packages"), Path.Combine(py, "dist-packages") });
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return []; }
    }

    /// <summary>Sets NCCL_NVLS_ENABLE=0 in the native environment unless already set. .NET's
    /// Environment.SetEnvironmentVariable does not reach the C library's environ on Unix, and NCCL reads its
    /// settings with getenv, hence setenv.</summary>
    internal static void ApplyEnvironmentDefaults()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("NCCL_NVLS_ENABLE") is not null) return;
        Environment.SetEnvironmentVariable("NCCL_NVLS_ENABLE", "0");
        _ = setenv("NCCL_NVLS_ENABLE", "0", 0);
    }

    [LibraryImport("libc.so.6", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int setenv(string name, string value, int overwrite);
}
