// lss_matmul.cu — LSS-MM for the weight and the activation gradient (method.md §3.4, §3.5; conventions.md
// "Leverage scores and selection"). The selection (keep, p) lives in device memory, so no host sync: the GEMMs run
// over the full padded row set with the rows that are not taken zeroed (zero rows do not change an integer
// product, §9 items 8, 19).
//
// ∇(WH) = s_X·Σ_kept (s_part/p_i)·part_iᵀ·a_i. Kept rows with p_i = 1 (all kept rows in Nonzero mode) go through
// ONE INT8 GEMM on the folded digit 14·h·[↑ taken] + l·[↓ taken] ∈ [−98, 98] (the INT8 view of conventions.md
// "Bit splitting"): with s↑ = 14·s↓ this is s↓·(14·G↑ + G↓) = s↑·G↑ + s↓·G↓. Kept rows with p_i < 1 (Bernoulli)
// are not an integer GEMM (1/p scales the reduction dim, [I #4]): they are added by a tiled FP32 product whose
// token loop is skipped on the device when no row is fractional (the count stays in device memory).
// ∇(XH)_i = s_W·(s↑·G↑_i/p↑_i + s↓·G↓_i/p↓_i) over the kept parts: one INT8 GEMM of up to 2N rows against Ŵ, then a
// per-row epilogue (1/p is an output-row scale). A token whose kept parts all have p = 1 (every token in Nonzero
// mode) has one folded row 14·h·[↑] + l·[↓] and the epilogue s_W·(s↓·G) (as ∇W's INT8 GEMM); the others keep their
// two stacked rows, not-kept rows zeroed (operators.cuh lss_x_row_digits is the rule).
// The layer's Bernoulli backward runs the same kernels over the nonempty rows only (the *_compact_impl functions,
// lists from lss_compact.cu): column j of the ∇W operands is token list[j], row j of the ∇X operand GEMM row list[j],
// and the epilogues read the result rows through the lists, so every INT32 sum and FP32/FP64 operation is unchanged.
#include "runtime/status.cuh"
#include "runtime/validate.cuh"
#include "runtime/context.cuh"
#include "runtime/arena.cuh"
#include "runtime/launch.cuh"
#include "ops/operators.cuh"
#include "gemm/gemm.cuh"

namespace i4t {

__device__ __forceinline__ int nib(uint8_t b, int hi) { return hi ? (((int)(b >> 4) ^ 8) - 8) : (((int)(b & 0xF) ^ 8) - 8); }

// A[c, j] (C × kp) = folded digit in column c of token j (tokens == NULL; zero for j >= n) or of token tokens[j]
// (zero for j >= *count). 32×32 smem transpose.
__global__ void fold_transpose_kernel(const int8_t* __restrict__ high, const int8_t* __restrict__ low,
                                      const uint8_t* __restrict__ keep, const double* __restrict__ prob,
                                      const int32_t* __restrict__ tokens, const int32_t* count, int n, int c,
                                      int8_t* a, int kp) {
    __shared__ int8_t tile[32][33];
    int i0 = blockIdx.y * 32, c0 = blockIdx.x * 32;
    int tx = threadIdx.x, ty = threadIdx.y;
    const int cols = tokens ? *count : n;
    for (int k = ty; k < 32; k += 8) {
        int j = i0 + k, col = c0 + tx;
        int v = 0;
        if (j < cols && col < c) {
            const int i = tokens ? tokens[j] : j;
            bool up = keep[i] && prob[i] == 1.0;
            bool dn = keep[n + i] && prob[n + i] == 1.0;
            int64_t o = (int64_t)i * c + col;
            v = (up ? 14 * (int)high[o] : 0) + (dn ? (int)low[o] : 0);
        }
        tile[k][tx] = (int8_t)v;
    }
    __syncthreads();
    for (int k = ty; k < 32; k += 8) {
        int col = c0 + k, i = i0 + tx;
        if (col < c && i < kp) a[(int64_t)col * kp + i] = tile[tx][k];
    }
}

// Per stacked row: w_i = s_part/p_i if kept with p_i < 1, else 0 (those rows are not in the INT GEMM);
// *count = number of such rows (integer atomics: order-independent).
__global__ void fractional_weights_kernel(const uint8_t* __restrict__ keep, const double* __restrict__ prob,
                                          const float* scales, int n, float* w, int32_t* count) {
    const int64_t m = 2 * (int64_t)n;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < m; i += (int64_t)gridDim.x * blockDim.x) {
        bool f = keep[i] && prob[i] < 1.0;
        float s = i < n ? scales[1] : scales[2];
        w[i] = f ? (float)((double)s / prob[i]) : 0.0f;
        if (f) atomicAdd(count, 1);
    }
}

