using System.Diagnostics;
using System.Reflection;
using NUnit.Framework;

using Int4Train.Tests.Gpu;

namespace Int4Train.Tests.Core;

/// <summary>Issue 13: "the whole GPU suite under compute-sanitizer", split into parts so that each tool finishes inside one
/// device call (tests/run_sanitizers.sh). A test class added without a part would silently never run under a tool (the
/// ablation and smoothing tests and two DeviceGptTests cases had none until 2026-12-02), so this CPU test lists the
/// default parts' filters (SANITIZER_LIST=1) and checks that every GPU test matches at least one of them.</summary>
[TestFixture]
public class SanitizerPartsTests
{
    [Test]
    public void TheDefaultParts_CoverEveryGpuTest()
    {
        var parts = ListParts();
        Assert.That(parts.Select(p => p.Part), Does.Contain("selftest"), "the native self-test is a part");
        var filters = parts.Where(p => p.Filter != "-").Select(p => p.Filter).ToList();
        var uncovered = GpuTestNames().Where(name => !filters.Any(f => Matches(f, name))).ToList();
        Assert.That(uncovered, Is.Empty, "GPU tests no default sanitizer part runs (add them to filter_of and PARTS)");
    }

    [TestCase("TestCategory=gpu&FullyQualifiedName!~DeviceGpt", "Int4Train.Tests.Gpu.NativeForwardTests.HqForward_X", true)]
    [TestCase("TestCategory=gpu&FullyQualifiedName!~DeviceGpt", "Int4Train.Tests.Gpu.DeviceGptTests.Fp32_X", false)]
    [TestCase("FullyQualifiedName~A.B|FullyQualifiedName~C", "x.C.y", true)]
    [TestCase("FullyQualifiedName~A.B|FullyQualifiedName~C", "x.A.y", false)]
    public void TheFilterReading_FollowsTheTestPlatformsSyntax(string filter, string name, bool expected) =>
        Assert.That(Matches(filter, name), Is.EqualTo(expected));

    // The filters run_sanitizers.sh writes: alternatives joined by '|', each a conjunction of terms joined by '&' (it
    // never mixes them with parentheses): FullyQualifiedName~S (contains), FullyQualifiedName!~S (does not contain),
    // TestCategory=gpu (every test asked about here is one).
    private static bool Matches(string filter, string name) =>
        filter.Split('|').Any(alternative => alternative.Split('&').All(term => term switch
        {
            "TestCategory=gpu" => true,
            _ when term.StartsWith("FullyQualifiedName!~", StringComparison.Ordinal) => !name.Contains(term["FullyQualifiedName!~".Length..], StringComparison.Ordinal),
            _ when term.StartsWith("FullyQualifiedName~", StringComparison.Ordinal) => name.Contains(term["FullyQualifiedName~".Length..], StringComparison.Ordinal),
            _ => throw new AssertionException($"a filter term this test does not know: '{term}' in '{filter}'"),
        }));

    // Every test method of every GpuFixture class (the gpu category), by its fully qualified name.
    private static List<string> GpuTestNames()
    {
        var names = typeof(GpuFixture).Assembly.GetTypes()
            .Where(t => t.IsClass && !t.IsAbstract && t.IsSubclassOf(typeof(GpuFixture)))
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly)
                .Where(m => m.GetCustomAttributes().Any(a => a is TestAttribute or TestCaseAttribute or TestCaseSourceAttribute))
                .Select(m => $"{t.FullName}.{m.Name}"))
            .Distinct().ToList();
        Assert.That(names, Has.Count.GreaterThan(50), "the GPU tests were found");
        return names;
    }

    private static List<(string Part, string Filter)> ListParts()
    {
        string root = RepositoryRoot.Find();
        var psi = new ProcessStartInfo("bash", [Path.Combine(root, "tests", "run_sanitizers.sh")])
        {
            WorkingDirectory = root, RedirectStandardOutput = true, RedirectStandardError = true,
            Environment = { ["SANITIZER_LIST"] = "1", ["OUT"] = Path.Combine(Path.GetTempPath(), $"i4t-sanitizer-list-{Environment.ProcessId}") },
        };
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd(), error = p.StandardError.ReadToEnd();
        Assert.That(p.WaitForExit(TimeSpan.FromMinutes(1)), "finished");
        Assert.That(p.ExitCode, Is.Zero, error);
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('\t'))
            .Select(f => (f[0], f[1])).ToList();
    }
}
