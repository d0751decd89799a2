using NUnit.Framework;

namespace Int4Train.Tests;

/// <summary>The source repository the test binaries were built in, for tests that read its files or run its scripts.</summary>
internal static class RepositoryRoot
{
    /// <summary>The first folder above the test binaries that holds Int4Train.sln; the test is inconclusive (Assume)
    /// when there is none (binaries copied elsewhere).</summary>
    public static string Find()
    {
        string? dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "Int4Train.sln"))) dir = Path.GetDirectoryName(dir);
        Assume.That(dir, Is.Not.Null, "the repository is not above the test binaries");
        return dir!;
    }
}
