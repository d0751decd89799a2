// dispatch.cu — integer GEMM entry points (method.md §2.3 step 4, §7.5, §9 item 8). Operands are padded with zero
// codes to K % 32 == 0 and N % 4 == 0 inside the library; zeros do not change an integer product.
#include "runtime/status.cuh"
#include "runtime/validate.cuh"
#include "runtime/context.cuh"
#include "runtime/arena.cuh"
#include "runtime/launch.cuh"
#include "ops/operators.cuh"
#include "gemm/gemm.cuh"

namespace i4t {

[[maybe_unused]] static bool use_sm90(int4train_context ctx) {
#if defined(INT4TRAIN_HAS_SM90)
    return ctx->cc == 90 && !ctx->force_fallback_gemm;
#else
    (void)ctx;
    return false;
#endif
}

size_t gemm_padded_workspace(int4train_context ctx, int m, int n, int k) {
#if defined(INT4TRAIN_HAS_SM90)
    if (use_sm90(ctx)) return gemm_sm90_workspace(m, n, k, ctx->sm_count) + 256;
#endif
    (void)ctx; (void)m; (void)n; (void)k;
    return 0;
}

int4train_status gemm_padded(int4train_context ctx, const int8_t* a, const int8_t* b, int32_t* c, int m, int n, int k,
                             void* ws, size_t ws_bytes) {
    if (k % 32 != 0 || n % 4 != 0 || m <= 0 || n <= 0 || k <= 0)
        return fail(INT4TRAIN_ERROR_INTERNAL, "gemm_padded: m=%d n=%d k=%d not padded", m, n, k);
#if defined(INT4TRAIN_HAS_SM90)
    if (use_sm90(ctx)) return gemm_sm90(ctx->stream, a, b, c, m, n, k, ctx->sm_count, ws, ws_bytes);
#endif
    (void)ws; (void)ws_bytes;
    return gemm_fallback(ctx->stream, a, b, c, m, n, k);
}

bool gemm_dq_available(int4train_context ctx) {
#if defined(INT4TRAIN_HAS_SM90_DQ)
    return use_sm90(ctx);
#else
    (void)ctx;
    return false;
#endif
}

size_t gemm_padded_dq_workspace(int4train_context ctx, int m, int n, int k) {
#if defined(INT4TRAIN_HAS_SM90_DQ)
    if (use_sm90(ctx)) {
        size_t w = gemm_sm90_dq_workspace(m, n, k, ctx->sm_count);
#if defined(INT4TRAIN_HAS_SM90_DQ_BF16)
        const size_t w16 = gemm_sm90_dq_bf16_workspace(m, n, k, ctx->sm_count);  // either output type's kernel
        if (w16 > w) w = w16;
#endif
        return w + 256;
    }
#endif
    (void)ctx; (void)m; (void)n; (void)k;
    return 0;
}

int4train_status gemm_padded_dq(int4train_context ctx, const int8_t* a, const int8_t* b, const float* bias,
                                const float* sx, const float* sw, float* y, int ldy, int m, int n, int k, void* ws,
                                size_t ws_bytes) {
    if (k % 32 != 0 || n % 4 != 0 || ldy % 4 != 0 || ldy < n || m <= 0 || n <= 0 || k <= 0 || ((uintptr_t)y % 16) != 0)
        return fail(INT4TRAIN_ERROR_INTERNAL, "gemm_padded_dq: m=%d n=%d k=%d ldy=%d not padded/aligned", m, n, k, ldy);
#if defined(INT4TRAIN_HAS_SM90_DQ)
    if (use_sm90(ctx)) return gemm_sm90_dq(ctx->stream, a, b, bias, sx, sw, y, ldy, m, n, k, ctx->sm_count, ws, ws_bytes);
#endif
    (void)a; (void)b; (void)bias; (void)sx; (void)sw; (void)ws; (void)ws_bytes;
    return fail(INT4TRAIN_ERROR_INTERNAL, "gemm_padded_dq: no dequantizing GEMM on this device");
}

bool gemm_dq_bf16_available(int4train_context ctx) {
#if defined(INT4TRAIN_HAS_SM90_DQ_BF16)
    return use_sm90(ctx);
#else
    (void)ctx;
    return false;
#endif
}

int4train_status gemm_padded_dq(int4train_context ctx, const int8_t* a, const int8_t* b, const float* bias,
                                const float* sx, const float* sw, __nv_bfloat16* y, int ldy, int m, int n, int k,
                                void* ws, size_t ws_bytes) {
    if (k % 32 != 0 || n % 8 != 0 || ldy % 8 != 0 || ldy < n || m <= 0 || n <= 0 || k <= 0 || ((uintptr_t)y % 16) != 0)
        return fail(INT4TRAIN_ERROR_INTERNAL, "gemm_padded_dq (BF16): m=%d n=%d k=%d ldy=%d not padded/aligned", m, n, k,
                    ldy);
#if defined(INT4TRAIN_HAS_SM90_DQ_BF16)
    if (use_sm90(ctx))
        return gemm_sm90_dq_bf16(ctx->stream, a, b, bias, sx, sw, y, ldy, m, n, k, ctx->sm_count, ws, ws_bytes);
#endif
    (void)ctx; (void)a; (void)b; (void)bias; (void)sx; (void)sw; (void)ws; (void)ws_bytes;
    return fail(INT4TRAIN_ERROR_INTERNAL, "gemm_padded_dq: no BF16-output dequantizing GEMM in this build");
}

size_t gemm_padded_lss_workspace(int4train_context ctx, int m, int n, int k) {
#if defined(INT4TRAIN_HAS_SM90_DQ)
    if (use_sm90(ctx)) return gemm_sm90_lss_workspace(m, n, k, ctx->sm_count) + 256;
#endif
    (void)ctx; (void)m; (void)n; (void)k;
    return 0;
}

int4train_status gemm_padded_lss(int4train_context ctx, const int8_t* a, const int8_t* b, const float* s_outer,
                                 const float* s_inner, float* y, int ldy, int m, int n, int k, void* ws,
                                 size_t ws_bytes) {
    if (k % 32 != 0 || n % 4 != 0 || ldy % 4 != 0 || ldy < n || m <= 0 || n <= 0 || k <= 0 || ((uintptr_t)y % 16) != 0)
        return fail(INT4TRAIN_ERROR_INTERNAL, "gemm_padded_lss: m=%d n=%d k=%d ldy=%d not padded/aligned", m, n, k, ldy);
#if defined(INT4TRAIN_HAS_SM90_DQ)
    if (use_sm90(ctx))
        return gemm_sm90_lss(ctx->stream, a, b, s_outer, s_inner, y, ldy, m, n, k, ctx->sm_count, ws, ws_bytes);
#endif
    (void)a; (void)b; (void)s_outer; (void)s_inner; (void)ws; (void)ws_bytes;
    return fail(INT4TRAIN_ERROR_INTERNAL, "gemm_padded_lss: no scaling GEMM on this device");
}

// dst (rows_pad × ld) = src (rows × cols) with zero padding; one thread per byte, row-strided (row_grid(ld, rows_pad)).
__global__ void pad_copy_s8_kernel(const int8_t* __restrict__ src, int rows, int cols, int8_t* dst, int rows_pad, int ld) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= ld) return;
    for (int r = blockIdx.y; r < rows_pad; r += gridDim.y)
        dst[(int64_t)r * ld + c] = (r < rows && c < cols) ? src[(int64_t)r * cols + c] : (int8_t)0;
}

