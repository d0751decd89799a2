// test_attention.cu — the device GPT's fused attention (native/src/gpt/flash_attention*.cu) against the FP64
// reference of attention.cu's function (../attention_reference.h) on random q, k, v with outlier columns: output and
// ∂qkv within BF16 tolerances, with and without dropout, for T on and off the 64-row tile and hs 16..128; a second
// run bit-identical (no atomics); both kernel shapes on the same data (the default pipelined kernels and
// INT4TRAIN_FLASH_V2=0's first ones) and, at hs 64 and 128, the INT4TRAIN_FLASH_TUNE variants (flash_attention.cuh
// tune_bits: each must give the default kernels' bits). Not --quick: the times of each against the llm.c path at
// gpt2-small's attention.
#include "selftest.h"
#include "gpt/device_util.cuh"
#include "../attention_reference.h"

using i4t::nn::AttentionShape;
using i4t::nn::DropoutKey;

namespace {

// The kernel sets the checks and the bench run: the environment each is selected by (flash_attention.cuh use_v2,
// tune_bits; read at each launch). [0] is the untuned V2 set every variant is compared with (unset: 7 at hs 64,
// 3 at hs 128); the tune variants exist at hs 64 and 128 only (tunable).
struct Kernels {
    const char* name;
    const char* v2;    // INT4TRAIN_FLASH_V2
    const char* tune;  // INT4TRAIN_FLASH_TUNE
    bool tuned() const { return strcmp(tune, "0") != 0; }
};
constexpr Kernels kKernels[] = {
    {"pipelined, untuned (INT4TRAIN_FLASH_TUNE=0)", "1", "0"},
    {"first kernels (INT4TRAIN_FLASH_V2=0)", "0", "0"},
    {"INT4TRAIN_FLASH_TUNE=1 (bf16 dout)", "1", "1"},
    {"INT4TRAIN_FLASH_TUNE=2 (interior tiles)", "1", "2"},
    {"INT4TRAIN_FLASH_TUNE=3 (1 + 2: hs 128's default)", "1", "3"},
    {"INT4TRAIN_FLASH_TUNE=4 (2 blocks/SM fwd, dq)", "1", "4"},
    {"INT4TRAIN_FLASH_TUNE=8 (32-row warps fwd)", "1", "8"},
    {"INT4TRAIN_FLASH_TUNE=7 (1 + 2 + 4: hs 64's default)", "1", "7"},
    {"INT4TRAIN_FLASH_TUNE=15 (all: fwd 8, dq 4 + 2, dout 1)", "1", "15"},
};
constexpr int kKernelSets = (int)(sizeof(kKernels) / sizeof(kKernels[0]));

// Runs fn() with the environment of kernel set k, then puts the variables back as they were.
template <class F> void with_kernels(const Kernels& k, F&& fn) {
    const char* names[2] = {"INT4TRAIN_FLASH_V2", "INT4TRAIN_FLASH_TUNE"};
    const char* values[2] = {k.v2, k.tune};
    std::string saved[2];
    bool had[2];
    for (int i = 0; i < 2; ++i) {
        const char* was = getenv(names[i]);
        had[i] = was != nullptr;
        saved[i] = was ? was : "";
        setenv(names[i], values[i], 1);
    }
    fn();
    for (int i = 0; i < 2; ++i) {
        if (had[i]) setenv(names[i], saved[i].c_str(), 1);
        else unsetenv(names[i]);
    }
}

// The fused forward, D and backward on device buffers; false (reported) on a CUDA error.
struct FusedRun {
    AttentionShape sh;
    DBuf<float> qkv, dout, out, lse2, delta, dqkv;
    DBuf<__nv_bfloat16> dout16;  // INT4TRAIN_FLASH_TUNE bit 1: D's BF16 copy of dout, which the backward reads
    DBuf<uint64_t> step_key;
    FusedRun(AttentionShape s, const std::vector<float>& q, const std::vector<float>& g, uint64_t key)
        : sh(s), qkv(q), dout(g), out((size_t)s.b * s.t * s.c), lse2((size_t)s.b * s.nh * s.t),
          delta((size_t)s.b * s.nh * s.t), dqkv((size_t)s.b * s.t * 3 * s.c), dout16((size_t)s.b * s.t * s.c),
          step_key(std::vector<uint64_t>{key}) {}
    // D and the backward (the BF16 copy of dout where the environment asks for it, as block_attention.cu does)
    cudaError_t backward(float p, DropoutKey key) {
        __nv_bfloat16* d16 = i4t::nn::flash_attention_bf16_dout() ? dout16.p : nullptr;
        cudaError_t e = i4t::nn::flash_attention_delta(nullptr, sh, delta.p, dout.p, out.p, nullptr, d16);
        if (e == cudaSuccess)
            e = i4t::nn::flash_attention_backward(nullptr, sh, dqkv.p, dout.p, qkv.p, lse2.p, delta.p, p, key, d16);
        return e;
    }
    bool run(float p, uint32_t site) {
        const DropoutKey key{step_key.p, site};
        cudaError_t e = i4t::nn::flash_attention_forward(nullptr, sh, out.p, lse2.p, qkv.p, p, key);
        if (e == cudaSuccess) e = backward(p, key);
        if (e == cudaSuccess) e = cudaDeviceSynchronize();
        if (e != cudaSuccess) report(false, "flash attention launches", cudaGetErrorString(e));
        return e == cudaSuccess;
    }
};

// One case on one draw of data (q, k, v with 3 outlier columns, ∂out with one), each kernel set in turn on the same
// data: accuracy against the FP64 reference, then a second run bit-identical, and each tune variant (hs 64, 128)
// bit-identical to the default kernels.
void check_case(int b, int h, int t, int hs, float p) {
    const int c = h * hs, n = b * t;
    const AttentionShape sh{b, t, c, h};
    const auto qkv = randn_outliers(n, 3 * c, 0.5f), dout = randn_outliers(n, c, 1.0f, 1);
    const uint64_t step_key = rng();
    const uint32_t site = 9;
    FusedRun f(sh, qkv, dout, step_key);
    std::vector<float> default_out, default_dqkv;
    for (const Kernels& k : kKernels) {
        if (k.tuned() && hs != 64 && hs != 128) continue;  // (the default kernels again)
        bool ok = false;
        with_kernels(k, [&] { ok = f.run(p, site); });
        if (!ok) return;
        const auto out = f.out.down(), dqkv = f.dqkv.down();
        const auto e = attention_reference::compare({b, h, t, hs, p, i4t::nn::splitmix64(step_key ^ site)}, qkv,
                                                    dout, out, dqkv);
        const std::string what = fmt("%s b=%d h=%d T=%d hs=%d p=%.1f", k.name, b, h, t, hs, p);
        report(e.out < 5e-3 && e.dq < 2e-2 && e.dk < 2e-2 && e.dv < 2e-2 && e.nonfinite == 0,
               "flash attention vs FP64 reference (BF16 tolerances)",
               what + fmt(": rel out %.2e dq %.2e dk %.2e dv %.2e, non-finite %ld", e.out, e.dq, e.dk, e.dv,
                          e.nonfinite));
        with_kernels(k, [&] { ok = f.run(p, site); });
        if (!ok) return;
        const size_t diff = count_diff(f.out.down(), out) + count_diff(f.dqkv.down(), dqkv);
        report(diff == 0, "flash attention deterministic (a second run bit-identical)",
               what + fmt(": %zu differ", diff));
        if (&k == &kKernels[0]) {
            default_out = out;
            default_dqkv = dqkv;
        } else if (k.tuned()) {
            const size_t d = count_diff(out, default_out) + count_diff(dqkv, default_dqkv);
            report(d == 0, "flash attention tune variant = default kernels bit for bit", what + fmt(": %zu differ", d));
        }
    }
}

// Mean milliseconds of fn over 10 runs after a warm-up one (events on the default stream).
template <class F> float timed_ms(F&& fn) {
    const int reps = 10;
    cudaEvent_t e0, e1;
    cudaEventCreate(&e0);
    cudaEventCreate(&e1);
    fn();
    cudaEventRecord(e0);
    for (int r = 0; r < reps; ++r) fn();
    cudaEventRecord(e1);
    cudaEventSynchronize(e1);
    float ms = 0;
    cudaEventElapsedTime(&ms, e0, e1);
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    return ms / reps;
}

// Forward and backward (D + both kernels) milliseconds of the fused attention on f's buffers, no dropout, of each
// kernel set (kKernels).
struct FusedTimes {
    float fwd[kKernelSets], bwd[kKernelSets];
};
FusedTimes time_fused(FusedRun& f) {
    const DropoutKey key{f.step_key.p, 1};
    FusedTimes r{};
    for (int k = 0; k < kKernelSets; ++k)
        with_kernels(kKernels[k], [&] {
            r.fwd[k] = timed_ms(
                [&] { i4t::nn::flash_attention_forward(nullptr, f.sh, f.out.p, f.lse2.p, f.qkv.p, 0, key); });
            r.bwd[k] = timed_ms([&] { f.backward(0, key); });
        });
    return r;
}

// "NAME forward F backward B (x, y TFLOP/s); ..." for each kernel set: TFLOP/s of the causal products (forward
// 4·B·H·T²·hs/2; backward 2.5× that, as FlashAttention counts it).
std::string fused_line(const FusedTimes& r, AttentionShape sh) {
    const double flop = 4.0 * sh.b * sh.nh * (double)sh.t * sh.t * (sh.c / sh.nh) / 2;
    std::string line = "fused";
    for (int k = 0; k < kKernelSets; ++k)
        line += fmt("%s %s forward %.3f backward %.3f (%.0f, %.0f TFLOP/s)", k ? ";" : ",", kKernels[k].name,
                    r.fwd[k], r.bwd[k], flop / r.fwd[k] * 1e-9, 2.5 * flop / r.bwd[k] * 1e-9);
    return line;
}

// Forward and backward milliseconds of both paths at gpt2-small's attention (8 × 12 heads, T 1024, hs 64), BF16,
// and of the fused kernels at gpt-1b's (8 × 16 heads, T 1024, hs 128).
void bench_attention() {
    const int b = 8, h = 12, t = 1024, hs = 64, c = h * hs, n = b * t;
    const AttentionShape sh{b, t, c, h};
    FusedRun f(sh, randn_outliers(n, 3 * c, 0.5f), randn_outliers(n, c), 1);
    const size_t bhtt = (size_t)b * h * t * t;
    DBuf<float> att(bhtt), attd(bhtt), datt(bhtt), qkvp((size_t)3 * n * c), dqkvp((size_t)3 * n * c), outp((size_t)n * c);
    cublasHandle_t blas;
    if (cublasCreate(&blas) != CUBLAS_STATUS_SUCCESS) return report(false, "bench_attention: cublasCreate", "");
    const cublasComputeType_t bf16 = CUBLAS_COMPUTE_32F_FAST_16BF;
    const DropoutKey key{f.step_key.p, 1};
    const FusedTimes fused = time_fused(f);
    const float uf = timed_ms([&] {
        i4t::nn::attention_forward(nullptr, blas, bf16, sh, f.out.p, att.p, f.qkv.p, qkvp.p, attd.p, outp.p, 0, key);
    });
    const float ub = timed_ms([&] {
        i4t::nn::attention_backward(nullptr, blas, bf16, sh, f.dqkv.p, f.dout.p, f.qkv.p, att.p, qkvp.p, dqkvp.p,
                                    attd.p, datt.p, outp.p, 0, key);
    });
    cudaError_t err = cudaDeviceSynchronize();
    report(err == cudaSuccess, "bench_attention ran", err == cudaSuccess ? "" : cudaGetErrorString(err));
    printf("  attention 8 x 12 heads x T 1024, hs 64 (ms): %s; llm.c path (cuBLAS BF16) forward %.3f backward %.3f\n",
           fused_line(fused, sh).c_str(), uf, ub);
    cublasDestroy(blas);

    const int h1 = 16, hs1 = 128, c1 = h1 * hs1;  // gpt-1b's heads
    const AttentionShape sh1{b, t, c1, h1};
    FusedRun f1(sh1, randn_outliers(n, 3 * c1, 0.5f), randn_outliers(n, c1), 1);
    const FusedTimes fused1 = time_fused(f1);
    err = cudaDeviceSynchronize();
    report(err == cudaSuccess, "bench_attention (gpt-1b's heads) ran",
           err == cudaSuccess ? "" : cudaGetErrorString(err));
    printf("  attention 8 x 16 heads x T 1024, hs 128 (ms): %s\n", fused_line(fused1, sh1).c_str());
}

}  // namespace

