using Microsoft.Extensions.Logging;
using Spectre.Console;

namespace Int4Train.Cli;

/// <summary>The console the commands write to: a live Spectre.Console display on an interactive terminal, plain log
/// lines when the output is redirected (CI, a pipe, a file) or with --plain: "HH:mm:ss message" (warnings and errors
/// say so), no category or event-id prefix, and no stack trace.</summary>
internal static class ConsoleUi
{
    /// <summary>Whether to draw live displays: stdout is a terminal and Spectre says it is interactive.</summary>
    public static bool Interactive(bool forcePlain) =>
        !forcePlain && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;

    /// <summary>The logger factory: through AnsiConsole when interactive (so log lines appear above a live progress
    /// bar), else plain lines written synchronously to <paramref name="plain"/> (so they keep their order with the
    /// command's other output).</summary>
    public static ILoggerFactory Logging(bool interactive, TextWriter plain) => LoggerFactory.Create(b =>
    {
        b.SetMinimumLevel(LogLevel.Information);
        b.AddProvider(new LineLoggerProvider(interactive ? Spectre : Plain(plain)));
    });

    /// <summary>The "int4train" logger of a factory.</summary>
    public static ILogger Logger(this ILoggerFactory factory) => factory.CreateLogger("int4train");

    private static void Spectre(LogLevel level, string text)
    {
        string tag = level switch
        {
            LogLevel.Information => "[grey]info[/]",
            LogLevel.Warning => "[yellow]warn[/]",
            _ => "[red]fail[/]",
        };
        AnsiConsole.MarkupLine($"[grey]{DateTime.Now:HH:mm:ss}[/] {tag} {Markup.Escape(text)}");
    }

    private static Action<LogLevel, string> Plain(TextWriter writer) => (level, text) =>
    {
        string tag = level switch { LogLevel.Warning => "warning: ", >= LogLevel.Error => "error: ", _ => "" };
        lock (writer) writer.WriteLine($"{DateTime.Now:HH:mm:ss} {tag}{text}");
    };

    private sealed class LineLoggerProvider(Action<LogLevel, string> sink) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new LineLogger(sink);
        public void Dispose() { }
    }

    private sealed class LineLogger(Action<LogLevel, string> sink) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            string text = formatter(state, exception);
            if (exception is not null) text += $" ({exception.Message})";
            sink(logLevel, text);
        }
    }
}
