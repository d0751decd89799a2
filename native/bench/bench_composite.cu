// bench_composite.cu — the layer's composite operators (HQ forward, LSS ∇W/∇X, whole INT4 and BF16 layers), each
// checked against an independent composition before it is timed.
#include "bench_support.cuh"
#include "cublaslt.cuh"
#include "timing.cuh"
#include "runtime/arena.cuh"
#include "runtime/validate.cuh"
#include "numerics/philox.cuh"
#include "ops/operators.cuh"
#include "gemm/gemm.cuh"

namespace i4t {
namespace bench {

// ---- composite operators ---------------------------------------------------------------------------------------
// Prepared backward inputs of one set: bit split + both selections (Nonzero sampling) + unpacked codes.
struct BwdPrep {
    int8_t *high, *low;
    float* scales;
    double *prob_w, *prob_x;
    uint8_t *keep_w, *keep_x;
    int32_t *kept_w, *kept_x;
    uint8_t *xp, *wp;
};

// linear_int4_bf16io: the INT4 layer (Nonzero sampling) on BF16 X and ∇Y, BF16 Y and ∇X; W, ∇W stay FP32. Checked:
// ∇X, ∇W finite and nonzero (the bits against the FP32 path are the self-test's, test_bf16_activations.cu).
// XP, WP: each set's packed-code buffers (make_packed_codes, without its FP32 forward: run() writes them first).
static int4train_status bench_int4_bf16io(int4train_context ctx, DevMem& mem, const LayerData& L,
                                          const Bf16LayerData& B, const std::vector<uint8_t*>& XP,
                                          const std::vector<uint8_t*>& WP, int n, int c, int d, int group, int warmup,
                                          int runs, int sets, uint64_t seed, float* gwo, float* gst, double* acc,
                                          int4train_bench_result* r) {
    cudaStream_t s = ctx->stream;
    const int64_t nd = (int64_t)n * d, cd = (int64_t)c * d;
    __nv_bfloat16* gx16 = mem.get<__nv_bfloat16>(nd);
    __nv_bfloat16* y16 = mem.get<__nv_bfloat16>((int64_t)n * c);
    float* gxw = mem.get<float>(nd);  // ∇X widened, for the check
    float* zero = mem.get<float>(std::max(nd, cd));
    BENCH_MEM_CHECK(mem);
    auto run = [&](int i) -> int4train_status {
        I4T_TRY(int4train_hq_forward_typed(ctx, INT4TRAIN_DTYPE_BF16, B.x[i], L.w[i], nullptr, L.sx[i], L.sw[i], n, c,
                                           d, group, 0, y16, XP[i], WP[i]));
        return int4train_linear_backward_typed(ctx, INT4TRAIN_DTYPE_BF16, B.gy[i], B.x[i], L.w[i], XP[i], WP[i],
                                               L.sx[i], L.sw[i], n, c, d, group, 0, INT4TRAIN_SAMPLING_NONZERO,
                                               seed + i, gx16, gwo, gst, gst + 1, nullptr, 0);
    };
    I4T_CUDA(cudaMemsetAsync(gx16, 0xff, sizeof(__nv_bfloat16) * nd, s));
    I4T_CUDA(cudaMemsetAsync(gwo, 0xff, sizeof(float) * cd, s));
    I4T_TRY(run(0));
    I4T_CUDA(cudaMemsetAsync(zero, 0, sizeof(float) * std::max(nd, cd), s));
    bf16_to_f32_kernel<<<grid_for(nd), 256, 0, s>>>(gx16, gxw, nd);
    I4T_LAUNCH("bf16_to_f32_kernel");
    Cmp a, b;
    I4T_TRY(compare_f32(s, gxw, zero, nd, acc, &a));  // vs zeros: rel is the norm (as linear_int4's check)
    I4T_TRY(compare_f32(s, gwo, zero, cd, acc, &b));
    float hst[2];
    I4T_CUDA(cudaMemcpyAsync(hst, gst, sizeof hst, cudaMemcpyDeviceToHost, s));
    I4T_CUDA(cudaStreamSynchronize(s));
    const bool ok = a.nonfinite == 0 && b.nonfinite == 0 && a.rel > 0 && b.rel > 0 && isfinite(hst[0]) && isfinite(hst[1]);
    r->check_ok = ok ? 1 : 0;
    r->check_err = a.nonfinite + b.nonfinite;
    snprintf(r->check_text, sizeof r->check_text,
             "outputs finite and nonzero: |dX (bf16)| %.3g, |dW| %.3g, dsX %.3g, dsW %.3g", a.rel, b.rel,
             (double)hst[0], (double)hst[1]);
    Stats st;
    I4T_TRY(time_runs(s, warmup, runs, sets, run, &st));
    put(r, st);
    return INT4TRAIN_SUCCESS;
}

int4train_status bench_composite(int4train_context ctx, const char* op, int n, int c, int d, int group, int warmup,
                                 int runs, int sets, uint64_t seed, int4train_bench_result* r) {
    cudaStream_t s = ctx->stream;
    const bool hq = is_op(op, "hq_forward"), gw = is_op(op, "lss_grad_weight"), gx = is_op(op, "lss_grad_input");
    // linear_int4_bernoulli: the layer on the paper's operator-benchmark gradients (every other row of ∇Y zero) with
    // Bernoulli sampling, beside linear_int4 (every row nonzero, the exact Nonzero mode)
    const bool lbern = is_op(op, "linear_int4_bernoulli");
    const bool li = is_op(op, "linear_int4") || lbern, lb = is_op(op, "linear_bf16");
    // linear_int4_bf16io: linear_int4 with linear_bf16's BF16 activations (X, ∇Y in; Y, ∇X out), the typed entry
    // points (docs/conventions.md "BF16 activations of the INT4 layer")
    const bool lio = is_op(op, "linear_int4_bf16io");
    if (!(hq || gw || gx || li || lb || lio)) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "bench: unknown op '%s'", op);
    if (d % 2) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "bench: d must be even");
    DevMem mem;
    Lt lt;
    I4T_TRY(lt.init());
    LayerData L;
    I4T_TRY(make_layer_data(ctx, mem, n, c, d, group, sets, seed, !hq, &L));
    const int64_t nc = (int64_t)n * c, nd = (int64_t)n * d, cd = (int64_t)c * d;
    float* y = mem.get<float>(nc);
    float* yref = mem.get<float>(std::max(nc, std::max(nd, cd)));
    float* gxo = mem.get<float>(nd);
    float* gwo = mem.get<float>(cd);
    float* gst = mem.get<float>(2);
    double* acc = mem.get<double>(8);
    BENCH_MEM_CHECK(mem);
    std::vector<uint8_t*> XP, WP;  // the packed codes of every set (the forward's output the backward ops need)
    I4T_TRY(make_packed_codes(ctx, mem, L, n, c, d, group, !lb && !lio, y, &XP, &WP));
    r->ops = (li || lb || lio ? 6.0 : 2.0) * n * (double)c * d;
    r->check_ok = -1;
    set_text(r, "no check");

