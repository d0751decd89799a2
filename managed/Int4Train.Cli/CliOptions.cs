using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Int4Train.Cli;

/// <summary>The option kinds every command builds its options from, so a number, a choice or a list is parsed and
/// checked the same way everywhere (one message per kind of mistake).</summary>
internal static class CliOptions
{
    /// <summary>An integer option in [min, max] (non-numbers and overflowing numbers are one clear error).</summary>
    public static Option<int> Int(string name, string description, int min, int max = int.MaxValue, int? fallback = null) =>
        WithDefault(new Option<int>(name) { Description = description, HelpName = "N", CustomParser = r => ParseInt(r, name, min, max) }, fallback);

    /// <summary>An optional integer in [min, max]: null when absent (the default comes from elsewhere, e.g. the preset).
    /// <paramref name="rule"/>, checked on a value in range, returns the message of a value it refuses (else null).</summary>
    public static Option<int?> OptionalInt(string name, string description, int min, int max = int.MaxValue, Func<int, string?>? rule = null) =>
        new(name) { Description = description, HelpName = "N", CustomParser = r => ParseInt(r, name, min, max, rule) };

    /// <summary>An optional finite number of at least <paramref name="min"/>: null when absent (the default comes from
    /// elsewhere, e.g. the configuration).</summary>
    public static Option<float?> OptionalFloat(string name, string description, float min) =>
        new(name) { Description = description, HelpName = "F", CustomParser = r => ParseFloat(r, name, min) };

    /// <summary>One of a fixed set of words.</summary>
    public static Option<string> Choice(string name, string description, IReadOnlyList<string> choices, string? fallback = null)
    {
        var o = new Option<string>(name) { Description = description, HelpName = string.Join("|", choices) };
        o.AcceptOnlyFromAmong([.. choices]);
        return WithDefault(o, fallback);
    }

    /// <summary>One of a fixed set of words, or null when absent (the default comes from elsewhere, e.g. the preset).</summary>
    public static Option<string?> OptionalChoice(string name, string description, params string[] choices)
    {
        var o = new Option<string?>(name) { Description = description, HelpName = string.Join("|", choices) };
        o.AcceptOnlyFromAmong(choices);
        return o;
    }

    /// <summary>A free text or path value.</summary>
    public static Option<string?> Text(string name, string description, string helpName) =>
        new(name) { Description = description, HelpName = helpName };

    /// <summary>A switch.</summary>
    public static Option<bool> Flag(string name, string description, bool hidden = false) =>
        new(name) { Description = description, Hidden = hidden };

    /// <summary>Whether the user gave an option on the command line (not only its default).</summary>
    public static bool Given(this ParseResult p, Option o) => p.GetResult(o) is { Implicit: false };

    /// <summary>A comma-separated list (empty entries dropped, each trimmed).</summary>
    public static string[] List(string value) => value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static Option<T> WithDefault<T>(Option<T> o, T? fallback) where T : class
    {
        if (fallback is T f) o.DefaultValueFactory = _ => f;
        return o;
    }

    private static Option<int> WithDefault(Option<int> o, int? fallback)
    {
        if (fallback is int f) o.DefaultValueFactory = _ => f;
        return o;
    }

    private static float ParseFloat(ArgumentResult r, string name, float min)
    {
        string text = r.Tokens.Count > 0 ? r.Tokens[^1].Value : "";
        if (!float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float v))
        {
            r.AddError($"{name} expects a number, got '{text}'.");
            return 0;
        }
        if (!float.IsFinite(v) || v < min) r.AddError($"{name} must be a finite number of at least {min.ToString(CultureInfo.InvariantCulture)}, got {text}.");
        return v == 0 ? 0f : v; // "-0" is 0
    }

    private static int ParseInt(ArgumentResult r, string name, int min, int max, Func<int, string?>? rule = null)
    {
        string text = r.Tokens.Count > 0 ? r.Tokens[^1].Value : "";
        string range = max == int.MaxValue ? $"at least {min}" : $"in [{min}, {max}]";
        if (!long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v))
        {
            r.AddError($"{name} expects an integer, got '{text}'.");
            return 0;
        }
        if (v < min || v > max) r.AddError($"{name} must be {range}, got {text}.");
        else if (rule?.Invoke((int)v) is string refused) r.AddError(refused);
        return (int)Math.Clamp(v, int.MinValue, int.MaxValue);
    }
}