static int4train_status pad_copy_s8(int4train_context ctx, const int8_t* src, int rows, int cols, int8_t* dst,
                                    int rows_pad, int ld) {
    pad_copy_s8_kernel<<<row_grid(ld, rows_pad), 256, 0, ctx->stream>>>(src, rows, cols, dst, rows_pad, ld);
    I4T_LAUNCH("pad_copy_s8_kernel");
    return INT4TRAIN_SUCCESS;
}

static int4train_status check_gemm_args(const char* fn, int m, int n, int k) {
    if (m <= 0 || n <= 0 || k <= 0)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "%s: m (%d), n (%d), k (%d) must be positive", fn, m, n, k);
    I4T_TRY(check_dim(fn, "m", m));
    I4T_TRY(check_dim(fn, "n", n));
    I4T_TRY(check_dim(fn, "k", k));
    if ((int64_t)m * k > ((int64_t)1 << 40) || (int64_t)n * k > ((int64_t)1 << 40))
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "%s: operands too large", fn);
    return INT4TRAIN_SUCCESS;
}

// Shared body: a_src/b_src are either packed (packed = true) or int8.
static int4train_status gemm_any(int4train_context ctx, const void* a_src, const void* b_src, bool packed, int32_t* d_c,
                                 int m, int n, int k) {
    const int kp = (int)round_up(k, 32), np = (int)round_up(n, 4);
    auto misaligned = [](const void* q) { return ((uintptr_t)q % 16) != 0; };  // TMA needs 16-byte bases
    const bool copy_a = packed || kp != k || misaligned(a_src);
    const bool copy_b = packed || kp != k || np != n || misaligned(b_src);
    const bool copy_c = np != n || misaligned(d_c);
    size_t gws = gemm_padded_workspace(ctx, m, np, kp);
    Plan p;
    if (copy_a) p.add<int8_t>((int64_t)m * kp);
    if (copy_b) p.add<int8_t>((int64_t)np * kp);
    if (copy_c) p.add<int32_t>((int64_t)m * np);
    p.add<char>((int64_t)gws);
    Arena ar;
    I4T_TRY(make_arena(ctx, p, &ar));
    int8_t* a = copy_a ? ar.take<int8_t>((int64_t)m * kp) : (int8_t*)a_src;
    int8_t* b = copy_b ? ar.take<int8_t>((int64_t)np * kp) : (int8_t*)b_src;
    int32_t* c = copy_c ? ar.take<int32_t>((int64_t)m * np) : d_c;
    char* ws = ar.take<char>((int64_t)gws);
    I4T_ARENA_CHECK(ar);
    if (packed) {
        I4T_TRY(unpack_pad(ctx, (const uint8_t*)a_src, m, k, a, m, kp));
        I4T_TRY(unpack_pad(ctx, (const uint8_t*)b_src, n, k, b, np, kp));
    } else {
        if (copy_a) I4T_TRY(pad_copy_s8(ctx, (const int8_t*)a_src, m, k, a, m, kp));
        if (copy_b) I4T_TRY(pad_copy_s8(ctx, (const int8_t*)b_src, n, k, b, np, kp));
    }
    I4T_TRY(gemm_padded(ctx, a, b, c, m, np, kp, ws, gws));
    if (copy_c)
        I4T_CUDA(cudaMemcpy2DAsync(d_c, sizeof(int32_t) * n, c, sizeof(int32_t) * np, sizeof(int32_t) * n, m,
                                   cudaMemcpyDeviceToDevice, ctx->stream));
    return INT4TRAIN_SUCCESS;
}

}  // namespace i4t

