using System.CommandLine;
using Int4Train.Training;

namespace Int4Train.Cli;

/// <summary>
/// The int4train command line on System.CommandLine: the command tree, help for every command and option,
/// <c>--version</c>, and one error policy for all commands. A bad command line is one line naming the problem plus
/// a usage hint (exit 2); a run that fails on something the user can fix (a file, data, a checkpoint, a folder
/// holding another run) is one line (exit 1); anything else is one line too, with the stack trace only when
/// INT4TRAIN_DEBUG=1 (exit 70). Never a stack trace by default.
/// </summary>
internal static class CliApp
{
    /// <summary>Exit code of a bad command line.</summary>
    public const int UsageError = 2;
    /// <summary>Exit code of a run that failed on a user-fixable problem.</summary>
    public const int RunError = 1;
    /// <summary>Exit code of an unexpected failure (a bug).</summary>
    public const int InternalError = 70;

    /// <summary>Parses and runs a command line; <paramref name="output"/> and <paramref name="error"/> default to the console.</summary>
    public static int Run(string[] args, TextWriter? output = null, TextWriter? error = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        output ??= Console.Out;
        error ??= Console.Error;
        // `int4train` and `int4train help [command]` show the help, as `--help` does
        if (args.Length == 0) args = ["--help"];
        else if (args[0] == "help") args = [.. args.Skip(1), "--help"];
        var root = Root();
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0 && parse.Action is not System.CommandLine.Help.HelpAction)
        {
            string path = CommandPath(parse.CommandResult.Command);
            // the most specific error first: an unknown word explains a missing command
            var first = parse.Errors.FirstOrDefault(e => e.Message.StartsWith("Unrecognized", StringComparison.Ordinal)) ?? parse.Errors[0];
            error.WriteLine($"{path}: {OneLine(first.Message)}");
            error.WriteLine($"usage: {path} [options]; '{path} --help' lists them.");
            return UsageError;
        }
        return parse.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
    }

    /// <summary>The command tree.</summary>
    public static Command Root()
    {
        var root = new Command("int4train", "Training transformers with 4-bit integers (HQ forward, bit split + LSS backward): train a " +
            "character-level GPT with INT4 block linears, compare precisions, sample and export checkpoints.")
        {
            TrainCommand.Create(), DemoCommand.Create(), CompareCommand.Create(), SampleCommand.Create(), ExportCommand.Create(), LayerDemo.Create(),
        };
        root.Options.Add(new System.CommandLine.Help.HelpOption());
        root.Options.Add(new VersionOption());
        return root;
    }

    /// <summary>Sets a command's action under the error policy: user errors are one line and exit 1, bugs one line
    /// and exit 70 (the stack trace only with INT4TRAIN_DEBUG=1).</summary>
    public static void SetAction(Command command, Func<ParseResult, TextWriter, int> action)
    {
        command.SetAction(p =>
        {
            var output = p.InvocationConfiguration.Output;
            var error = p.InvocationConfiguration.Error;
            string path = CommandPath(command);
            try
            {
                return action(p, output);
            }
            catch (Exception e) when (IsUserError(e))
            {
                error.WriteLine($"{path}: {Message(e, command.Name)}");
                return RunError;
            }
            catch (Exception e)
            {
                error.WriteLine($"{path}: internal error ({e.GetType().Name}): {e.Message}");
                if (Environment.GetEnvironmentVariable("INT4TRAIN_DEBUG") == "1") error.WriteLine(e);
                else error.WriteLine("  this is a bug; run with INT4TRAIN_DEBUG=1 for the stack trace and report it.");
                return InternalError;
            }
        });
    }

    /// <summary>Errors a user can fix (options, files, data, a checkpoint, a GPU model that cannot run here).</summary>
    public static bool IsUserError(Exception e) =>
        e is ArgumentException or IOException or InvalidDataException or FormatException or NotSupportedException
            or UnauthorizedAccessException or Int4TrainException;

    /// <summary>An exception's message for a user: without .NET's " (Parameter 'x')" suffix; a folder holding a run
    /// says which option continues or replaces it.</summary>
    public static string Message(Exception e, string command)
    {
        ArgumentNullException.ThrowIfNull(e);
        if (e is RunExistsException r)
        {
            string resume = command == "compare" ? "--continue" : $"--resume {RunFolder.CheckpointPath(r.Folder)}";
            return $"'{r.Folder}' already holds a run ({string.Join(", ", r.Files)}): continue it with {resume}, " +
                "replace it with --overwrite, or choose another --out.";
        }
        return e is ArgumentException { ParamName: string p } ? e.Message.Replace($" (Parameter '{p}')", "", StringComparison.Ordinal) : e.Message;
    }

    /// <summary>A message on one line (System.CommandLine lists the accepted values of a choice one per line).</summary>
    private static string OneLine(string message) =>
        string.Join(" ", message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    private static string CommandPath(Command c) =>
        c.Parents.OfType<Command>().FirstOrDefault() is { } parent ? $"{CommandPath(parent)} {c.Name}" : c.Name;
}
