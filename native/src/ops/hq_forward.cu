// hq_forward.cu — HQ-MM forward (method.md §2.3): Y = s_X·s_W·(q(XH/s_X)·q(WH/s_W)ᵀ) + bias.
#include <type_traits>

#include "runtime/status.cuh"
#include "runtime/context.cuh"
#include "runtime/arena.cuh"
#include "runtime/launch.cuh"
#include "runtime/validate.cuh"
#include "numerics/widen.cuh"
#include "ops/operators.cuh"
#include "gemm/gemm.cuh"

namespace i4t {

// y[i, j] = (s_X·s_W)·P[i, j] + bias[j]: the scale product, one rounding of the product by P, then the bias
// (explicit _rn operations: no FMA contraction). Y: float, or __nv_bfloat16 (RN_bf16 of the FP32 value).
template <class Y>
__global__ void hq_dequant_kernel(const int32_t* __restrict__ p, int ldp, const float* sx, const float* sw,
                                  const float* __restrict__ bias, int n, int c, Y* y) {
    float sc = __fmul_rn(*sx, *sw);
    int64_t total = (int64_t)n * c;
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < total; t += (int64_t)gridDim.x * blockDim.x) {
        int i = (int)(t / c), j = (int)(t % c);
        float v = __fmul_rn(sc, (float)p[(int64_t)i * ldp + j]);
        if (bias) v = __fadd_rn(v, bias[j]);
        store_narrowed(y, t, v);
    }
}

template <class Y>
int4train_status hq_dequantize_impl(int4train_context ctx, const int32_t* p, int ldp, const float* d_step_x,
                                    const float* d_step_w, const float* d_bias, int n, int c, Y* d_y) {
    hq_dequant_kernel<<<grid_for((int64_t)n * c), 256, 0, ctx->stream>>>(p, ldp, d_step_x, d_step_w, d_bias, n, c, d_y);
    I4T_LAUNCH("hq_dequant_kernel");
    return INT4TRAIN_SUCCESS;
}
template int4train_status hq_dequantize_impl<float>(int4train_context, const int32_t*, int, const float*, const float*,
                                                    const float*, int, int, float*);
template int4train_status hq_dequantize_impl<__nv_bfloat16>(int4train_context, const int32_t*, int, const float*,
                                                            const float*, const float*, int, int, __nv_bfloat16*);

// dst (rows × cols, BF16, row stride cols) = RN_bf16 of src (row stride lds): Y of the SM90 path when the GEMM wrote
// FP32 (no BF16-output epilogue built, INT4TRAIN_HAS_SM90_DQ_BF16).
__global__ void narrow_rows_kernel(const float* __restrict__ src, int lds, int rows, int cols,
                                   __nv_bfloat16* __restrict__ dst) {
    const int64_t total = (int64_t)rows * cols;
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < total; t += (int64_t)gridDim.x * blockDim.x)
        store_narrowed(dst, t, src[(t / cols) * lds + t % cols]);
}

