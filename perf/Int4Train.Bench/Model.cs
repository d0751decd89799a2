namespace Int4Train.Bench;

/// <summary>One timed operation at one shape.</summary>
public sealed class OpResult
{
    public string Op { get; set; } = "";
    public double MedianMs { get; set; }
    public double MinMs { get; set; }
    public double P90Ms { get; set; }
    public double MeanMs { get; set; }
    public double Ops { get; set; }
    /// <summary>Ops / median, in TOPS (integer) or TFLOP/s (floating point).</summary>
    public double Rate { get; set; }
    public int Runs { get; set; }
    /// <summary>1 passed, 0 failed, -1 not checked (baselines).</summary>
    public int CheckOk { get; set; }
    public double CheckErr { get; set; }
    public string Check { get; set; } = "";
    public string? Error { get; set; }
}

public sealed class ShapeResult
{
    /// <summary>"paper" (§6.3 sizes) or "layer" (transformer MLP GEMMs).</summary>
    public string Kind { get; set; } = "";
    public string Label { get; set; } = "";
    /// <summary>Tokens N (rows of X), outputs C, inputs D: Y[N,C] = X[N,D]·W[C,D]ᵀ.</summary>
    public int M { get; set; }
    public int N { get; set; }
    public int K { get; set; }
    /// <summary>The CUTLASS configuration the tuned table picks for this shape.</summary>
    public int GemmPick { get; set; }
    public List<OpResult> Ops { get; set; } = [];

    public OpResult? Get(string op) => Ops.Find(o => o.Op == op && o.Error == null && o.CheckOk != 0);
}

public sealed class PhaseResult
{
    public string Which { get; set; } = "";
    public int M { get; set; }
    public int N { get; set; }
    public int K { get; set; }
    public List<string> Names { get; set; } = [];
    public List<double> Ms { get; set; } = [];
    public string? Error { get; set; }
}

public sealed class GraphResult
{
    public int M { get; set; }
    public int N { get; set; }
    public int K { get; set; }
    public bool Captured { get; set; }
    public bool Identical { get; set; }
    public double ReplayMs { get; set; }
    public string Message { get; set; } = "";
    public string? Error { get; set; }
}

public sealed class Report
{
    public string Date { get; set; } = "";
    public string Device { get; set; } = "";
    public int ComputeCapability { get; set; }
    public string GemmConfigs { get; set; } = "";
    public int Group { get; set; }
    public int Warmup { get; set; }
    public int Runs { get; set; }
    public int Sets { get; set; }
    public ulong Seed { get; set; }
    public string Notes { get; set; } = "";
    /// <summary>Bytes kept from the forward for the backward, per element of the layer input X.</summary>
    public Dictionary<string, double> ActivationBytesPerInputElement { get; set; } = [];
    public List<ShapeResult> Shapes { get; set; } = [];
    public List<PhaseResult> Phases { get; set; } = [];
    /// <summary>Device-to-device copy (op copy_d2d): Ops = bytes moved (read + write); the element-wise phases' yardstick.</summary>
    public OpResult? Copy { get; set; }
    public GraphResult? Graph { get; set; }
}
