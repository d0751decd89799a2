using ILGPU.Runtime;
using Int4Train.Reference;
using NUnit.Framework;

namespace Int4Train.Tests.Reference;

/// <summary>Every public entry point rejects bad input with an <see cref="ArgumentException"/> whose message names
/// the offending sizes or value.</summary>
[TestFixture]
public sealed class ReferenceBadInputTests
{
    private static ReferenceDevice Dev => ReferenceDeviceFixture.Cpu;

    private static readonly float[] X24 = Enumerable.Range(1, 24).Select(i => i * 0.1f).ToArray();

    private static IEnumerable<TestCaseData> Cases()
    {
        TestCaseData Case(string name, Action act, params string[] fragments) =>
            new TestCaseData(act, fragments).SetName($"{{m}}({name})");

        yield return Case("Hadamard wrong shape", () => new HadamardTransform(Dev).Apply(X24, 5, 4, 2), "24", "5×4", "20");
        yield return Case("Hadamard G not dividing", () => new HadamardTransform(Dev).Apply(X24, 2, 12, 8), "8", "12");
        yield return Case("Hadamard G not power of two", () => new HadamardTransform(Dev).Apply(X24, 2, 12, 3), "3");
        yield return Case("Hadamard G too large", () => new HadamardTransform(Dev).Apply(new float[4096], 1, 4096, 2048), "2048");
        yield return Case("Hadamard empty", () => new HadamardTransform(Dev).Apply([], 0, 4, 2), "0×4");
        yield return Case("Hadamard NaN", () => new HadamardTransform(Dev).Apply([1f, float.NaN], 1, 2, 2), "NaN", "index 1");
        yield return Case("Hadamard Inf", () => new HadamardTransform(Dev).Apply([float.PositiveInfinity, 1f], 1, 2, 2), "index 0");
        yield return Case("Hadamard device view wrong shape", () =>
        {
            using var b = Dev.Accelerator.Allocate1D<float>(10);
            new HadamardTransform(Dev).Apply(b.View, 3, 4, 2);
        }, "10", "3×4");
        yield return Case("Hadamard device view NaN", () =>
        {
            using var b = Dev.Accelerator.Allocate1D<float>(4);
            b.View.CopyFromCPU(new[] { 1f, 2f, 3f, float.NaN });
            new HadamardTransform(Dev).Apply(b.View, 1, 4, 2);
        }, "index 3");

        yield return Case("Quantize empty", () => new LsqQuantizer(Dev).Quantize([], 1f), "0 elements");
        yield return Case("Quantize NaN", () => new LsqQuantizer(Dev).Quantize([1f, float.NaN], 1f), "index 1");
        yield return Case("Quantize zero step", () => new LsqQuantizer(Dev).Quantize(X24, 0f), "0");
        yield return Case("Quantize NaN step", () => new LsqQuantizer(Dev).Quantize(X24, float.NaN), "NaN");
        yield return Case("Dequantize code out of INT4", () => new LsqQuantizer(Dev).Dequantize([1, 9], 1f), "9", "index 1");
        yield return Case("InitStep Inf", () => new LsqQuantizer(Dev).InitStep([float.NegativeInfinity]), "index 0");
        yield return Case("Backward length mismatch", () => new LsqQuantizer(Dev).Backward(X24, new float[23], 1f), "23", "24");
        yield return Case("Backward gradient NaN", () => new LsqQuantizer(Dev).Backward([1f], [float.NaN], 1f), "gradient");
        yield return Case("Quantize device length mismatch", () =>
        {
            using var v = Dev.Accelerator.Allocate1D<float>(6);
            using var q = Dev.Accelerator.Allocate1D<sbyte>(5);
            v.MemSetToZero();
            new LsqQuantizer(Dev).Quantize(v.View, q.View, 1f);
        }, "5", "6");

        yield return Case("Pack odd row", () => new Int4Packing(Dev).Pack(new sbyte[6], 2, 3), "3");
        yield return Case("Pack wrong shape", () => new Int4Packing(Dev).Pack(new sbyte[6], 2, 4), "6", "2×4");
        yield return Case("Pack code out of range", () => new Int4Packing(Dev).Pack([0, -9], 1, 2), "-9");
        yield return Case("Unpack wrong byte count", () => new Int4Packing(Dev).Unpack(new byte[3], 2, 4), "3", "2×4", "4");
        yield return Case("Unpack empty", () => new Int4Packing(Dev).Unpack([], 0, 2), "0");

        yield return Case("Gemm A shape", () => new IntegerGemm(Dev).Multiply(new sbyte[10], new sbyte[12], 3, 4, 3), "10", "3×3");
        yield return Case("Gemm B shape", () => new IntegerGemm(Dev).Multiply(new sbyte[9], new sbyte[11], 3, 4, 3), "11", "4×3");
        yield return Case("Gemm empty", () => new IntegerGemm(Dev).Multiply([], [], 0, 4, 3), "0×3");
        yield return Case("Gemm overflow", () => new IntegerGemm(Dev).Multiply(
            Enumerable.Repeat((sbyte)-128, 140000).ToArray(), Enumerable.Repeat((sbyte)-128, 140000).ToArray(), 1, 1, 140000), "140000", "128");
        yield return Case("Gemm packed odd K", () => new IntegerGemm(Dev).MultiplyPacked(new byte[3], new byte[3], 2, 2, 3), "3");
        yield return Case("Gemm packed wrong bytes", () => new IntegerGemm(Dev).MultiplyPacked(new byte[7], new byte[8], 2, 2, 8), "7", "2×8", "8");

        yield return Case("HqMatMul W shape", () => new HqMatMul(Dev).Forward(X24, new float[20], 2, 4, 12, 4, 1f, 1f), "20", "4×12", "48");
        yield return Case("HqMatMul G not dividing D", () => new HqMatMul(Dev).Forward(X24, X24, 2, 2, 12, 8, 1f, 1f), "8", "12");
        yield return Case("HqMatMul odd D", () => new HqMatMul(Dev).Forward(new float[6], new float[6], 2, 2, 3, 1, 1f, 1f), "3");
        yield return Case("HqMatMul bias length", () => new HqMatMul(Dev).Forward(X24, X24, 2, 2, 12, 4, 1f, 1f, bias: new float[3]), "3", "C = 2");
        yield return Case("HqMatMul negative step", () => new HqMatMul(Dev).Forward(X24, X24, 2, 2, 12, 4, -1f, 1f), "stepX", "-1");
        yield return Case("HqMatMul NaN in W", () =>
        {
            var w = (float[])X24.Clone();
            w[5] = float.NaN;
            new HqMatMul(Dev).Forward(X24, w, 2, 2, 12, 4, 1f, 1f);
        }, "w", "index 5");

        yield return Case("BlockSizeSearch X shape", () => new BlockSizeSearch(Dev).Search(X24, X24, 3, 2, 12), "24", "3×12", "36");
        yield return Case("BlockSizeSearch empty", () => new BlockSizeSearch(Dev).Search([], X24, 0, 2, 12), "0×12");
        yield return Case("BlockSizeSearch Inf", () =>
        {
            var x = (float[])X24.Clone();
            x[23] = float.NegativeInfinity;
            new BlockSizeSearch(Dev).Search(x, X24, 2, 2, 12);
        }, "index 23");
    }

    [TestCaseSource(nameof(Cases))]
    public void BadInput_ThrowsArgumentException_WithSizesInMessage(Action act, string[] fragments)
    {
        var ex = Assert.Throws(Is.InstanceOf<ArgumentException>(), () => act())!;
        foreach (string f in fragments) Assert.That(ex.Message, Does.Contain(f));
    }

    [Test]
    public void ViewFromAnotherDevice_IsRejected()
    {
        using var other = ReferenceDevice.CreateCpu();
        using var b = other.Accelerator.Allocate1D<float>(4);
        var ex = Assert.Throws<ArgumentException>(() => new HadamardTransform(Dev).Apply(b.View, 1, 4, 2))!;
        Assert.That(ex.Message, Does.Contain("another accelerator"));
    }

    [Test]
    public void TryCreateCuda_ReturnsNullOrAWorkingCudaDevice()
    {
        using var cuda = ReferenceDevice.TryCreateCuda();
        if (cuda is null) Assert.Pass("no CUDA device here");
        Assert.That(cuda!.IsCuda, Is.True);
    }
}