// ∇(WH)[c, d] = s_X·(s↓·G[c, d] + F[c, d]) with the FP32 product of the fractional rows
// F = Σ_i (w↑_i·h_i + w↓_i·l_i)ᵀ·a_i (both parts of token i multiply the same a_i, so they fold into one FP32
// row). A 64×64 output tile per CTA, 16 tokens per step, 4×4 outputs per thread; the k loop is skipped when no
// row is fractional (Nonzero sampling), so the kernel is then just the dequantizing epilogue. tokens == NULL: the loop
// runs over all N tokens when *count (fractional stacked rows) > 0; else over tokens[0 .. *count) (the fractional
// tokens, in index order): the tokens it leaves out have w = 0, whose fmaf(0, b, acc) terms leave acc unchanged.
constexpr int kFt = 64, kFk = 16;
__global__ void __launch_bounds__(256) grad_weight_fp_kernel(const int32_t* __restrict__ g, int ldg,
                                                             const int8_t* __restrict__ high,
                                                             const int8_t* __restrict__ low,
                                                             const uint8_t* __restrict__ x_packed,
                                                             const float* __restrict__ w, const int32_t* count,
                                                             const int32_t* __restrict__ tokens, const float* scales,
                                                             const float* step_x, int n, int c, int d, float* out) {
    __shared__ float as[kFk][kFt];
    __shared__ float bs[kFk][kFt];
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    const int c0 = blockIdx.y * kFt, d0 = blockIdx.x * kFt;
    float acc[4][4] = {};
    const int rows = tokens ? *count : (*count > 0 ? n : 0);
    if (rows > 0) {
        for (int i0 = 0; i0 < rows; i0 += kFk) {
            for (int e = threadIdx.x; e < kFk * kFt; e += 256) {
                int k = e / kFt, j = e % kFt;
                float av = 0.0f, bv = 0.0f;
                if (i0 + k < rows) {
                    const int i = tokens ? tokens[i0 + k] : i0 + k;
                    float wu = w[i], wd = w[n + i];
                    int cc = c0 + j;
                    if (cc < c && (wu != 0.0f || wd != 0.0f))
                        av = wu * (float)high[(int64_t)i * c + cc] + wd * (float)low[(int64_t)i * c + cc];
                    int dd = d0 + j;
                    if (dd < d) bv = (float)nib(x_packed[(int64_t)i * (d / 2) + (dd >> 1)], dd & 1);
                }
                as[k][j] = av;
                bs[k][j] = bv;
            }
            __syncthreads();
#pragma unroll
            for (int k = 0; k < kFk; ++k) {
                float a4[4], b4[4];
#pragma unroll
                for (int r = 0; r < 4; ++r) a4[r] = as[k][ty * 4 + r];
#pragma unroll
                for (int q = 0; q < 4; ++q) b4[q] = bs[k][tx * 4 + q];
#pragma unroll
                for (int r = 0; r < 4; ++r)
#pragma unroll
                    for (int q = 0; q < 4; ++q) acc[r][q] = fmaf(a4[r], b4[q], acc[r][q]);
            }
            __syncthreads();
        }
    }
    const double sdn = (double)scales[2], sx = (double)*step_x;
#pragma unroll
    for (int r = 0; r < 4; ++r)
#pragma unroll
        for (int q = 0; q < 4; ++q) {
            int row = c0 + ty * 4 + r, col = d0 + tx * 4 + q;
            if (row < c && col < d)
                out[(int64_t)row * d + col] = (float)(sx * (sdn * (double)g[(int64_t)row * ldg + col] + (double)acc[r][q]));
        }
}

