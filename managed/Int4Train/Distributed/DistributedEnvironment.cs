using System.Globalization;

namespace Int4Train.Distributed;

/// <summary>
/// Where this process stands in a multi-process run, read from the variables torchrun sets (and that SLURM or
/// mpirun wrappers can set): RANK, WORLD_SIZE, LOCAL_RANK (the GPU index on this node), MASTER_ADDR and
/// MASTER_PORT (rank 0's rendezvous endpoint). <see cref="LocalLauncher"/> sets the same variables.
/// </summary>
public sealed record DistributedEnvironment(int Rank, int WorldSize, int LocalRank, string MasterAddress, int MasterPort)
{
    /// <summary>The variable names, in the order above.</summary>
    public static readonly IReadOnlyList<string> VariableNames = ["RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"];

    /// <summary>A single process (world size 1): what a run without the variables is.</summary>
    public static DistributedEnvironment Single { get; } = new(0, 1, 0, "127.0.0.1", 0);

    /// <summary>Whether there is more than one rank.</summary>
    public bool IsDistributed => WorldSize > 1;

    /// <summary>Whether this rank writes checkpoints and the loss curve.</summary>
    public bool IsRankZero => Rank == 0;

    /// <summary>From the process environment; <see cref="Single"/> when none of the variables is set.</summary>
    /// <exception cref="DistributedException">A variable is missing, not a number or out of range.</exception>
    public static DistributedEnvironment FromEnvironment() => Parse(Environment.GetEnvironmentVariable);

    /// <summary>From variables read through <paramref name="getVariable"/> (null: unset).</summary>
    /// <exception cref="DistributedException">A variable is missing, not a number or out of range.</exception>
    public static DistributedEnvironment Parse(Func<string, string?> getVariable)
    {
        ArgumentNullException.ThrowIfNull(getVariable);
        var set = VariableNames.Where(n => !string.IsNullOrWhiteSpace(getVariable(n))).ToList();
        if (set.Count == 0) return Single;
        if (getVariable("RANK") is null && getVariable("WORLD_SIZE") is null)
            throw new DistributedException($"{string.Join(" and ", set)} {(set.Count == 1 ? "is" : "are")} set but RANK and WORLD_SIZE are not; "
                + "set all of RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT (as torchrun does) or none.");
        int worldSize = Integer(getVariable, "WORLD_SIZE", 1, int.MaxValue, "≥ 1");
        int rank = Integer(getVariable, "RANK", 0, worldSize - 1, $"in [0, WORLD_SIZE-1 = {worldSize - 1}]");
        int localRank = string.IsNullOrWhiteSpace(getVariable("LOCAL_RANK"))
            ? (worldSize == 1 ? 0 : throw Missing("LOCAL_RANK", "the GPU index of this process on its node"))
            : Integer(getVariable, "LOCAL_RANK", 0, rank, $"in [0, RANK = {rank}]");
        if (worldSize == 1) return Single with { LocalRank = localRank };
        string address = getVariable("MASTER_ADDR")?.Trim() is { Length: > 0 } a ? a : throw Missing("MASTER_ADDR", "rank 0's host name or address");
        int port = Integer(getVariable, "MASTER_PORT", 1, 65535, "a TCP port in [1, 65535]");
        return new DistributedEnvironment(rank, worldSize, localRank, address, port);
    }

    /// <summary>The variables of this environment (for a child process).</summary>
    public IReadOnlyDictionary<string, string> ToVariables() => new Dictionary<string, string>
    {
        ["RANK"] = Rank.ToString(CultureInfo.InvariantCulture),
        ["WORLD_SIZE"] = WorldSize.ToString(CultureInfo.InvariantCulture),
        ["LOCAL_RANK"] = LocalRank.ToString(CultureInfo.InvariantCulture),
        ["MASTER_ADDR"] = MasterAddress,
        ["MASTER_PORT"] = MasterPort.ToString(CultureInfo.InvariantCulture),
    };

    private static int Integer(Func<string, string?> getVariable, string name, int min, int max, string range)
    {
        string? text = getVariable(name)?.Trim();
        if (string.IsNullOrEmpty(text)) throw Missing(name, range);
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value))
            throw new DistributedException($"{name}='{text}' is not a non-negative integer; it must be {range}.");
        if (value < min || value > max) throw new DistributedException($"{name}={value} is out of range; it must be {range}.");
        return value;
    }

    private static DistributedException Missing(string name, string what) =>
        new($"{name} is not set; a multi-process run needs it ({what}). Start the processes with torchrun-style variables "
            + "or with `int4train train --nproc-per-node N`.");
}
