namespace Int4Train;

/// <summary>
/// The INT4 layer's training policy in C#, for the backends without a native layer state (the ILGPU reference). The
/// rules are those of native/src/layer/layer_policy.cu, one for one (docs/conventions.md "Layer policy"):
/// <list type="bullet">
/// <item>only a training forward counts (<see cref="StepCount"/>); an evaluation forward moves neither the cold start,
/// nor the re-initialisation step, nor the backward's key;</item>
/// <item>the block size G is the fixed one, or searched (§2.2) on the first forward and again at the
/// re-initialisation (forward count − 1 = <see cref="Int4LinearOptions.ReinitializeAtStep"/>); LSQ forces G = 1;</item>
/// <item>the step sizes are initialised (§2.1) when never initialised, during the cold start (training forwards
/// 1..<see cref="Int4LinearOptions.ColdStartSteps"/>, App. A.4) and at the re-initialisation (App. A.5);</item>
/// <item>the backward's key is seed + step count.</item>
/// </list>
/// </summary>
internal sealed class Int4LayerPolicy(Int4LinearOptions options)
{
    /// <summary>Training forwards taken.</summary>
    public int StepCount { get; private set; }

    /// <summary>The block size in use; null until the first forward.</summary>
    public int? GroupSize { get; private set; }

    /// <summary>The step sizes hold a value (initialised here, or restored).</summary>
    public bool Initialized { get; private set; }

    /// <summary>The cold start is over (App. A.4).</summary>
    public bool StepsAreLearned => StepCount > options.ColdStartSteps;

    /// <summary>Key of the backward of the current training forward.</summary>
    public ulong BackwardKey => options.Seed + (ulong)StepCount;

    /// <summary>Applies one forward's policy: counts it when <paramref name="training"/>, chooses G with
    /// <paramref name="searchGroup"/> when needed and calls <paramref name="initialiseSteps"/>(G) when the steps must be
    /// (re)initialised. Returns G.</summary>
    public int Prepare(bool training, Func<int> searchGroup, Action<int> initialiseSteps)
    {
        bool reinit = false;
        if (training)
        {
            StepCount++;
            reinit = options.ReinitializeAtStep >= 0 && StepCount - 1 == options.ReinitializeAtStep;
        }
        if (options.Precision == LinearPrecision.Int4Lsq) GroupSize = 1;
        else if (GroupSize is null || (reinit && options.GroupSize is null)) GroupSize = options.GroupSize ?? searchGroup();
        bool cold = training && StepCount <= options.ColdStartSteps;
        if (!Initialized || cold || reinit)
        {
            initialiseSteps(GroupSize.Value);
            Initialized = true;
        }
        return GroupSize.Value;
    }

    /// <summary>Restores a checkpoint's progress (as int4train_layer_set_progress).</summary>
    public void Restore(int stepCount, int? groupSize)
    {
        StepCount = stepCount;
        GroupSize = groupSize;
        Initialized = stepCount > 0; // a resumed layer keeps the step sizes it was given
    }
}
