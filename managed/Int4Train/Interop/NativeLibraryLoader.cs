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
        NativeLibrary.SetDllImportResolver(typeof(NativeLibraryLoader).Assembly, Resolve);
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? path)
    {
        if (name != NativeMethods.Library) return IntPtr.Zero;
        foreach (string candidate in Candidates())
            if (File.Exists(candidate) && NativeLibrary.TryLoad(candidate, out IntPtr h)) return h;
        return NativeLibrary.TryLoad(name, assembly, path, out IntPtr fallback) ? fallback : IntPtr.Zero;
    }

    internal static IEnumerable<string> Candidates()
    {
        string file = OperatingSystem.IsWindows() ? "int4train.dll" : OperatingSystem.IsMacOS() ? "libint4train.dylib" : "libint4train.so";
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
