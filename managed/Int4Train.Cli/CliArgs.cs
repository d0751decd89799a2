using System.Globalization;

namespace Int4Train.Cli;

/// <summary>The options of one command (<c>--name value</c> pairs and <c>--flag</c> switches), checked against the
/// names the command knows, with clear messages for unknown options, missing values and bad numbers.</summary>
internal sealed class CliArgs
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);

    /// <summary>Parses <paramref name="args"/> for <paramref name="command"/>; <paramref name="valued"/> take a value,
    /// <paramref name="flags"/> do not. Throws <see cref="ArgumentException"/> naming the problem.</summary>
    public CliArgs(string command, string[] args, IReadOnlyCollection<string> valued, IReadOnlyCollection<string> flags)
    {
        Command = command;
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            if (flags.Contains(a)) { _values[a] = null; continue; }
            if (!valued.Contains(a))
            {
                string known = string.Join(" ", valued.Concat(flags).Order(StringComparer.Ordinal));
                throw new ArgumentException(a.StartsWith("--", StringComparison.Ordinal)
                    ? $"{command}: unknown option '{a}'; known options: {known}."
                    : $"{command}: unexpected argument '{a}' (options are written --name value); known options: {known}.");
            }
            if (i + 1 >= args.Length || args[i + 1].StartsWith("--", StringComparison.Ordinal))
                throw new ArgumentException($"{command}: option {a} needs a value.");
            if (_values.ContainsKey(a)) throw new ArgumentException($"{command}: option {a} is given twice.");
            _values[a] = args[++i];
        }
    }

    /// <summary>The command's name, for messages.</summary>
    public string Command { get; }

    /// <summary>The value of an option, or null when absent.</summary>
    public string? Get(string name) => _values.TryGetValue(name, out var v) ? v : null;

    /// <summary>Whether a flag (or option) was given.</summary>
    public bool Has(string name) => _values.ContainsKey(name);

    /// <summary>An integer option in [min, max], or the default when absent.</summary>
    public long Long(string name, long fallback, long min = 1, long max = long.MaxValue)
    {
        string? s = Get(name);
        if (s is null) return fallback;
        if (!long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out long v))
            throw new ArgumentException($"{Command}: {name} expects an integer, got '{s}'.");
        if (v < min || v > max)
            throw new ArgumentException($"{Command}: {name} must be {(max == long.MaxValue ? $"at least {min}" : $"in [{min}, {max}]")}, got {v}.");
        return v;
    }

    /// <summary>An int option in [min, max], or the default when absent.</summary>
    public int Int(string name, int fallback, int min = 1, int max = int.MaxValue) => (int)Long(name, fallback, min, max);

    /// <summary>One of a fixed set of words, or the default when absent.</summary>
    public string Choice(string name, string fallback, IReadOnlyCollection<string> choices)
    {
        string v = Get(name) ?? fallback;
        return choices.Contains(v) ? v
            : throw new ArgumentException($"{Command}: {name} must be one of {string.Join("|", choices)}, got '{v}'.");
    }
}