    if (hq) {
        // Y vs s_X·s_W·(cuBLASLt INT8 product of the saved codes)
        int8_t* xq = mem.get<int8_t>(nd);
        int8_t* wq = mem.get<int8_t>(cd);
        int32_t* p = mem.get<int32_t>(nc);
        BENCH_MEM_CHECK(mem);
        I4T_CUDA(cudaMemsetAsync(y, 0xff, sizeof(float) * nc, s));
        I4T_TRY(int4train_hq_forward(ctx, L.x[0], L.w[0], nullptr, L.sx[0], L.sw[0], n, c, d, group, 0, y, XP[0], WP[0]));
        I4T_TRY(int4train_unpack_int4(ctx, XP[0], xq, n, d));
        I4T_TRY(int4train_unpack_int4(ctx, WP[0], wq, c, d));
        if (d % 4 == 0) {
            LtGemm g;
            I4T_TRY(g.init(lt.h, CUDA_R_8I, CUDA_R_32I, CUBLAS_COMPUTE_32I, CUDA_R_32I, false, true, n, c, d));
            I4T_TRY(g.run(lt.h, xq, wq, p, lt.ws, s));
        } else {
            I4T_TRY(int4train_gemm_s8(ctx, xq, wq, p, n, c, d));
        }
        ref_dequant_kernel<<<grid_for(nc), 256, 0, s>>>(p, L.sx[0], L.sw[0], nullptr, n, c, yref);
        I4T_LAUNCH("ref_dequant_kernel");
        Cmp cm;
        I4T_TRY(compare_f32(s, y, yref, nc, acc, &cm));
        r->check_err = cm.rel;
        r->check_ok = (cm.rel <= 2e-6 && cm.nonfinite == 0 && cm.refnorm > 0) ? 1 : 0;
        set_text(r, "Y vs s_X*s_W*(cuBLASLt INT8 on the saved codes): rel L2 %.3g, %.0f bits differ", cm.rel, cm.diffbits);
        Stats st;
        I4T_TRY(time_runs(s, warmup, runs, sets, [&](int i) {
            return (int4train_status)int4train_hq_forward(ctx, L.x[i], L.w[i], nullptr, L.sx[i], L.sw[i], n, c, d, group,
                                                          0, y, XP[i], WP[i]);
        }, &st));
        put(r, st);
        return INT4TRAIN_SUCCESS;
    }