void test_flash_attention() {
    const cudaError_t prep = i4t::nn::flash_attention_prepare();
    report(prep == cudaSuccess, "flash_attention_prepare", prep == cudaSuccess ? "" : cudaGetErrorString(prep));
    if (prep != cudaSuccess) return;
    check_case(2, 3, 200, 64, 0.0f);   // T off the tiles (64, 128 rows)
    check_case(1, 2, 130, 128, 0.0f);  // gpt-1b's head size, the narrower inner tiles
    check_case(2, 2, 128, 64, 0.2f);   // baby GPT's dropout
    check_case(1, 2, 77, 128, 0.1f);
    check_case(1, 4, 64, 32, 0.0f);
    check_case(1, 1, 100, 48, 0.0f);
    check_case(1, 1, 300, 80, 0.1f);   // a streamed tile not a multiple of the threads' share (v2)
    check_case(1, 1, 150, 112, 0.0f);
    // T = 1: the exact ∂q, ∂k are 0 (the softmax of one score has no gradient), so the kernels' ∂q, ∂k are their
    // rounding residue of ∂ã − D alone, measured against ∂qkv's norm. D formed from another rounding of ∂out than the
    // kernels' ∂ã (before flash_attention.cu delta_kernel's fix) failed 5 of 30 random draws of the hs 16 case in the
    // CPU emulation (up to 3.3× the norm; now ≤ 2.9e-3 in 70 draws), so 8 draws catch it. (T = 2, 3 are in the
    // emulation on fixed data only: with ×50 outliers their softmax often saturates, leaving ∂q, ∂k tiny against the
    // BF16 rounding of the probabilities, inherent to FlashAttention, that fails some draws per part.)
    for (int k = 0; k < 8; ++k) check_case(1, 1, 1, 16, 0.0f);
    check_case(2, 2, 1, 64, 0.1f);
    if (!g_quick) check_case(1, 2, 1024, 64, 0.0f);
    if (!g_quick) bench_attention();
}
