// attention.cu — causal multi-head self-attention, forward and backward, laid out as llm.c does: q, k, v permuted to
// (B, H, T, hs) so every head's matmul is one slice of a strided-batched cuBLAS GEMM; softmax one warp per row.
//   forward:  preatt = q·kᵀ/√hs,  a = softmax_causal(preatt),  ã = dropout(a),  out = ã·v
//   backward: ∂ã = ∂out·vᵀ, ∂v = ãᵀ·∂out, ∂a = ∂ã ⊙ mask, ∂s = a ⊙ (∂a − Σ a·∂a), ∂q = ∂s·k/√hs, ∂k = ∂sᵀ·q/√hs
#include <math.h>

#include "runtime/status.cuh"
#include "runtime/launch.cuh"
#include "nn.cuh"
#include "device_util.cuh"

namespace i4t::nn {

// Element e of a (B, H, T, hs) block ↔ its place in a (B·T) × (H·hs) row layout: the row-layout offset of
// (b, t, h, d) is row·row_len + h·hs + d with row = b·t + t'. Shared by the three layout kernels below.
__device__ __forceinline__ int64_t head_to_row(int64_t e, int t, int nh, int hs, int row_len) {
    int d = (int)(e % hs);
    int64_t r = e / hs;
    int tt = (int)(r % t);
    r /= t;
    int h = (int)(r % nh), bb = (int)(r / nh);
    return ((int64_t)bb * t + tt) * row_len + (int64_t)h * hs + d;
}

#define I4T_HEADS_LOOP(e, nc) \
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < (nc); e += (int64_t)gridDim.x * blockDim.x)

// qkv (B·T × 3C, row = [q | k | v], head h at columns h·hs) → q, k, v as three (B, H, T, hs) blocks of N·C each.
__global__ void permute_qkv_kernel(float* __restrict__ qkvp, const float* __restrict__ qkv, int b, int t, int nh,
                                   int hs) {
    int64_t nc = (int64_t)b * t * nh * hs;
    int c = nh * hs;
    I4T_HEADS_LOOP(e, nc) {
        int64_t src = head_to_row(e, t, nh, hs, 3 * c);
        qkvp[e] = qkv[src];
        qkvp[nc + e] = qkv[src + c];
        qkvp[2 * nc + e] = qkv[src + 2 * c];
    }
}

// The inverse scatter: dq, dk, dv (B, H, T, hs) → dqkv rows.
__global__ void unpermute_qkv_kernel(float* __restrict__ dqkv, const float* __restrict__ dqkvp, int b, int t, int nh,
                                     int hs) {
    int64_t nc = (int64_t)b * t * nh * hs;
    int c = nh * hs;
    I4T_HEADS_LOOP(e, nc) {
        int64_t dst = head_to_row(e, t, nh, hs, 3 * c);
        dqkv[dst] = dqkvp[e];
        dqkv[dst + c] = dqkvp[nc + e];
        dqkv[dst + 2 * c] = dqkvp[2 * nc + e];
    }
}

// (B, H, T, hs) ↔ (B·T, C): to_heads = true gathers rows into heads, false scatters heads back into rows.
__global__ void heads_kernel(float* __restrict__ dst, const float* __restrict__ src, int b, int t, int nh, int hs,
                             bool to_heads) {
    int64_t nc = (int64_t)b * t * nh * hs;
    I4T_HEADS_LOOP(e, nc) {
        int64_t row = head_to_row(e, t, nh, hs, nh * hs);
        if (to_heads) dst[e] = src[row];
        else dst[row] = src[e];
    }
}