void lss_grad_weight_plan(int4train_context ctx, Plan& p, int n, int c, int d) {
    const int kp = (int)round_up(n, 32), dp = (int)round_up(d, 4);
    p.add<int8_t>((int64_t)c * kp);
    p.add<int8_t>((int64_t)dp * kp);
    p.add<int32_t>((int64_t)c * dp);
    p.add<float>(2 * (int64_t)n);
    p.add<int32_t>(1);
    p.add<char>((int64_t)gemm_padded_workspace(ctx, c, dp, kp));
}

void lss_grad_weight_compact_plan(int4train_context ctx, Plan& p, int n, int c, int d) {
    lss_grad_weight_plan(ctx, p, n, c, d);
    p.add<uint8_t>(round_up(n, 32) * (d / 2));  // the packed X rows of the kept tokens
    p.add<char>((int64_t)gemm_padded_lss_workspace(ctx, c, d, (int)round_up(n, 32)));  // the fused epilogue's GEMM
}

namespace {
// The operands of one LSS GEMM: A (rows × kp), B (dp × kp), the INT32 product G, the GEMM workspace; kp = the padded
// reduction length (∇W: tokens, ∇X: C).
struct LssGemmBuffers {
    int kp, dp;
    size_t gws;
    int8_t *a, *b;
    int32_t* g;
    char* ws;
};
// The ∇W buffers of lss_grad_weight_plan (A: C × K folded digits, B: D × K X codes, K ≤ kp tokens), and the FP32
// product's per-row weights.
struct GradWeightBuffers : LssGemmBuffers {
    float* w;
    int32_t* count;
};
GradWeightBuffers take_grad_weight(int4train_context ctx, Arena& ar, int n, int c, int d) {
    GradWeightBuffers B;
    B.kp = (int)round_up(n, 32);
    B.dp = (int)round_up(d, 4);
    B.gws = gemm_padded_workspace(ctx, c, B.dp, B.kp);
    B.a = ar.take<int8_t>((int64_t)c * B.kp);
    B.b = ar.take<int8_t>((int64_t)B.dp * B.kp);
    B.g = ar.take<int32_t>((int64_t)c * B.dp);
    B.w = ar.take<float>(2 * (int64_t)n);
    B.count = ar.take<int32_t>(1);
    B.ws = ar.take<char>((int64_t)B.gws);
    return B;
}

// The INT8 GEMM's operands over K token columns: A = the folded digits of the tokens listed in tokens[0 .. *kept)
// (tokens NULL: every token), B = the X codes transposed from x_rows (packed, the first `rows` of them data).
int4train_status grad_weight_operands(int4train_context ctx, const GradWeightBuffers& B, int K, const int8_t* high,
                                      const int8_t* low, const uint8_t* x_rows, int rows, const uint8_t* keep,
                                      const double* prob, const int32_t* tokens, const int32_t* kept, int n, int c,
                                      int d) {
    dim3 tgrid((unsigned)ceil_div(c, 32), (unsigned)ceil_div(K, 32));
    if (tgrid.y > 65535) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "lss_grad_weight: n too large");
    fold_transpose_kernel<<<tgrid, dim3(32, 8), 0, ctx->stream>>>(high, low, keep, prob, tokens, kept, n, c, B.a, K);
    I4T_LAUNCH("fold_transpose_kernel");
    return unpack_transpose_pad(ctx, x_rows, rows, d, B.b, B.dp, K);
}

