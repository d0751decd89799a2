using ILGPU;
using ILGPU.Runtime;

namespace Int4Train.Reference;

/// <summary>The score of one candidate block size in <see cref="BlockSizeSearch"/>.</summary>
/// <param name="GroupSize">G.</param>
/// <param name="StepX">LSQ init step of XH at this G.</param>
/// <param name="StepW">LSQ init step of WH at this G.</param>
/// <param name="ErrorX"><c>‖X̄ − X‖_F</c>.</param>
/// <param name="ErrorW"><c>‖W̄ − W‖_F</c>.</param>
/// <param name="Score"><c>ErrorX · ErrorW</c>.</param>
public readonly record struct BlockSizeScore(int GroupSize, float StepX, float StepW, double ErrorX, double ErrorW, double Score);

/// <summary>What <see cref="BlockSizeSearch.Search"/> returns.</summary>
/// <param name="GroupSize">The chosen G: the smallest with the minimum score.</param>
/// <param name="Scores">Every candidate, in increasing G.</param>
public sealed record BlockSizeSearchResult(int GroupSize, IReadOnlyList<BlockSizeScore> Scores)
{
    /// <summary>The entry of the chosen G.</summary>
    public BlockSizeScore Chosen => Scores.First(s => s.GroupSize == GroupSize);
}

/// <summary>
/// The Hadamard block-size search of method.md §2.2 with the released code's criterion (conventions.md
/// "Block-size search"): for every G ∈ {1, 2, …, 1024} dividing D, transform X and W, initialise both LSQ
/// steps on the transformed tensors, fake-quantize, transform back, and score
/// <c>‖X̄ − X‖_F·‖W̄ − W‖_F</c>; the smallest G with the minimum score wins. Each norm is the sqrt of a
/// <see cref="CanonicalSum"/> of per-element squares that a kernel writes as <c>(double)d·(double)d</c> with the
/// difference <c>d = x̄ − x</c> taken in FP32 (so every term is exact and the choice is deterministic).
/// </summary>
public sealed class BlockSizeSearch
{
    private readonly ReferenceDevice _device;
    private readonly HadamardTransform _hadamard;
    private readonly LsqQuantizer _lsq;
    private readonly Action<Index1D, ArrayView1D<float, Stride1D.Dense>, ArrayView1D<float, Stride1D.Dense>,
        ArrayView1D<double, Stride1D.Dense>> _squares;

    /// <summary>Builds the search (and loads its kernels once per device).</summary>
    public BlockSizeSearch(ReferenceDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        _device = device;
        _hadamard = new HadamardTransform(device);
        _lsq = new LsqQuantizer(device);
        _squares = device.GetOrLoad("BlockSizeSearch.Squares", a => a.LoadAutoGroupedStreamKernel<Index1D,
            ArrayView1D<float, Stride1D.Dense>, ArrayView1D<float, Stride1D.Dense>, ArrayView1D<double, Stride1D.Dense>>(SquaresKernel));
    }

    /// <summary>The device this search runs on.</summary>
    public ReferenceDevice Device => _device;

    /// <summary>The candidate block sizes for row length <paramref name="d"/>: powers of two up to 1024 dividing it.</summary>
    public static IReadOnlyList<int> Candidates(int d)
    {
        Guard.Positive(nameof(d), d);
        var list = new List<int>();
        for (int g = 1; g <= HadamardTransform.MaxGroupSize && d % g == 0; g <<= 1) list.Add(g);
        return list;
    }

    /// <summary>Scores every candidate G for X (N×D) and W (C×D) and returns the chosen one.</summary>
    public BlockSizeSearchResult Search(ReadOnlySpan<float> x, ReadOnlySpan<float> w, int n, int c, int d,
        QuantMode mode = QuantMode.Code)
    {
        Guard.Matrix(nameof(x), x.Length, n, d);
        Guard.Matrix(nameof(w), w.Length, c, d);
        Guard.Finite(nameof(x), x);
        Guard.Finite(nameof(w), w);

        var acc = _device.Accelerator;
        using var x0 = acc.Allocate1D<float>(x.Length);
        using var w0 = acc.Allocate1D<float>(w.Length);
        using var xt = acc.Allocate1D<float>(x.Length);
        using var wt = acc.Allocate1D<float>(w.Length);
        using var xTerms = acc.Allocate1D<double>(x.Length);
        using var wTerms = acc.Allocate1D<double>(w.Length);
        x0.View.CopyFromCPU(acc.DefaultStream, x);
        w0.View.CopyFromCPU(acc.DefaultStream, w);

        var scores = new List<BlockSizeScore>();
        int best = -1;
        double bestScore = double.PositiveInfinity;
        foreach (int g in Candidates(d))
        {
            (float sx, double ex) = Error(x0.View, xt.View, xTerms.View, g, mode);
            (float sw, double ew) = Error(w0.View, wt.View, wTerms.View, g, mode);
            double score = ex * ew;
            scores.Add(new BlockSizeScore(g, sx, sw, ex, ew, score));
            if (best < 0 || score < bestScore)
            {
                best = g;
                bestScore = score;
            }
        }
        return new BlockSizeSearchResult(best, scores);
    }

    /// <summary>Transform, init, fake-quantize, transform back; returns the step and <c>‖V̄ − V‖_F</c>.</summary>
    private (float Step, double Error) Error(ArrayView1D<float, Stride1D.Dense> original, ArrayView1D<float, Stride1D.Dense> work,
        ArrayView1D<double, Stride1D.Dense> terms, int g, QuantMode mode)
    {
        work.CopyFrom(original);
        _hadamard.Run(work, g);
        float step = _lsq.InitStep(work);
        _lsq.FakeQuantize(work, work, step, mode);
        _hadamard.Run(work, g);
        _squares(work.IntLength, work, original, terms);
        _device.Accelerator.Synchronize();
        return (step, Math.Sqrt(CanonicalSum.Sum(terms.GetAsArray1D())));
    }

    private static void SquaresKernel(Index1D i, ArrayView1D<float, Stride1D.Dense> approx, ArrayView1D<float, Stride1D.Dense> exact,
        ArrayView1D<double, Stride1D.Dense> terms)
    {
        float diff = approx[i] - exact[i];
        terms[i] = (double)diff * (double)diff;
    }
}
