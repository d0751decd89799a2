namespace Int4Train;

/// <summary>The four classes of a GPT block's linears, as flags (bit k is class k of the tensor table's order:
/// qkv, proj, up, down): which of them run INT4 in a model of an INT4 precision (issue 15's per-class ablation,
/// docs/conventions.md "Block linears outside the INT4 set"). The others run as the bf16 precision runs them.</summary>
[Flags]
public enum GptLinearClasses
{
    /// <summary>No class.</summary>
    None = 0,
    /// <summary>The attention's input projection (C → 3C).</summary>
    Qkv = 1,
    /// <summary>The attention's output projection (C → C).</summary>
    Proj = 2,
    /// <summary>The MLP's up projection (C → 4C).</summary>
    Up = 4,
    /// <summary>The MLP's down projection (4C → C).</summary>
    Down = 8,
    /// <summary>Every class (the default: every block linear in the model's precision).</summary>
    All = Qkv | Proj | Up | Down,
}