// The INT8 GEMM over the K columns of the operands and the FP32 product + epilogue (f_tokens/f_count on the device:
// the fractional tokens; NULL: every token, in order).
int4train_status grad_weight_products(int4train_context ctx, const GradWeightBuffers& B, int K, const int8_t* high,
                                      const int8_t* low, const uint8_t* x_packed, const float* scales,
                                      const float* step_x, const uint8_t* keep, const double* prob,
                                      const int32_t* f_tokens, const int32_t* f_count, int n, int c, int d,
                                      float* grad_wh) {
    I4T_TRY(gemm_padded(ctx, B.a, B.b, B.g, c, B.dp, K, B.ws, B.gws));
    I4T_CUDA(cudaMemsetAsync(B.count, 0, sizeof(int32_t), ctx->stream));
    fractional_weights_kernel<<<grid_for(2 * (int64_t)n), 256, 0, ctx->stream>>>(keep, prob, scales, n, B.w, B.count);
    I4T_LAUNCH("fractional_weights_kernel");
    dim3 fgrid((unsigned)ceil_div(d, kFt), (unsigned)ceil_div(c, kFt));
    if (fgrid.y > 65535) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "lss_grad_weight: c too large");
    grad_weight_fp_kernel<<<fgrid, 256, 0, ctx->stream>>>(B.g, B.dp, high, low, x_packed, B.w,
                                                          f_tokens ? f_count : B.count, f_tokens, scales, step_x, n, c,
                                                          d, grad_wh);
    I4T_LAUNCH("grad_weight_fp_kernel");
    return INT4TRAIN_SUCCESS;
}
}  // namespace

int4train_status lss_grad_weight_impl(int4train_context ctx, Arena& ar, const int8_t* high, const int8_t* low,
                                      const uint8_t* x_packed, const float* scales, const float* step_x,
                                      const uint8_t* keep, const double* prob, int n, int c, int d, float* grad_wh) {
    const GradWeightBuffers B = take_grad_weight(ctx, ar, n, c, d);
    I4T_ARENA_CHECK(ar);
    I4T_TRY(grad_weight_operands(ctx, B, B.kp, high, low, x_packed, n, keep, prob, nullptr, nullptr, n, c, d));
    return grad_weight_products(ctx, B, B.kp, high, low, x_packed, scales, step_x, keep, prob, nullptr, nullptr, n, c,
                                d, grad_wh);
}

int4train_status lss_grad_weight_compact_impl(int4train_context ctx, Arena& ar, const int8_t* high, const int8_t* low,
                                              const uint8_t* x_packed, const float* scales, const float* step_x,
                                              const uint8_t* keep, const double* prob, const LssCompaction& k, int n,
                                              int c, int d, float* grad_wh) {
    const GradWeightBuffers B = take_grad_weight(ctx, ar, n, c, d);
    uint8_t* x_rows = ar.take<uint8_t>((int64_t)B.kp * (d / 2));
    const size_t lss_ws_bytes = gemm_padded_lss_workspace(ctx, c, d, B.kp);
    char* lss_ws = ar.take<char>((int64_t)lss_ws_bytes);
    I4T_ARENA_CHECK(ar);
    // K = the kept tokens padded to 32 (zero columns add exactly 0); every token if the GEMM at that size would need
    // more workspace than the plan holds (its configuration pick depends on the shape)
    int K = k.w_k;
    if (K > B.kp || gemm_padded_workspace(ctx, c, B.dp, K) > B.gws) K = B.kp;
    // No fractional token (known after the eager wait): the FP32 product is empty and what is left of
    // grad_weight_fp_kernel, float(s_X·(s↓·G + 0)), is the SM90 GEMM's LSS epilogue float(s_X·(s↓·G)) (both FP64,
    // lss_folded.cu): the INT32 product is then never written.
    const bool fused = k.f_count == 0 && lss_epilogue_available(ctx, d, grad_wh) &&
                       gemm_padded_lss_workspace(ctx, c, d, K) <= lss_ws_bytes;
    I4T_TRY(gather_rows(ctx, x_packed, d / 2, k.w_tokens, k.count, x_rows, K));
    I4T_TRY(grad_weight_operands(ctx, B, K, high, low, x_rows, K, keep, prob, k.w_tokens, k.count, n, c, d));
    if (fused) return gemm_padded_lss(ctx, B.a, B.b, step_x, scales + 2, grad_wh, d, c, d, K, lss_ws, lss_ws_bytes);
    return grad_weight_products(ctx, B, K, high, low, x_packed, scales, step_x, keep, prob, k.f_tokens, k.count + 1, n,
                                c, d, grad_wh);
}