// SM90: the dequantize Y = (s_X·s_W)·acc + bias runs in the GEMM's epilogue, which writes O (FP32, or BF16 =
// RN_bf16 of the same FP32 values); Y is T. O = T: Y goes straight to d_y when its rows are 16-byte multiples and it
// is 16-byte aligned, otherwise into a padded buffer (and the bias into a zero-padded copy: the GEMM's N is cp), then
// copied out. O = float, T = BF16: the FP32 buffer is narrowed into d_y.
template <class T, class O>
static int4train_status hq_forward_sm90(int4train_context ctx, const T* d_x, const float* d_w, const float* d_bias,
                                        const float* d_step_x, const float* d_step_w, int n, int c, int d, int group,
                                        int mode, T* d_y, uint8_t* d_x_packed, uint8_t* d_w_packed) {
    constexpr int kAlignY = 16 / (int)sizeof(O);  // the epilogue's 16-byte TMA rows, in elements
    constexpr bool same = std::is_same<T, O>::value;
    const int kp = (int)round_up(d, 32), cp = (int)round_up(c, kAlignY);
    const bool direct = same && (c % kAlignY == 0) && ((uintptr_t)d_y % 16 == 0);
    const bool pad_bias = !direct && d_bias && cp != c;
    size_t gws = gemm_padded_dq_workspace(ctx, n, cp, kp);
    Plan p;
    p.add<int8_t>((int64_t)n * kp);
    p.add<int8_t>((int64_t)cp * kp);
    if (!direct) p.add<O>((int64_t)n * cp);
    if (pad_bias) p.add<float>(cp);
    p.add<char>((int64_t)gws);
    Arena ar;
    I4T_TRY(make_arena(ctx, p, &ar));
    int8_t* a = ar.take<int8_t>((int64_t)n * kp);
    int8_t* b = ar.take<int8_t>((int64_t)cp * kp);
    O* yp = direct ? reinterpret_cast<O*>(d_y) : ar.take<O>((int64_t)n * cp);  // direct: O = T
    float* bias = pad_bias ? ar.take<float>(cp) : (float*)d_bias;
    char* ws = ar.take<char>((int64_t)gws);
    I4T_ARENA_CHECK(ar);
    if (pad_bias) {
        I4T_CUDA(cudaMemsetAsync(bias, 0, sizeof(float) * cp, ctx->stream));
        I4T_CUDA(cudaMemcpyAsync(bias, d_bias, sizeof(float) * c, cudaMemcpyDeviceToDevice, ctx->stream));
    }
    I4T_TRY(hadamard_quantize_pad_pack(ctx, d_x, n, d, group, d_step_x, mode, a, n, kp, d_x_packed));
    phase_done(ctx, "hadamard+quantize+pack X");
    I4T_TRY(hadamard_quantize_pad_pack(ctx, d_w, c, d, group, d_step_w, mode, b, cp, kp, d_w_packed));
    phase_done(ctx, "hadamard+quantize+pack W");
    const int ldy = direct ? c : cp;
    I4T_TRY(gemm_padded_dq(ctx, a, b, bias, d_step_x, d_step_w, yp, ldy, n, cp, kp, ws, gws));
    if constexpr (same) {
        if (!direct)
            I4T_CUDA(cudaMemcpy2DAsync(d_y, sizeof(T) * c, yp, sizeof(T) * cp, sizeof(T) * c, n,
                                       cudaMemcpyDeviceToDevice, ctx->stream));
    } else {  // O = float, T = BF16
        narrow_rows_kernel<<<grid_for((int64_t)n * c), 256, 0, ctx->stream>>>(yp, cp, n, c, d_y);
        I4T_LAUNCH("narrow_rows_kernel");
    }
    phase_done(ctx, "int GEMM + dequantize (epilogue)");
    return INT4TRAIN_SUCCESS;
}

