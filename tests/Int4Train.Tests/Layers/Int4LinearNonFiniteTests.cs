using Int4Train.Tests.Reference;
using NUnit.Framework;

namespace Int4Train.Tests.Layers;

/// <summary>Issue 13 item 10: one NaN/Inf policy for every precision of <see cref="Int4Linear"/> and every tensor.
/// Before, Fp32 and Bf16 turned a NaN weight or bias into NaN outputs silently while the INT4 precisions threw.</summary>
[TestFixture]
public sealed class Int4LinearNonFiniteTests
{
    private const int N = 8, D = 32, C = 16;

    private static Int4Backend Backend => _backend ??= Int4Backend.Reference(ReferenceDeviceFixture.Cpu);
    private static Int4Backend? _backend;

    [OneTimeTearDown]
    public void TearDown() { _backend?.Dispose(); _backend = null; }

    private static Int4Linear Layer(LinearPrecision precision) =>
        new(D, C, Backend, new Int4LinearOptions { Precision = precision, GroupSize = precision == LinearPrecision.Int4Lsq ? null : 16 }, initSeed: 3);

    private static (float[] X, float[] GradY) Data(int seed)
    {
        var rng = new Random(seed);
        return (TestData.WithOutliers(rng, N, D), TestData.Matrix(rng, N, C));
    }

    public enum Tensor { X, GradY, Weight, Bias, WeightGrad, BiasGrad }

    [Test]
    public void NonFiniteValue_ThrowsNamingTheTensorAndIndex_InEveryPrecision(
        [Values] LinearPrecision precision, [Values] Tensor tensor, [Values(float.NaN, float.PositiveInfinity, float.NegativeInfinity)] float bad)
    {
        var layer = Layer(precision);
        var (x, gy) = Data(1);
        const int index = 5;
        bool inForward = tensor is Tensor.X or Tensor.Weight or Tensor.Bias;
        if (!inForward) layer.Forward(x, N);
        switch (tensor)
        {
            case Tensor.X: x[index] = bad; break;
            case Tensor.GradY: gy[index] = bad; break;
            case Tensor.Weight: layer.Weight[index] = bad; break;
            case Tensor.Bias: layer.Bias[index] = bad; break;
            case Tensor.WeightGrad: layer.WeightGrad[index] = bad; break;
            case Tensor.BiasGrad: layer.BiasGrad[index] = bad; break;
        }
        float[] weightGradBefore = (float[])layer.WeightGrad.Clone();
        Action call = inForward ? () => layer.Forward(x, N) : () => layer.Backward(gy);
        Exception ex = tensor is Tensor.X or Tensor.GradY
            ? Assert.Throws<ArgumentException>(call)!
            : Assert.Throws<InvalidOperationException>(call)!;
        string name = tensor switch { Tensor.X => "x", Tensor.GradY => "gradY", _ => tensor.ToString() };
        Assert.That(ex.Message, Does.Contain(name).And.Contain("non-finite").And.Contain($"index {index}"), ex.Message);
        if (ex is ArgumentException ae) Assert.That(ae.ParamName, Is.EqualTo(name));
        Assert.That(layer.WeightGrad, Is.EqualTo(weightGradBefore).AsCollection, "nothing accumulated");
    }

    [Test]
    public void ForwardOverflow_Throws_InEveryPrecision([Values] LinearPrecision precision)
    {
        var layer = Layer(precision);
        var (x, _) = Data(2);
        for (int i = 0; i < x.Length; i++) x[i] *= 1e20f;
        for (int i = 0; i < layer.Weight.Length; i++) layer.Weight[i] *= 1e20f;
        var ex = Assert.Throws<InvalidOperationException>(() => layer.Forward(x, N));
        Assert.That(ex!.Message, Does.Contain("Y").And.Contain("overflowed"));
    }

    [Test]
    public void BackwardOverflow_Throws_AndAccumulatesNothing_InEveryPrecision([Values] LinearPrecision precision)
    {
        var layer = Layer(precision);
        var (x, gy) = Data(3);
        layer.Forward(x, N);
        layer.Backward(gy);
        float[] wg = (float[])layer.WeightGrad.Clone(), bg = (float[])layer.BiasGrad.Clone();
        double sx = layer.StepXGrad;
        for (int i = 0; i < gy.Length; i++) gy[i] *= 3e37f;
        layer.Forward(x, N);
        var ex = Assert.Throws<InvalidOperationException>(() => layer.Backward(gy));
        Assert.That(ex!.Message, Does.Contain("overflowed"));
        Assert.That(layer.WeightGrad, Is.EqualTo(wg).AsCollection);
        Assert.That(layer.BiasGrad, Is.EqualTo(bg).AsCollection);
        Assert.That(layer.StepXGrad, Is.EqualTo(sx));
    }

    [Test]
    public void FiniteData_StillWorks_InEveryPrecision([Values] LinearPrecision precision)
    {
        var layer = Layer(precision);
        var (x, gy) = Data(4);
        float[] y = layer.Forward(x, N);
        float[] gx = layer.Backward(gy);
        Assert.That(y.All(float.IsFinite) && gx.All(float.IsFinite) && layer.WeightGrad.All(float.IsFinite));
        Assert.That(gx.Any(v => v != 0f) && layer.WeightGrad.Any(v => v != 0f));
    }
}
