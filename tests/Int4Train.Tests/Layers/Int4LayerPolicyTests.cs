using Int4Train.Tests.Reference;
using NUnit.Framework;

namespace Int4Train.Tests.Layers;

/// <summary>
/// The INT4 layer's training policy in C# (<see cref="Int4LayerPolicy"/>, the reference backend's copy of
/// native/src/layer/layer_policy.cu; docs/conventions.md "Layer policy") and its use by <see cref="Int4Linear"/>:
/// only training forwards count, so evaluations between training steps move neither the cold start, the
/// re-initialisation nor the backward's key.
/// </summary>
[TestFixture]
public class Int4LayerPolicyTests
{
    // borrows the shared reference device: nothing of its own to dispose
    private static Int4Backend Backend => Int4Backend.Reference(ReferenceDeviceFixture.Cpu);

    // Runs the policy over a sequence of forwards (true: training) and records, per forward, what it did.
    private static List<string> Walk(Int4LinearOptions options, params bool[] training)
    {
        var policy = new Int4LayerPolicy(options);
        var log = new List<string>();
        int searches = 0;
        foreach (bool t in training)
        {
            string did = "";
            int g = policy.Prepare(t, () => { searches++; did += "S"; return 16 * searches; }, _ => did += "I");
            log.Add($"{(t ? "T" : "E")}{policy.StepCount}:{did}:G{g}:K{policy.BackwardKey}:{(policy.StepsAreLearned ? "L" : "c")}");
        }
        return log;
    }

    [Test]
    public void TrainingForwardsCount_EvaluationsOnlyInitialiseANewLayer()
    {
        var o = new Int4LinearOptions { ColdStartSteps = 2, ReinitializeAtStep = 3, Seed = 100 };
        // E first: a never-run layer chooses G and its steps, counts nothing; T1, T2: cold start (init each time);
        // T3: learned; T4 (count − 1 = 3): re-search and re-init; evaluations in between change nothing
        Assert.That(Walk(o, false, true, false, true, true, false, true, true), Is.EqualTo(new[]
        {
            "E0:SI:G16:K100:c", "T1:I:G16:K101:c", "E1::G16:K101:c", "T2:I:G16:K102:c", "T3::G16:K103:L",
            "E3::G16:K103:L", "T4:SI:G32:K104:L", "T5::G32:K105:L",
        }));
    }

    [Test]
    public void FixedOrLsqBlockSize_IsNeverSearched()
    {
        var fixedG = new Int4LinearOptions { GroupSize = 8, ReinitializeAtStep = 0 };
        Assert.That(Walk(fixedG, true, true), Is.EqualTo(new[] { "T1:I:G8:K1:L", "T2::G8:K2:L" }), "re-init at forward 1: steps only");
        var lsq = new Int4LinearOptions { Precision = LinearPrecision.Int4Lsq, ColdStartSteps = 1 };
        Assert.That(Walk(lsq, true, true), Is.EqualTo(new[] { "T1:I:G1:K1:c", "T2::G1:K2:L" }));
    }

    [Test]
    public void Restore_KeepsTheRestoredSteps_AndResumesTheCount()
    {
        var policy = new Int4LayerPolicy(new Int4LinearOptions { ColdStartSteps = 2, Seed = 9 });
        policy.Restore(5, 32);
        bool initialised = false, searched = false;
        Assert.That(policy.Prepare(true, () => { searched = true; return 1; }, _ => initialised = true), Is.EqualTo(32));
        Assert.That((searched, initialised, policy.StepCount, policy.BackwardKey), Is.EqualTo((false, false, 6, 15UL)));
    }

    [Test]
    public void EvaluationForwards_DoNotAdvanceTheLayer_TrainingMatchesARunWithoutThem()
    {
        // Two identical layers on fresh data with outliers; one also runs evaluation forwards between its training
        // steps. Every training step must then see the same step count, block size, steps and key (the gradients,
        // whose bit split is keyed by seed + count, bit for bit).
        const int n = 32, d = 64, c = 16;
        var options = new Int4LinearOptions { ColdStartSteps = 2, ReinitializeAtStep = 3, Seed = 77 };
        var plain = new Int4Linear(d, c, Backend, options, initSeed: 4);
        var evaluated = new Int4Linear(d, c, Backend, options, initSeed: 4);
        var rng = new Random(12);
        for (int step = 0; step < 5; step++)
        {
            if (step > 0) // (before any training forward an evaluation would choose G and the steps: see the walk above)
            {
                evaluated.Forward(TestData.WithOutliers(rng, n, d), n, training: false);
                evaluated.Forward(TestData.WithOutliers(rng, n, d), n, training: false);
                Assert.That(evaluated.StepCount, Is.EqualTo(plain.StepCount), $"step {step}: evaluations do not count");
                Assert.That(evaluated.StepX, Is.EqualTo(plain.StepX), $"step {step}: evaluations leave the steps alone");
            }
            var x = TestData.WithOutliers(rng, n, d);
            var gy = TestData.Matrix(rng, n, c);
            float[] ya = plain.Forward(x, n), yb = evaluated.Forward(x, n);
            Assert.That(yb, Is.EqualTo(ya), $"step {step}: Y");
            Assert.That((evaluated.StepCount, evaluated.GroupSize, evaluated.StepX, evaluated.StepW, evaluated.BackwardKey),
                Is.EqualTo((plain.StepCount, plain.GroupSize, plain.StepX, plain.StepW, plain.BackwardKey)), $"step {step}: layer state");
            plain.ZeroGrad();
            evaluated.ZeroGrad();
            Assert.That(evaluated.Backward(gy), Is.EqualTo(plain.Backward(gy)), $"step {step}: ∇X");
            Assert.That(evaluated.WeightGrad, Is.EqualTo(plain.WeightGrad), $"step {step}: ∇W");
            Assert.That(evaluated.StepXGrad, Is.EqualTo(plain.StepXGrad), $"step {step}: ∇s_X");
            for (int i = 0; i < plain.Weight.Length; i++) evaluated.Weight[i] = plain.Weight[i] -= 0.05f * plain.WeightGrad[i];
            evaluated.StepX = plain.StepX *= 1.01f; // a learned step moves: the cold start must not overwrite it later
        }
        Assert.That(plain.StepCount, Is.EqualTo(5));
        Assert.That(plain.StepsAreLearned, Is.True);
    }

    [Test]
    public void BackwardAfterAnEvaluationForward_IsRefused()
    {
        var layer = new Int4Linear(16, 4, Backend, new Int4LinearOptions { GroupSize = 4 });
        layer.Forward(TestData.Matrix(new Random(1), 8, 16), 8, training: false);
        var ex = Assert.Throws<InvalidOperationException>(() => layer.Backward(new float[8 * 4]));
        Assert.That(ex!.Message, Does.Contain("training Forward"));
    }
}
