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

double[] yExact = Fp64Linear.Forward(x, layer.Weight, layer.Bias, tokens, outFeatures, inFeatures);
double[] gradXExact = Fp64Linear.GradInput(gradY, layer.Weight, tokens, outFeatures, inFeatures);
double[] gradWExact = Fp64Linear.GradWeight(gradY, x, tokens, outFeatures, inFeatures);
double errY = Fp64Linear.RelativeError(y, yExact);
double errGradX = Fp64Linear.RelativeError(gradX, gradXExact);
double errGradW = Fp64Linear.RelativeError(layer.WeightGrad, gradWExact);
Console.WriteLine($"Hadamard block size {layer.GroupSize}; relative error vs FP64: Y {errY:F4}, ∇X {errGradX:F4}, ∇W {errGradW:F4}");

// 4-bit codes of this uniform data keep about 15-25% relative error; a broken path (wrong layout, missing
// dequantize, zeros) is off by 100% or more.
const double limit = 0.35;
bool ok = errY < limit && errGradX < limit && errGradW < limit;
Console.WriteLine(ok ? "sample: ok" : $"sample: FAILED (a relative error is ≥ {limit})");
return ok ? 0 : 1;

static float[] Random(int count, Random rng)
{
    var v = new float[count];
    for (int i = 0; i < count; i++) v[i] = rng.NextSingle() * 2f - 1f;
    return v;
}
