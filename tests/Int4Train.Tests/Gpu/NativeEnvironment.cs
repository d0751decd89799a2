using System.Runtime.InteropServices;
using NUnit.Framework;

namespace Int4Train.Tests.Gpu;

/// <summary>
/// The native library's switches that <c>int4train_gpt_create</c> reads from the process environment (getenv):
/// .NET's Environment.SetEnvironmentVariable does not change that environment on Unix, so they go through libc.
/// </summary>
internal static partial class NativeEnvironment
{
    [LibraryImport("libc.so.6", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);
    [LibraryImport("libc.so.6", EntryPoint = "unsetenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int UnsetEnv(string name);

    /// <summary>What <paramref name="create"/> makes while <paramref name="name"/> = <paramref name="value"/> (unset
    /// again afterwards).</summary>
    public static T With<T>(string name, string value, Func<T> create)
    {
        Assert.That(SetEnv(name, value, 1), Is.Zero, "setenv");
        try { return create(); }
        finally { UnsetEnv(name); }
    }
}