// A (m × cp), zero columns c..cp−1: row j = GEMM row r of operators.cuh lss_x_row_digits (up·h_i + dn·l_i: the
// folded digit of a token whose kept parts all have p = 1, else its kept stacked row), where r = j (rows == NULL,
// m = 2n, or m = n when every token folds) or r = rows[j] (zero rows for j >= *count). One row per blockIdx.y step
// (grid-strided), 4 consecutive columns per thread (cp % 32 == 0: char4 stores); flags read once per row.
__global__ void stack_mask_kernel(const int8_t* __restrict__ high, const int8_t* __restrict__ low,
                                  const uint8_t* __restrict__ keep, const double* __restrict__ prob,
                                  const int32_t* __restrict__ rows, const int32_t* count, int64_t m, int n, int c,
                                  int8_t* a, int cp) {
    const int col = 4 * (blockIdx.x * blockDim.x + threadIdx.x);
    if (col >= cp) return;
    const int64_t filled = rows ? *count : m;
    for (int64_t j = blockIdx.y; j < m; j += gridDim.y) {
        const int64_t r = j < filled ? (rows ? rows[j] : j) : -1;
        int up = 0, dn = 0;
        if (r >= 0) lss_x_row_digits(keep, prob, n, r, &up, &dn);
        const int64_t i = r < 0 ? 0 : r < n ? r : r - n;
        const int8_t* h = high + i * c;
        const int8_t* l = low + i * c;
        char4 o;
        int8_t* ov = reinterpret_cast<int8_t*>(&o);
#pragma unroll
        for (int q = 0; q < 4; ++q) {
            const int cc = col + q;
            int v = 0;
            if (cc < c) v = (up ? up * (int)h[cc] : 0) + (dn ? (int)l[cc] : 0);
            ov[q] = (int8_t)v;
        }
        *reinterpret_cast<char4*>(a + j * cp + col) = o;
    }
}

// out[i, d] = s_W·(s↓·G_i) for a token whose kept parts all have p = 1 (G_i: its folded row, s↓·(14·G↑ + G↓) =
// s↑·G↑ + s↓·G↓ with s↑ = 14·s↓), else s_W·(k↑ ? s↑·G↑[i,d]/p↑ : 0  +  k↓ ? s↓·G↓[i,d]/p↓ : 0); exactly 0 when nothing
// is kept. GEMM row r of token i is row r of G (pos == NULL) or row pos[r] (compacted rows). Rows grid-strided over
// blockIdx.y, columns over x: no 64-bit division per element; G is not read for rows with nothing kept.
__global__ void grad_input_epilogue_kernel(const int32_t* __restrict__ g, int ldg, const uint8_t* __restrict__ keep,
                                           const double* __restrict__ prob, const int32_t* __restrict__ pos,
                                           const float* scales, const float* step_w, int n, int d, float* out) {
    const double sup = (double)scales[1], sdn = (double)scales[2], sw = (double)*step_w;
    const int col = blockIdx.x * blockDim.x + threadIdx.x;
    if (col >= d) return;
    for (int64_t i = blockIdx.y; i < n; i += gridDim.y) {
        const bool ku = keep[i], kd = keep[n + i];
        double v = 0.0;
        if ((ku || kd) && lss_x_token_folded(keep, prob, n, i)) {
            v = sdn * (double)g[(pos ? pos[i] : i) * ldg + col];
        } else {
            if (ku) v += sup * (double)g[(pos ? pos[i] : i) * ldg + col] / prob[i];
            if (kd) v += sdn * (double)g[(pos ? pos[n + i] : n + i) * ldg + col] / prob[n + i];
        }
        out[i * d + col] = (ku || kd) ? (float)(sw * v) : 0.0f;
    }
}

