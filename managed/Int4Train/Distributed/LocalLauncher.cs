using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Int4Train.Distributed;

/// <summary>A command to start once per rank: an executable and its arguments.</summary>
public sealed record LaunchCommand(string FileName, IReadOnlyList<string> Arguments)
{
    /// <summary>This process again (the apphost, or `dotnet app.dll`) with <paramref name="arguments"/>.</summary>
    public static LaunchCommand ForCurrentProcess(IEnumerable<string> arguments)
    {
        string process = Environment.ProcessPath ?? throw new DistributedException("The path of this program is unknown; cannot start its ranks.");
        var args = arguments.ToList();
        if (Path.GetFileNameWithoutExtension(process).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
            args.Insert(0, Environment.GetCommandLineArgs()[0]); // the entry .dll
        return new LaunchCommand(process, args);
    }

    /// <summary>The arguments without <c>--nproc-per-node N</c> / <c>--nproc-per-node=N</c> (a child must not launch
    /// again).</summary>
    public static IReadOnlyList<string> WithoutLauncherOption(IReadOnlyList<string> arguments, string option = "--nproc-per-node")
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var r = new List<string>(arguments.Count);
        for (int i = 0; i < arguments.Count; i++)
        {
            if (arguments[i] == option) { i++; continue; }
            if (arguments[i].StartsWith(option + "=", StringComparison.Ordinal)) continue;
            r.Add(arguments[i]);
        }
        return r;
    }
}

/// <summary>
/// Starts N local ranks of a command, as <c>torchrun --nproc-per-node N</c> does: each child gets RANK = LOCAL_RANK =
/// k, WORLD_SIZE = N, MASTER_ADDR = 127.0.0.1, MASTER_PORT (a free loopback port unless given) and
/// NCCL_NVLS_ENABLE=0 unless the parent set it. Each line a child writes (stdout and stderr) is forwarded with a
/// "[rank k] " prefix. When one rank fails the others are killed (a rank waiting in a collective for a dead peer
/// would hang) and the run fails with that rank's exit code.
/// </summary>
public sealed class LocalLauncher
{
    private readonly TextWriter _output;
    private readonly Lock _outputGate = new();

    /// <summary>Forwards the children's lines to <paramref name="output"/>.</summary>
    public LocalLauncher(TextWriter output) => _output = output ?? throw new ArgumentNullException(nameof(output));

    /// <summary>`int4train train --nproc-per-node N …`: this program started N times with the same arguments minus
    /// the launcher option (call it when the option is given and <see cref="DistributedEnvironment.FromEnvironment"/>
    /// is not distributed, i.e. in the parent).</summary>
    public Task<int> RelaunchSelfAsync(IReadOnlyList<string> arguments, int processes, CancellationToken cancel = default) =>
        RunAsync(LaunchCommand.ForCurrentProcess(LaunchCommand.WithoutLauncherOption(arguments)), processes, cancel: cancel);

    /// <summary>Runs <paramref name="processes"/> ranks of <paramref name="command"/> to completion; returns 0 when every
    /// rank exits with 0, else the exit code of the first rank that failed (after the others were stopped).</summary>
    public async Task<int> RunAsync(LaunchCommand command, int processes, int? masterPort = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        if (processes < 1) throw new DistributedException($"--nproc-per-node must be ≥ 1, got {processes}.");
        int port = masterPort ?? FreeLoopbackPort();
        var children = new List<Process>(processes);
        try
        {
            for (int rank = 0; rank < processes; rank++)
                children.Add(Start(command, new DistributedEnvironment(rank, processes, rank, IPAddress.Loopback.ToString(), port)));
            var exits = children.Select((p, rank) => WaitAsync(p, rank, cancel)).ToList();
            var remaining = new List<Task<(int Rank, int Code)>>(exits);
            while (remaining.Count > 0)
            {
                var done = await Task.WhenAny(remaining).ConfigureAwait(false);
                remaining.Remove(done);
                var (rank, code) = await done.ConfigureAwait(false);
                if (code == 0) continue;
                WriteLine($"[launcher] rank {rank} exited with code {code}; stopping the other ranks.");
                KillAll(children);
                await Task.WhenAll(remaining).ConfigureAwait(false);
                return code;
            }
            return 0;
        }
        catch (OperationCanceledException)
        {
            KillAll(children);
            throw;
        }
        finally
        {
            foreach (var p in children) p.Dispose();
        }
    }

    private Process Start(LaunchCommand command, DistributedEnvironment environment)
    {
        var info = new ProcessStartInfo(command.FileName)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (string a in command.Arguments) info.ArgumentList.Add(a);
        foreach (var (name, value) in environment.ToVariables()) info.Environment[name] = value;
        if (!info.Environment.ContainsKey("NCCL_NVLS_ENABLE")) info.Environment["NCCL_NVLS_ENABLE"] = "0";
        string prefix = $"[rank {environment.Rank.ToString(CultureInfo.InvariantCulture)}] ";
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) WriteLine(prefix + e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) WriteLine(prefix + e.Data); };
        try { process.Start(); }
        catch (System.ComponentModel.Win32Exception e)
        {
            process.Dispose();
            throw new DistributedException($"Cannot start rank {environment.Rank} ({command.FileName}): {e.Message}", e);
        }
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static async Task<(int, int)> WaitAsync(Process process, int rank, CancellationToken cancel)
    {
        await process.WaitForExitAsync(cancel).ConfigureAwait(false); // also drains the redirected output
        return (rank, process.ExitCode);
    }

    private static void KillAll(IEnumerable<Process> children)
    {
        foreach (var p in children)
        {
            try { if (!p.HasExited) p.Kill(entireProcessTree: true); }
            catch (InvalidOperationException) { } // exited meanwhile
        }
    }

    private void WriteLine(string line)
    {
        lock (_outputGate) _output.WriteLine(line);
    }

    /// <summary>A loopback TCP port that is free now (the OS picks it).</summary>
    public static int FreeLoopbackPort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
