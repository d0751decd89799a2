using Int4Train;

// One INT4 linear layer from the Int4Train package: forward (HQ: Hadamard + INT4 codes + integer GEMM) and backward
// (bit split + leverage-score sampling), on the native CUDA library when the package carries it and a GPU is there,
// else on the ILGPU CPU reference. Checks the results against an FP64 layer on the same random data with outlier
// channels and prints "sample: ok" (exit 0) or what is off (exit 1).
const int tokens = 64, inFeatures = 128, outFeatures = 32;
var rng = new Random(2026);
float[] x = Random(tokens * inFeatures, rng);
for (int t = 0; t < tokens; t++) x[t * inFeatures + 5] *= 40f; // an outlier channel, the case HQ is for
float[] gradY = Random(tokens * outFeatures, rng);

using var backend = Int4Backend.CreateDefault();
Console.WriteLine($"backend: {backend.Description}");
if (!CudaContext.IsAvailable(out string why)) Console.WriteLine($"native library: {why}");

var layer = new Int4Linear(inFeatures, outFeatures, backend, new Int4LinearOptions { Precision = LinearPrecision.Int4HqLss });
float[] y = layer.Forward(x, tokens);
float[] gradX = layer.Backward(gradY);

// The exact layer in FP64: Y = X·Wᵀ + b, ∇X = ∇Y·W, ∇W = ∇Yᵀ·X.
double[] yExact = new double[tokens * outFeatures], gradXExact = new double[tokens * inFeatures];
double[] gradWExact = new double[outFeatures * inFeatures];
for (int t = 0; t < tokens; t++)
    for (int o = 0; o < outFeatures; o++)
    {
        double acc = layer.Bias[o];
        for (int i = 0; i < inFeatures; i++)
        {
            acc += (double)x[t * inFeatures + i] * layer.Weight[o * inFeatures + i];
            gradXExact[t * inFeatures + i] += (double)gradY[t * outFeatures + o] * layer.Weight[o * inFeatures + i];
            gradWExact[o * inFeatures + i] += (double)gradY[t * outFeatures + o] * x[t * inFeatures + i];
        }
        yExact[t * outFeatures + o] = acc;
    }
double errY = RelativeError(y, yExact), errGradX = RelativeError(gradX, gradXExact);
double errGradW = RelativeError(layer.WeightGrad, gradWExact);
Console.WriteLine($"Hadamard block size {layer.GroupSize}; relative error vs FP64: Y {errY:F4}, ∇X {errGradX:F4}, ∇W {errGradW:F4}");

// 4-bit codes of this uniform data keep about 15-25% relative error; a broken path (wrong layout, missing
// dequantize, zeros) is off by 100% or more.
const double limit = 0.35;
bool ok = errY < limit && errGradX < limit && errGradW < limit;
Console.WriteLine(ok ? "sample: ok" : $"sample: FAILED (a relative error is ≥ {limit})");
return ok ? 0 : 1;

// ‖got − exact‖₂ / ‖exact‖₂
static double RelativeError(float[] got, double[] exact)
{
    double num = 0, den = 0;
    for (int i = 0; i < got.Length; i++)
    {
        num += (got[i] - exact[i]) * (got[i] - exact[i]);
        den += exact[i] * exact[i];
    }
    return Math.Sqrt(num / den);
}

static float[] Random(int count, Random rng)
{
    var v = new float[count];
    for (int i = 0; i < count; i++) v[i] = rng.NextSingle() * 2f - 1f;
    return v;
}
