using Microsoft.Extensions.Logging;
using NUnit.Framework;

namespace Int4Train.Tests.Gpu;

/// <summary>The library logs through ILogger at Debug level (device, GEMM path, workspace), never to the console.</summary>
public sealed class NativeLoggingTests : GpuFixture
{
    internal sealed class ListLogger : ILogger
    {
        public List<string> Lines { get; } = new();
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel level, EventId id, TState state, Exception? ex, Func<TState, Exception?, string> formatter)
            => Lines.Add($"{level}: {formatter(state, ex)}");
    }

    [Test]
    public void DebugLog_NamesDevice_GemmPath_AndWorkspace()
    {
        var log = new ListLogger();
        using var ctx = CudaContext.Create(logger: log);
        var ops = new NativeOperators(ctx);
        using var a = ctx.Upload<sbyte>(new sbyte[64 * 64], 64, 64);
        using var c = ctx.Allocate<int>(64, 64);
        ops.GemmInt8(a, a, c);
        ctx.Synchronize();
        Assert.That(log.Lines, Has.Some.Contains(ctx.DeviceName));
        Assert.That(log.Lines, Has.Some.Contains("integer GEMMs on"));
        Assert.That(log.Lines.All(l => l.StartsWith("Debug", StringComparison.Ordinal)), Is.True, string.Join("\n", log.Lines));
    }
}
