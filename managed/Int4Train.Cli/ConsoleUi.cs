using Microsoft.Extensions.Logging;
using Spectre.Console;

namespace Int4Train.Cli;

/// <summary>The console the commands write to: a live Spectre.Console display on an interactive terminal, plain log
/// lines when the output is redirected (CI, a pipe, a file) or with --plain.</summary>
internal static class ConsoleUi
{
    /// <summary>Whether to draw live displays: stdout is a terminal and Spectre says it is interactive.</summary>
    public static bool Interactive(bool forcePlain) =>
        !forcePlain && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;

    /// <summary>The logger factory: through AnsiConsole when interactive (so log lines appear above a live progress bar),
    /// else Microsoft's simple console logger, one line per message.</summary>
    public static ILoggerFactory Logging(bool interactive) => LoggerFactory.Create(b =>
    {
        b.SetMinimumLevel(LogLevel.Information);
        if (interactive) b.AddProvider(new SpectreLoggerProvider());
        else b.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
    });

    private sealed class SpectreLoggerProvider : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new SpectreLogger();
        public void Dispose() { }
    }

    private sealed class SpectreLogger : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            string level = logLevel switch
            {
                LogLevel.Information => "[grey]info[/]",
                LogLevel.Warning => "[yellow]warn[/]",
                _ => "[red]fail[/]",
            };
            string text = formatter(state, exception) + (exception is null ? "" : Environment.NewLine + exception);
            AnsiConsole.MarkupLine($"[grey]{DateTime.Now:HH:mm:ss}[/] {level} {Markup.Escape(text)}");
        }
    }
}