void lss_grad_input_plan(int4train_context ctx, Plan& p, int n, int c, int d) {
    const int cp = (int)round_up(c, 32), dp = (int)round_up(d, 4);
    p.add<int8_t>(2 * (int64_t)n * cp);
    p.add<int8_t>((int64_t)dp * cp);
    p.add<int32_t>(2 * (int64_t)n * dp);
    p.add<char>((int64_t)gemm_padded_workspace(ctx, 2 * n, dp, cp));
}

void lss_grad_input_compact_plan(int4train_context ctx, Plan& p, int n, int c, int d) {
    lss_grad_input_plan(ctx, p, n, c, d);
}

namespace {
// The ∇X operands of lss_grad_input_plan (A: up to 2N stacked rows × cp, B: Ŵ transposed; kp = cp).
LssGemmBuffers take_grad_input(int4train_context ctx, Arena& ar, int n, int c, int d) {
    LssGemmBuffers B;
    B.kp = (int)round_up(c, 32);
    B.dp = (int)round_up(d, 4);
    B.gws = gemm_padded_workspace(ctx, 2 * n, B.dp, B.kp);
    B.a = ar.take<int8_t>(2 * (int64_t)n * B.kp);
    B.b = ar.take<int8_t>((int64_t)B.dp * B.kp);
    B.g = ar.take<int32_t>(2 * (int64_t)n * B.dp);
    B.ws = ar.take<char>((int64_t)B.gws);
    return B;
}

// The general ∇X: m GEMM rows (all 2N or the first N, or the listed ones: rows, count, pos on the device) against Ŵ,
// then the per-row epilogue.
int4train_status grad_input_run(int4train_context ctx, const LssGemmBuffers& B, int m, const int8_t* high,
                                const int8_t* low, const uint8_t* w_packed, const float* scales, const float* step_w,
                                const uint8_t* keep, const double* prob, const int32_t* rows, const int32_t* count,
                                const int32_t* pos, int n, int c, int d, float* grad_xh) {
    stack_mask_kernel<<<row_grid(B.kp / 4, m), 256, 0, ctx->stream>>>(high, low, keep, prob, rows, count, m, n, c, B.a,
                                                                       B.kp);
    I4T_LAUNCH("stack_mask_kernel");
    I4T_TRY(unpack_transpose_pad(ctx, w_packed, c, d, B.b, B.dp, B.kp));
    I4T_TRY(gemm_padded(ctx, B.a, B.b, B.g, m, B.dp, B.kp, B.ws, B.gws));
    grad_input_epilogue_kernel<<<row_grid(d, n), 256, 0, ctx->stream>>>(B.g, B.dp, keep, prob, pos, scales, step_w, n, d,
                                                                         grad_xh);
    I4T_LAUNCH("grad_input_epilogue_kernel");
    return INT4TRAIN_SUCCESS;
}
}  // namespace

int4train_status lss_grad_input_impl(int4train_context ctx, Arena& ar, const int8_t* high, const int8_t* low,
                                     const uint8_t* w_packed, const float* scales, const float* step_w,
                                     const uint8_t* keep, const double* prob, int n, int c, int d, float* grad_xh,
                                     bool fold) {
    const LssGemmBuffers B = take_grad_input(ctx, ar, n, c, d);
    I4T_ARENA_CHECK(ar);
    // fold (Nonzero sampling, every kept part at p = 1): every token folds, GEMM rows n..2n−1 are empty and the
    // epilogue never reads them, so the GEMM runs over the first n rows (the same bits)
    const int m = fold ? n : 2 * n;
    if (gemm_padded_workspace(ctx, m, B.dp, B.kp) > B.gws)
        return fail(INT4TRAIN_ERROR_INTERNAL, "lss_grad_input: GEMM workspace");
    return grad_input_run(ctx, B, m, high, low, w_packed, scales, step_w, keep, prob, nullptr, nullptr, nullptr, n, c,
                          d, grad_xh);
}