// The HQ forward of X in the element type T (float, or __nv_bfloat16 widened exactly on load: the codes, and so Y, of
// the widened X, docs/conventions.md "BF16 activations of the INT4 layer"); fn names the entry point in messages.
template <class T>
static int4train_status hq_forward_impl(int4train_context ctx, const T* d_x, const float* d_w, const float* d_bias,
                                        const float* d_step_x, const float* d_step_w, int n, int c, int d, int group,
                                        int mode, T* d_y, uint8_t* d_x_packed, uint8_t* d_w_packed,
                                        const char* fn) {
    I4T_TRY(enter(ctx, fn));
    I4T_NOTNULL_IN(fn, d_x);
    I4T_NOTNULL_IN(fn, d_w);
    I4T_NOTNULL_IN(fn, d_step_x);
    I4T_NOTNULL_IN(fn, d_step_w);
    I4T_NOTNULL_IN(fn, d_y);
    I4T_NOTNULL_IN(fn, d_x_packed);
    I4T_NOTNULL_IN(fn, d_w_packed);
    I4T_ALIGNED_IN(fn, d_bias);
    if (n <= 0 || c <= 0 || d <= 0)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "%s: n (%d), c (%d), d (%d) must be positive", fn, n, c, d);
    if (d % 2 != 0) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "%s: d (%d) must be even (packed codes)", fn, d);
    I4T_TRY(check_dim(fn, "n", n));
    I4T_TRY(check_dim(fn, "c", c));
    I4T_TRY(check_dim(fn, "d", d));
    I4T_TRY(check_group(d, group, fn));
    I4T_TRY(check_mode(mode, fn));

    if (gemm_dq_available(ctx)) {
        // a BF16 Y straight from the epilogue where that kernel is built, else through FP32 (hq_forward_sm90)
        if (!std::is_same<T, float>::value && gemm_dq_bf16_available(ctx))
            return hq_forward_sm90<T, T>(ctx, d_x, d_w, d_bias, d_step_x, d_step_w, n, c, d, group, mode, d_y,
                                         d_x_packed, d_w_packed);
        return hq_forward_sm90<T, float>(ctx, d_x, d_w, d_bias, d_step_x, d_step_w, n, c, d, group, mode, d_y,
                                         d_x_packed, d_w_packed);
    }

    const int kp = (int)round_up(d, 32), cp = (int)round_up(c, 4);
    size_t gws = gemm_padded_workspace(ctx, n, cp, kp);
    Plan p;
    p.add<int8_t>((int64_t)n * kp);
    p.add<int8_t>((int64_t)cp * kp);
    p.add<int32_t>((int64_t)n * cp);
    p.add<char>((int64_t)gws);
    Arena ar;
    I4T_TRY(make_arena(ctx, p, &ar));
    int8_t* a = ar.take<int8_t>((int64_t)n * kp);
    int8_t* b = ar.take<int8_t>((int64_t)cp * kp);
    int32_t* prod = ar.take<int32_t>((int64_t)n * cp);
    char* ws = ar.take<char>((int64_t)gws);
    I4T_ARENA_CHECK(ar);

    // 1–3. XH, WH (§2.2), their codes into the padded GEMM operands and the packed copies for the backward
    // (one fused pass per operand: XH is never written to memory).
    I4T_TRY(hadamard_quantize_pad_pack(ctx, d_x, n, d, group, d_step_x, mode, a, n, kp, d_x_packed));
    phase_done(ctx, "hadamard+quantize+pack X");
    I4T_TRY(hadamard_quantize_pad_pack(ctx, d_w, c, d, group, d_step_w, mode, b, cp, kp, d_w_packed));
    phase_done(ctx, "hadamard+quantize+pack W");
    // 4. P = a·bᵀ (INT32); 5. Y = s_X·s_W·P + bias.
    I4T_TRY(gemm_padded(ctx, a, b, prod, n, cp, kp, ws, gws));
    phase_done(ctx, "int GEMM");
    I4T_TRY(hq_dequantize_impl(ctx, prod, cp, d_step_x, d_step_w, d_bias, n, c, d_y));
    phase_done(ctx, "dequantize");
    return INT4TRAIN_SUCCESS;
}

}  // namespace i4t

using namespace i4t;

extern "C" INT4TRAIN_API int4train_status int4train_hq_forward(int4train_context ctx, const float* d_x, const float* d_w,
                                                               const float* d_bias, const float* d_step_x,
                                                               const float* d_step_w, int n, int c, int d, int group,
                                                               int mode, float* d_y, uint8_t* d_x_packed,
                                                               uint8_t* d_w_packed) {
    return hq_forward_impl(ctx, d_x, d_w, d_bias, d_step_x, d_step_w, n, c, d, group, mode, d_y, d_x_packed,
                           d_w_packed, "int4train_hq_forward");
}

extern "C" INT4TRAIN_API int4train_status int4train_hq_forward_typed(int4train_context ctx, int act_dtype,
                                                                     const void* d_x, const float* d_w,
                                                                     const float* d_bias, const float* d_step_x,
                                                                     const float* d_step_w, int n, int c, int d,
                                                                     int group, int mode, void* d_y,
                                                                     uint8_t* d_x_packed, uint8_t* d_w_packed) {
    static constexpr const char* fn = "int4train_hq_forward_typed";
    switch (act_dtype) {
    case INT4TRAIN_DTYPE_F32:
        return hq_forward_impl(ctx, static_cast<const float*>(d_x), d_w, d_bias, d_step_x, d_step_w, n, c, d, group,
                               mode, static_cast<float*>(d_y), d_x_packed, d_w_packed, fn);
    case INT4TRAIN_DTYPE_BF16:
        return hq_forward_impl(ctx, static_cast<const __nv_bfloat16*>(d_x), d_w, d_bias, d_step_x, d_step_w, n, c, d,
                               group, mode, static_cast<__nv_bfloat16*>(d_y), d_x_packed, d_w_packed, fn);
    default:
        I4T_TRY(enter(ctx, fn));
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT,
                    "%s: act_dtype %d is not INT4TRAIN_DTYPE_F32 (0) or INT4TRAIN_DTYPE_BF16 (1)", fn, act_dtype);
    }
}
