using System.Reflection;
using System.Runtime.InteropServices;

namespace Int4Train.Interop;

/// <summary>
/// Finds libint4train: the directory named by <c>INT4TRAIN_NATIVE_DIR</c>, the application folder, then the CMake
/// build folders of a source checkout (<c>build/native</c> above the application folder). Reports why it failed,
/// so "no GPU" and "library not built" read differently.
/// </summary>
internal static class NativeLibraryLoader
{
    private static int _registered;

    internal static void EnsureRegistered()
    {
        if (Interlocked.Exchange(ref _registered, 1) == 1) return;
        Register(typeof(NativeLibraryLoader).Assembly, NativeMethods.Library);
    }

    /// <summary>Resolves <paramref name="library"/> (a base name such as "int4train" or "int4train_bench") for the
    /// P/Invokes of <paramref name="assembly"/> through <see cref="Candidates"/>: one search rule for the library and
    /// the benchmark.</summary>
    internal static void Register(Assembly assembly, string library) =>
        NativeLibrary.SetDllImportResolver(assembly, (name, asm, path) =>
        {
            if (name != library) return IntPtr.Zero;
            foreach (string candidate in Candidates(library))
                if (File.Exists(candidate) && NativeLibrary.TryLoad(candidate, out IntPtr h)) return h;
            return NativeLibrary.TryLoad(name, asm, path, out IntPtr fallback) ? fallback : IntPtr.Zero;
        });

    /// <summary>The files tried for <paramref name="library"/>, in order.</summary>
    internal static IEnumerable<string> Candidates(string library = NativeMethods.Library)
    {
        string file = OperatingSystem.IsWindows() ? $"{library}.dll" : OperatingSystem.IsMacOS() ? $"lib{library}.dylib" : $"lib{library}.so";
        string? env = Environment.GetEnvironmentVariable("INT4TRAIN_NATIVE_DIR");
        if (!string.IsNullOrEmpty(env)) yield return Path.Combine(env, file);
        yield return Path.Combine(AppContext.BaseDirectory, file);
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        for (int up = 0; up < 8 && dir != null; up++, dir = dir.Parent)
        {
            yield return Path.Combine(dir.FullName, "build", "native", file);
            yield return Path.Combine(dir.FullName, "build", file);
        }
    }
}