int4train_status lss_grad_input_compact_impl(int4train_context ctx, Arena& ar, const int8_t* high, const int8_t* low,
                                             const uint8_t* w_packed, const float* scales, const float* step_w,
                                             const uint8_t* keep, const double* prob, const LssCompaction& k, int n,
                                             int c, int d, float* grad_xh) {
    const LssGemmBuffers B = take_grad_input(ctx, ar, n, c, d);
    I4T_ARENA_CHECK(ar);
    // M = the nonempty GEMM rows (a folded row per token with every kept part at p = 1, the kept stacked rows of the
    // others; the exact count, §9 item 20); every row if the GEMM at that shape would need more workspace than the
    // plan holds (its configuration pick depends on the shape)
    int m = k.x_m;
    if (m > 2 * n || gemm_padded_workspace(ctx, m, B.dp, B.kp) > B.gws) m = 2 * n;
    return grad_input_run(ctx, B, m, high, low, w_packed, scales, step_w, keep, prob, k.x_rows, k.count + 2, k.x_pos, n,
                          c, d, grad_xh);
}

static int4train_status check_lss(const char* fn, int n, int c, int d) {
    if (n <= 0 || c <= 0 || d <= 0)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "%s: n (%d), c (%d), d (%d) must be positive", fn, n, c, d);
    if (d % 2 != 0) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "%s: d (%d) must be even (packed codes)", fn, d);
    if (n > (1 << 29)) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "%s: n (%d) too large", fn, n);
    I4T_TRY(check_dim(fn, "c", c));
    I4T_TRY(check_dim(fn, "d", d));
    return INT4TRAIN_SUCCESS;
}

}  // namespace i4t

using namespace i4t;

extern "C" {

INT4TRAIN_API int4train_status int4train_lss_grad_weight(int4train_context ctx, const int8_t* d_high,
                                                         const int8_t* d_low, const uint8_t* d_x_packed,
                                                         const float* d_scales, const float* d_step_x,
                                                         const uint8_t* d_keep, const double* d_prob, int n, int c,
                                                         int d, float* d_grad_wh) {
    I4T_TRY(enter(ctx, __func__));
    I4T_NOTNULL(d_high);
    I4T_NOTNULL(d_low);
    I4T_NOTNULL(d_x_packed);
    I4T_NOTNULL(d_scales);
    I4T_NOTNULL(d_step_x);
    I4T_NOTNULL(d_keep);
    I4T_NOTNULL(d_prob);
    I4T_NOTNULL(d_grad_wh);
    I4T_TRY(check_lss("int4train_lss_grad_weight", n, c, d));
    Plan p;
    lss_grad_weight_plan(ctx, p, n, c, d);
    Arena ar;
    I4T_TRY(make_arena(ctx, p, &ar));
    return lss_grad_weight_impl(ctx, ar, d_high, d_low, d_x_packed, d_scales, d_step_x, d_keep, d_prob, n, c, d,
                                d_grad_wh);
}

INT4TRAIN_API int4train_status int4train_lss_grad_input(int4train_context ctx, const int8_t* d_high,
                                                        const int8_t* d_low, const uint8_t* d_w_packed,
                                                        const float* d_scales, const float* d_step_w,
                                                        const uint8_t* d_keep, const double* d_prob, int n, int c,
                                                        int d, float* d_grad_xh) {
    I4T_TRY(enter(ctx, __func__));
    I4T_NOTNULL(d_high);
    I4T_NOTNULL(d_low);
    I4T_NOTNULL(d_w_packed);
    I4T_NOTNULL(d_scales);
    I4T_NOTNULL(d_step_w);
    I4T_NOTNULL(d_keep);
    I4T_NOTNULL(d_prob);
    I4T_NOTNULL(d_grad_xh);
    I4T_TRY(check_lss("int4train_lss_grad_input", n, c, d));
    Plan p;
    lss_grad_input_plan(ctx, p, n, c, d);
    Arena ar;
    I4T_TRY(make_arena(ctx, p, &ar));
    // The selection's p values are in device memory: the general form (the rows of every token, folded or stacked).
    return lss_grad_input_impl(ctx, ar, d_high, d_low, d_w_packed, d_scales, d_step_w, d_keep, d_prob, n, c, d,
                               d_grad_xh, false);
}

}  // extern "C"