// In place on the (B·H·T) rows of T: causal softmax of preatt (already scaled); entries j > i become 0.
// With p > 0 also writes ã = a ⊙ mask into attd (mask index = element index of att).
__global__ void softmax_causal_kernel(float* __restrict__ att, float* __restrict__ attd, int64_t rows, int t, float p,
                                      float keep_scale, DropoutKey dk) {
    const uint64_t key = site_key(dk);
    int64_t row = blockIdx.x * (int64_t)(blockDim.x / 32) + threadIdx.x / 32;
    int lane = threadIdx.x % 32;
    if (row >= rows) return;
    int i = (int)(row % t);
    float* a = att + row * t;
    float mx = -INFINITY;
    for (int j = lane; j <= i; j += 32) mx = fmaxf(mx, a[j]);
    mx = warp_max(mx);
    float sum = 0.0f;
    for (int j = lane; j <= i; j += 32) sum += expf(a[j] - mx);
    float inv = 1.0f / warp_sum(sum);
    for (int j = lane; j < t; j += 32) {
        float v = j <= i ? expf(a[j] - mx) * inv : 0.0f;
        a[j] = v;
        if (p > 0) attd[row * t + j] = v * dropout_mask(key, row * t + j, p, keep_scale);
    }
}

// In place on datt (∂ã): ∂s = a ⊙ (∂a − Σ_j a_j·∂a_j) with ∂a = ∂ã ⊙ mask; 0 above the diagonal.
__global__ void softmax_causal_backward_kernel(float* __restrict__ datt, const float* __restrict__ att, int64_t rows,
                                               int t, float p, float keep_scale, DropoutKey dk) {
    const uint64_t key = site_key(dk);
    int64_t row = blockIdx.x * (int64_t)(blockDim.x / 32) + threadIdx.x / 32;
    int lane = threadIdx.x % 32;
    if (row >= rows) return;
    int i = (int)(row % t);
    const float* a = att + row * t;
    float* g = datt + row * t;
    float dot = 0.0f;
    for (int j = lane; j <= i; j += 32) dot += a[j] * g[j] * dropout_mask(key, row * t + j, p, keep_scale);
    dot = warp_sum(dot);
    for (int j = lane; j < t; j += 32)
        g[j] = j <= i ? a[j] * (g[j] * dropout_mask(key, row * t + j, p, keep_scale) - dot) : 0.0f;
}

#define I4T_BLAS(call)                                                                                   \
    do {                                                                                                 \
        cublasStatus_t i4t_b_ = (call);                                                                  \
        if (i4t_b_ != CUBLAS_STATUS_SUCCESS)                                                             \
            return ::i4t::fail(INT4TRAIN_ERROR_CUDA, "%s: cuBLAS %s", __func__, cublas_status_text(i4t_b_)); \
    } while (0)

__global__ void apply_dropout_kernel(float* __restrict__ dst, const float* __restrict__ src, int64_t count, float p,
                                     float keep_scale, DropoutKey dk) {
    const uint64_t key = site_key(dk);
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < count; e += (int64_t)gridDim.x * blockDim.x)
        dst[e] = src[e] * dropout_mask(key, e, p, keep_scale);
}

// out = ã·v (B, H, T, hs) scattered back into rows: the second half of attention_forward.
static int4train_status values_to_rows(cudaStream_t s, cublasHandle_t h, cublasComputeType_t compute,
                                       AttentionShape sh, float* out, const float* a, const float* qkvp, float* outp) {
    int hs = sh.c / sh.nh, t = sh.t, bh = sh.b * sh.nh;
    int64_t nc = (int64_t)sh.b * t * sh.c, tt = (int64_t)t * t, ths = (int64_t)t * hs;
    const float* v = qkvp + 2 * nc;
    I4T_BLAS(gemm(h, compute, false, false, t, hs, t, 1.0f, a, t, tt, v, hs, ths, 0.0f, outp, hs, ths, bh));
    heads_kernel<<<grid_for(nc, 256), 256, 0, s>>>(out, outp, sh.b, t, sh.nh, hs, false);
    return INT4TRAIN_SUCCESS;
}