    if (gw || gx) {
        std::vector<BwdPrep> P(sets);
        for (int i = 0; i < sets; ++i) {
            BwdPrep& b = P[i];
            b.high = mem.get<int8_t>(nc); b.low = mem.get<int8_t>(nc); b.scales = mem.get<float>(3);
            b.prob_w = mem.get<double>(2 * (int64_t)n); b.prob_x = mem.get<double>(2 * (int64_t)n);
            b.keep_w = mem.get<uint8_t>(2 * (int64_t)n); b.keep_x = mem.get<uint8_t>(2 * (int64_t)n);
            b.kept_w = mem.get<int32_t>(2); b.kept_x = mem.get<int32_t>(2);
            int8_t* xq = mem.get<int8_t>(nd);
            BENCH_MEM_CHECK(mem);
            b.xp = XP[i]; b.wp = WP[i];
            I4T_TRY(int4train_bit_split(ctx, L.gy[i], n, c, seed + i, 0, b.high, b.low, b.scales));
            I4T_TRY(int4train_unpack_int4(ctx, XP[i], xq, n, d));
            I4T_TRY(int4train_lss_select(ctx, b.high, b.low, b.scales, xq, L.sx[i], n, c, d, 0, seed + i, b.prob_w, b.keep_w, b.kept_w));
            I4T_TRY(int4train_lss_select(ctx, b.high, b.low, b.scales, nullptr, nullptr, n, c, d, 0, seed + i, b.prob_x, b.keep_x, b.kept_x));
        }
        auto run = [&](int i) -> int4train_status {
            BwdPrep& b = P[i];
            if (gw) return int4train_lss_grad_weight(ctx, b.high, b.low, b.xp, b.scales, L.sx[i], b.keep_w, b.prob_w, n, c, d, gwo);
            return int4train_lss_grad_input(ctx, b.high, b.low, b.wp, b.scales, L.sw[i], b.keep_x, b.prob_x, n, c, d, gxo);
        };
        // check (Nonzero: every row with a nonzero score is kept with p = 1, the others are zero): cuBLASLt FP32
        // GEMM on the dequantized digits ĝ = s↑·h + s↓·l and codes
        float* ghat = mem.get<float>(nc);
        int8_t* q = mem.get<int8_t>(gw ? nd : cd);
        float* qf = mem.get<float>(gw ? nd : cd);
        BENCH_MEM_CHECK(mem);
        float* out = gw ? gwo : gxo;
        const int64_t on = gw ? cd : nd;
        I4T_CUDA(cudaMemsetAsync(out, 0xff, sizeof(float) * on, s));
        I4T_TRY(run(0));
        dequant_digits_kernel<<<grid_for(nc), 256, 0, s>>>(P[0].high, P[0].low, nc, P[0].scales, ghat);
        I4T_LAUNCH("dequant_digits_kernel");
        LtGemm g;
        if (gw) {
            // ∇(WH)[C,D] = ĝᵀ[C,N]·(s_X·X codes)[N,D]
            I4T_TRY(int4train_unpack_int4(ctx, XP[0], q, n, d));
            dequant_codes_kernel<<<grid_for(nd), 256, 0, s>>>(q, nd, L.sx[0], qf);
            I4T_LAUNCH("dequant_codes_kernel");
            I4T_TRY(g.init(lt.h, CUDA_R_32F, CUDA_R_32F, CUBLAS_COMPUTE_32F, CUDA_R_32F, true, false, c, d, n));
            I4T_TRY(g.run(lt.h, ghat, qf, yref, lt.ws, s));
        } else {
            // ∇(XH)[N,D] = ĝ[N,C]·(s_W·W codes)[C,D]
            I4T_TRY(int4train_unpack_int4(ctx, WP[0], q, c, d));
            dequant_codes_kernel<<<grid_for(cd), 256, 0, s>>>(q, cd, L.sw[0], qf);
            I4T_LAUNCH("dequant_codes_kernel");
            I4T_TRY(g.init(lt.h, CUDA_R_32F, CUDA_R_32F, CUBLAS_COMPUTE_32F, CUDA_R_32F, false, false, n, d, c));
            I4T_TRY(g.run(lt.h, ghat, qf, yref, lt.ws, s));
        }
        Cmp cm;
        I4T_TRY(compare_f32(s, out, yref, on, acc, &cm));
        r->check_err = cm.rel;
        r->check_ok = (cm.rel <= 1e-5 && cm.nonfinite == 0 && cm.refnorm > 0) ? 1 : 0;
        set_text(r, "vs cuBLASLt FP32 GEMM on dequantized digits and codes: rel L2 %.3g (%.0f bits differ)", cm.rel, cm.diffbits);
        Stats st;
        I4T_TRY(time_runs(s, warmup, runs, sets, run, &st));
        put(r, st);
        return INT4TRAIN_SUCCESS;
    }