using namespace i4t;

extern "C" {

INT4TRAIN_API int4train_status int4train_gemm_s4(int4train_context ctx, const uint8_t* d_a_packed,
                                                 const uint8_t* d_b_packed, int32_t* d_c, int m, int n, int k) {
    I4T_TRY(enter(ctx, __func__));
    I4T_NOTNULL(d_a_packed);
    I4T_NOTNULL(d_b_packed);
    I4T_NOTNULL(d_c);
    I4T_TRY(check_gemm_args("int4train_gemm_s4", m, n, k));
    if (k % 2 != 0) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "int4train_gemm_s4: k (%d) must be even (packed rows)", k);
    return gemm_any(ctx, d_a_packed, d_b_packed, true, d_c, m, n, k);
}

INT4TRAIN_API int4train_status int4train_gemm_s8(int4train_context ctx, const int8_t* d_a, const int8_t* d_b,
                                                 int32_t* d_c, int m, int n, int k) {
    I4T_TRY(enter(ctx, __func__));
    I4T_NOTNULL(d_a);
    I4T_NOTNULL(d_b);
    I4T_NOTNULL(d_c);
    I4T_TRY(check_gemm_args("int4train_gemm_s8", m, n, k));
    return gemm_any(ctx, d_a, d_b, false, d_c, m, n, k);
}

}  // extern "C"