int4train_status attention_forward(cudaStream_t s, cublasHandle_t h, cublasComputeType_t compute, AttentionShape sh,
                              float* out, float* att, const float* qkv, float* qkvp, float* attd, float* outp,
                              float p, DropoutKey key) {
    int hs = sh.c / sh.nh, t = sh.t, bh = sh.b * sh.nh;
    int64_t nc = (int64_t)sh.b * t * sh.c, tt = (int64_t)t * t, ths = (int64_t)t * hs;
    const float *q = qkvp, *k = qkvp + nc;
    permute_qkv_kernel<<<grid_for(nc, 256), 256, 0, s>>>(qkvp, qkv, sh.b, t, sh.nh, hs);
    float scale = 1.0f / sqrtf((float)hs);
    I4T_BLAS(gemm(h, compute, false, true, t, t, hs, scale, q, hs, ths, k, hs, ths, 0.0f, att, t, tt, bh));
    int64_t rows = (int64_t)bh * t;
    float ks = p > 0 ? 1.0f / (1.0f - p) : 1.0f;
    softmax_causal_kernel<<<(unsigned)((rows + 7) / 8), 256, 0, s>>>(att, attd, rows, t, p, ks, key);
    I4T_TRY(values_to_rows(s, h, compute, sh, out, p > 0 ? attd : att, qkvp, outp));
    I4T_LAUNCH("attention_forward");
    return INT4TRAIN_SUCCESS;
}

int4train_status attention_backward(cudaStream_t s, cublasHandle_t h, cublasComputeType_t compute, AttentionShape sh,
                               float* dqkv, const float* dout, const float* qkv, const float* att, float* qkvp,
                               float* dqkvp, float* attd, float* datt, float* doutp, float p, DropoutKey key) {
    int hs = sh.c / sh.nh, t = sh.t, bh = sh.b * sh.nh;
    int64_t nc = (int64_t)sh.b * t * sh.c, tt = (int64_t)t * t, ths = (int64_t)t * hs;
    const float *q = qkvp, *k = qkvp + nc, *v = qkvp + 2 * nc;
    float *dq = dqkvp, *dk = dqkvp + nc, *dv = dqkvp + 2 * nc;
    float ks = p > 0 ? 1.0f / (1.0f - p) : 1.0f;
    permute_qkv_kernel<<<grid_for(nc, 256), 256, 0, s>>>(qkvp, qkv, sh.b, t, sh.nh, hs);
    heads_kernel<<<grid_for(nc, 256), 256, 0, s>>>(doutp, dout, sh.b, t, sh.nh, hs, true);
    const float* a = att;
    if (p > 0) {  // ã again, from the stored a and the regenerated mask
        apply_dropout_kernel<<<grid_for((int64_t)bh * tt, 256), 256, 0, s>>>(attd, att, (int64_t)bh * tt, p, ks, key);
        a = attd;
    }
    I4T_BLAS(gemm(h, compute, false, true, t, t, hs, 1.0f, doutp, hs, ths, v, hs, ths, 0.0f, datt, t, tt, bh));  // ∂ã
    I4T_BLAS(gemm(h, compute, true, false, t, hs, t, 1.0f, a, t, tt, doutp, hs, ths, 0.0f, dv, hs, ths, bh));   // ∂v
    int64_t rows = (int64_t)bh * t;
    softmax_causal_backward_kernel<<<(unsigned)((rows + 7) / 8), 256, 0, s>>>(datt, att, rows, t, p, ks, key);
    float scale = 1.0f / sqrtf((float)hs);
    I4T_BLAS(gemm(h, compute, false, false, t, hs, t, scale, datt, t, tt, k, hs, ths, 0.0f, dq, hs, ths, bh));  // ∂q
    I4T_BLAS(gemm(h, compute, true, false, t, hs, t, scale, datt, t, tt, q, hs, ths, 0.0f, dk, hs, ths, bh));   // ∂k
    unpermute_qkv_kernel<<<grid_for(nc, 256), 256, 0, s>>>(dqkv, dqkvp, sh.b, t, sh.nh, hs);
    I4T_LAUNCH("attention_backward");
    return INT4TRAIN_SUCCESS;
}

}  // namespace i4t::nn