    if (li) {
        const int sampling = lbern ? INT4TRAIN_SAMPLING_BERNOULLI : INT4TRAIN_SAMPLING_NONZERO;
        if (lbern)
            for (int i = 0; i < sets; ++i)  // rows 1, 3, 5, … of ∇Y zero
                I4T_CUDA(cudaMemset2DAsync(L.gy[i] + c, 2 * sizeof(float) * c, 0, sizeof(float) * c, n / 2, s));
        auto run = [&](int i) -> int4train_status {
            I4T_TRY(int4train_hq_forward(ctx, L.x[i], L.w[i], nullptr, L.sx[i], L.sw[i], n, c, d, group, 0, y, XP[i], WP[i]));
            return int4train_linear_backward(ctx, L.gy[i], L.x[i], L.w[i], XP[i], WP[i], L.sx[i], L.sw[i], n, c, d, group, 0,
                                             sampling, seed + i, gxo, gwo, gst, gst + 1, nullptr, 0);
        };
        I4T_CUDA(cudaMemsetAsync(gxo, 0xff, sizeof(float) * nd, s));
        I4T_CUDA(cudaMemsetAsync(gwo, 0xff, sizeof(float) * cd, s));
        I4T_TRY(run(0));
        Cmp a, b;
        I4T_CUDA(cudaMemsetAsync(yref, 0, sizeof(float) * std::max(nd, cd), s));
        I4T_TRY(compare_f32(s, gxo, yref, nd, acc, &a));  // "error" vs zeros = 1 and rel = ‖∇X‖ / 0 → use the norms
        I4T_TRY(compare_f32(s, gwo, yref, cd, acc, &b));
        float hst[2];
        I4T_CUDA(cudaMemcpyAsync(hst, gst, sizeof hst, cudaMemcpyDeviceToHost, s));  // on the context's stream
        I4T_CUDA(cudaStreamSynchronize(s));
        const bool ok = a.nonfinite == 0 && b.nonfinite == 0 && a.rel > 0 && b.rel > 0 && isfinite(hst[0]) && isfinite(hst[1]);
        r->check_ok = ok ? 1 : 0;
        r->check_err = a.nonfinite + b.nonfinite;
        snprintf(r->check_text, sizeof r->check_text, "outputs finite and nonzero: |dX| %.3g, |dW| %.3g, dsX %.3g, dsW %.3g",
                 a.rel, b.rel, (double)hst[0], (double)hst[1]);
        Stats st;
        I4T_TRY(time_runs(s, warmup, runs, sets, run, &st));
        put(r, st);
        return INT4TRAIN_SUCCESS;
    }

    // linear_bf16 and linear_int4_bf16io read the same BF16 X and ∇Y
    Bf16LayerData B;
    I4T_TRY(make_bf16_layer_data(s, mem, L, n, c, d, &B));
    if (lio) return bench_int4_bf16io(ctx, mem, L, B, XP, WP, n, c, d, group, warmup, runs, sets, seed, gwo, gst, acc, r);

    // linear_bf16: Y = X·Wᵀ, ∇X = ∇Y·W, ∇W = ∇Yᵀ·X with BF16 operands, FP32 accumulation, BF16 outputs
    __nv_bfloat16* Y16 = mem.get<__nv_bfloat16>(nc);
    __nv_bfloat16* GX16 = mem.get<__nv_bfloat16>(nd);
    __nv_bfloat16* GW16 = mem.get<__nv_bfloat16>(cd);
    BENCH_MEM_CHECK(mem);
    LtBf16Linear layer;
    I4T_TRY(layer.init(lt.h, n, c, d));
    Stats st;
    I4T_TRY(time_runs(s, warmup, runs, sets, [&](int i) {
        return layer.run(lt, B.x[i], B.w[i], B.gy[i], Y16, GX16, GW16, s);
    }, &st));
    put(r, st);
    set_text(r, "baseline (no check)");
    return INT4TRAIN_SUCCESS;
}

}  // namespace bench
}  // namespace i4t
