// common.cuh — shared plumbing of libint4train: status and last-error text, CUDA error mapping, the context
// structure, the workspace arena, and the bit-level helpers of docs/conventions.md (RoundHalfAway, Philox4x32-10,
// U01 variants, CanonicalSum).
#pragma once

#include <cuda_runtime.h>
#include <stdint.h>
#include <stddef.h>
#include <math.h>

#include "int4train.h"

namespace i4t {

// ---- errors ------------------------------------------------------------------------------------------------
// Sets the thread's last-error text (printf-style) and returns `st`.
int4train_status fail(int4train_status st, const char* fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
// Maps a CUDA error to INT4TRAIN_ERROR_CUDA (or OUT_OF_MEMORY / NO_DEVICE) with cudaGetErrorString; clears
// the sticky-free error state with cudaGetLastError.
int4train_status fail_cuda(cudaError_t e, const char* what);

#define I4T_CUDA(call)                                                                  \
    do {                                                                                \
        cudaError_t i4t_e_ = (call);                                                    \
        if (i4t_e_ != cudaSuccess) return ::i4t::fail_cuda(i4t_e_, #call);              \
    } while (0)
// After a kernel launch: reports launch-configuration errors (asynchronous faults surface later).
#define I4T_LAUNCH(what)                                                                \
    do {                                                                                \
        cudaError_t i4t_e_ = cudaGetLastError();                                        \
        if (i4t_e_ != cudaSuccess) return ::i4t::fail_cuda(i4t_e_, what);               \
    } while (0)
#define I4T_TRY(expr)                                                                   \
    do {                                                                                \
        int4train_status i4t_s_ = (expr);                                               \
        if (i4t_s_ != INT4TRAIN_SUCCESS) return i4t_s_;                                 \
    } while (0)
#define I4T_NOTNULL(p)                                                                  \
    do {                                                                                \
        if ((p) == nullptr) return ::i4t::fail(INT4TRAIN_ERROR_NULL_POINTER, "%s: %s is NULL", __func__, #p); \
    } while (0)

// ---- context -----------------------------------------------------------------------------------------------
}  // namespace i4t

struct int4train_context_s {
    int device = 0;
    int cc = 0;              // compute capability major*10+minor
    int sm_count = 0;
    bool force_fallback_gemm = false;  // env INT4TRAIN_FORCE_FALLBACK_GEMM=1 (testing the portable GEMM on Hopper)
    char name[256] = {0};
    // Created by int4train_context_create_current: the library runs in whatever CUDA context the caller has made
    // current (ILGPU's CudaAccelerator uses its own cuCtxCreate context, not the primary one) and never switches
    // devices; the workspace uses cudaMalloc because stream-ordered pools belong to the primary context's world.
    bool borrowed_context = false;
    cudaStream_t own = nullptr;
    cudaStream_t stream = nullptr;  // own or borrowed
    void* ws = nullptr;             // growable device workspace (stream-ordered allocation)
    size_t ws_bytes = 0;
};

namespace i4t {

// Makes ctx's device current and checks the handle.
int4train_status enter(int4train_context ctx);
// Grows the workspace to at least `bytes` (stream-ordered: no host synchronisation).
int4train_status ensure_workspace(int4train_context ctx, size_t bytes);

__host__ __device__ inline size_t align_up(size_t x, size_t a) { return (x + a - 1) / a * a; }
__host__ __device__ inline int64_t round_up(int64_t x, int64_t a) { return (x + a - 1) / a * a; }
__host__ __device__ inline int64_t ceil_div(int64_t x, int64_t a) { return (x + a - 1) / a; }

#if defined(__CUDACC__)
// Row-strided launch shape (256-thread CTAs): x covers `cols_threads` threads of a row, y up to 65535 rows at a time
// (each CTA then loops over rows with stride gridDim.y). Kernels launched this way index (row, column) directly
// instead of dividing a flat 64-bit index per element (a 64-bit division costs ~70 instructions and made such
// grid-stride passes compute-bound: ncu 2026-11-23).
inline dim3 row_grid(int64_t cols_threads, int64_t rows) {
    const int64_t gx = ceil_div(cols_threads, 256);
    int64_t gy = rows < 1 ? 1 : rows;
    const int64_t cap = ceil_div((int64_t)65535 * 16, gx < 1 ? 1 : gx);  // the same block budget as grid_for
    if (gy > cap) gy = cap;
    if (gy > 65535) gy = 65535;
    if (gy < 1) gy = 1;
    return dim3((unsigned)gx, (unsigned)gy);
}
#endif

// Bump allocator over the context workspace. Sizes are computed up front by each operator (Plan), so the
// workspace is grown once per call before anything is carved; Arena::take fails (INTERNAL) on overflow.
struct Plan {
    size_t bytes = 0;
    template <class T> void add(int64_t count) { bytes += align_up(sizeof(T) * (size_t)(count > 0 ? count : 1), 256); }
};
struct Arena {
    char* base = nullptr;
    size_t cap = 0, used = 0;
    bool overflow = false;
    template <class T> T* take(int64_t count) {
        size_t b = align_up(sizeof(T) * (size_t)(count > 0 ? count : 1), 256);
        if (used + b > cap) { overflow = true; return nullptr; }
        T* p = reinterpret_cast<T*>(base + used);
        used += b;
        return p;
    }
};
// ensure_workspace(plan.bytes) then an arena over it.
int4train_status make_arena(int4train_context ctx, const Plan& plan, Arena* out);
#define I4T_ARENA_CHECK(ar)                                                              \
    do {                                                                                 \
        if ((ar).overflow) return ::i4t::fail(INT4TRAIN_ERROR_INTERNAL, "%s: workspace plan too small", __func__); \
    } while (0)

// ---- rounding (conventions.md "Rounding") ------------------------------------------------------------------
// Nearest integer, ties away from zero; exact for every finite x (x − trunc(x) is exact in FP32).
__host__ __device__ __forceinline__ float round_half_away(float x) {
    float t = truncf(x);
    float frac = x - t;
    if (frac >= 0.5f) return t + 1.0f;
    if (frac <= -0.5f) return t - 1.0f;
    return t;
}
__host__ __device__ __forceinline__ int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }
__host__ __device__ __forceinline__ int lsq_qn(int mode) { return mode == INT4TRAIN_MODE_PAPER ? -7 : -8; }
constexpr int kLsqQp = 7;
#if defined(__CUDACC__)
// LSQ code (§2.1): q = clamp(RoundHalfAway(x / s), Qn, 7) with one IEEE division.
__device__ __forceinline__ int lsq_code(float x, float s, int qn) {
    float r = round_half_away(__fdiv_rn(x, s));
    r = fminf(fmaxf(r, (float)qn), (float)kLsqQp);
    return (int)r;
}
#endif

// ---- Philox4x32-10 (conventions.md "Counter-based randomness") -------------------------------------------
struct PhiloxOut { uint32_t x0, x1; };
__host__ __device__ __forceinline__ PhiloxOut philox(uint64_t seed, uint64_t index, uint32_t stream) {
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    uint32_t c0 = (uint32_t)index, c1 = (uint32_t)(index >> 32), c2 = stream, c3 = 0;
#pragma unroll
    for (int r = 0; r < 10; ++r) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c0;
        uint64_t p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
        k0 += 0x9E3779B9u; k1 += 0xBB67AE85u;
    }
    return {c0, c1};
}
constexpr uint32_t kStreamBitSplit = 0;
constexpr uint32_t kStreamSampling = 1;
__host__ __device__ __forceinline__ float u01(uint32_t x) { return (float)(x >> 8) * (1.0f / 16777216.0f); }
__host__ __device__ __forceinline__ float u01_closed(uint32_t x) { return (float)((x >> 8) + 1u) * (1.0f / 16777216.0f); }
__host__ __device__ __forceinline__ double u01_double(uint32_t x0, uint32_t x1) {
    return ((double)(x0 >> 5) * 67108864.0 + (double)(x1 >> 6)) * (1.0 / 9007199254740992.0);
}

// ---- CanonicalSum (conventions.md "Deterministic reduction") ----------------------------------------------
// n <= 4096: 256 lanes, lane t adds x[t], x[t+256], ... from 0.0, then the tree s = 128..1.
// n > 4096: chunks of 4096, each summed as above, then CanonicalSum of the chunk sums (recursively).
constexpr int kCanonChunk = 4096;
constexpr int kCanonLanes = 256;

// Block of exactly 256 threads: returns the canonical sum of chunk [base, base+len) (len <= 4096) in thread 0.
template <class F>
__device__ __forceinline__ double canon_chunk_block(const F& f, int64_t base, int len, double* lanes /*smem 256*/) {
    int t = threadIdx.x;
    double acc = 0.0;
    for (int i = t; i < len; i += kCanonLanes) acc += f(base + i);
    lanes[t] = acc;
    __syncthreads();
    for (int s = kCanonLanes / 2; s >= 1; s >>= 1) {
        if (t < s) lanes[t] += lanes[t + s];
        __syncthreads();
    }
    double r = lanes[0];
    __syncthreads();
    return r;
}

// One block per chunk: out[chunk] = canonical chunk sum of f over [chunk*4096, ...).
template <class F>
__global__ void __launch_bounds__(256) canon_chunks_kernel(F f, int64_t n, double* out) {
    __shared__ double lanes[kCanonLanes];
    int64_t base = (int64_t)blockIdx.x * kCanonChunk;
    int len = (int)((n - base) < kCanonChunk ? (n - base) : kCanonChunk);
    double r = canon_chunk_block(f, base, len, lanes);
    if (threadIdx.x == 0) out[blockIdx.x] = r;
}

struct LoadDouble {
    const double* p;
    __device__ double operator()(int64_t i) const { return p[i]; }
};

// Workspace (doubles) for canonical_sum over n terms.
inline int64_t canon_ws_count(int64_t n) {
    int64_t total = 0;
    int64_t m = ceil_div(n, kCanonChunk);
    total += m;
    while (m > 1) { m = ceil_div(m, kCanonChunk); total += m; }
    return total + 1;
}

// *d_out = CanonicalSum_{i<n} f(i), asynchronous on `stream`; ws holds canon_ws_count(n) doubles.
template <class F>
int4train_status canonical_sum(F f, int64_t n, double* ws, double* d_out, cudaStream_t stream) {
    if (n <= 0) {
        I4T_CUDA(cudaMemsetAsync(d_out, 0, sizeof(double), stream));
        return INT4TRAIN_SUCCESS;
    }
    int64_t m = ceil_div(n, kCanonChunk);
    double* cur = (m == 1) ? d_out : ws;
    canon_chunks_kernel<F><<<(unsigned)m, kCanonLanes, 0, stream>>>(f, n, cur);
    I4T_LAUNCH("canonical_sum");
    double* next_ws = ws + m;
    while (m > 1) {
        int64_t m2 = ceil_div(m, kCanonChunk);
        double* dst = (m2 == 1) ? d_out : next_ws;
        canon_chunks_kernel<LoadDouble><<<(unsigned)m2, kCanonLanes, 0, stream>>>(LoadDouble{cur}, m, dst);
        I4T_LAUNCH("canonical_sum");
        cur = dst;
        next_ws += m2;
        m = m2;
    }
    return INT4TRAIN_SUCCESS;
}

// Grid-stride launch helper.
inline unsigned grid_for(int64_t n, int threads = 256, int64_t max_blocks = 65535LL * 16) {
    int64_t b = ceil_div(n, threads);
    if (b < 1) b = 1;
    if (b > max_blocks) b = max_blocks;
    return (unsigned)b;
}

// ---- internal operators shared between translation units (all asynchronous on ctx->stream) -------------
int4train_status check_group(int cols, int group, const char* fn);
int4train_status check_mode_pub(int mode, const char* fn);
// Hadamard (§2.2) on a flat array of `total` floats made of consecutive G-blocks.
int4train_status hadamard_impl(int4train_context ctx, const float* x, float* y, int64_t total, int group);
// Fused H_G transform + LSQ codes into the padded operand (rows_pad × ld) + packed rows (rows × cols/2).
int4train_status hadamard_quantize_pad_pack(int4train_context ctx, const float* x, int rows, int cols, int group,
                                            const float* d_step, int mode, int8_t* codes, int rows_pad, int ld,
                                            uint8_t* packed);
// Step init into d_step; ws: canon_ws_count(n) + 1 doubles.
int4train_status lsq_init_step_impl(int4train_context ctx, const float* v, int64_t n, float* d_step, double* ws);
// Codes of v/step into a padded int8 matrix (rows_pad × ld, zeros outside rows × cols) and, if packed != NULL,
// the packed INT4 rows (rows × cols/2).
int4train_status quantize_pad_pack(int4train_context ctx, const float* v, int rows, int cols, const float* d_step,
                                   int mode, int8_t* codes, int rows_pad, int ld, uint8_t* packed);
// Unpacks packed rows (rows × cols/2 bytes) into an int8 matrix rows_pad × ld (zero padding).
int4train_status unpack_pad(int4train_context ctx, const uint8_t* packed, int rows, int cols, int8_t* out,
                            int rows_pad, int ld);
// Unpacks packed rows (rows × cols/2) transposed: out[c, r] (cols_pad × ld_rows, zero padding).
int4train_status unpack_transpose_pad(int4train_context ctx, const uint8_t* packed, int rows, int cols,
                                      int8_t* out, int cols_pad, int ld_rows);
// Integer TN GEMM on padded operands: c[m, n] = Σ_k a[m,k]·b[n,k]; k % 32 == 0, n % 4 == 0; c has ld n.
size_t gemm_padded_workspace(int4train_context ctx, int m, int n, int k);
int4train_status gemm_padded(int4train_context ctx, const int8_t* a, const int8_t* b, int32_t* c, int m, int n, int k,
                             void* ws, size_t ws_bytes);
int4train_status gemm_fallback(cudaStream_t stream, const int8_t* a, const int8_t* b, int32_t* c, int m, int n, int k);
#if defined(INT4TRAIN_HAS_SM90)
size_t gemm_sm90_workspace(int m, int n, int k, int sm_count);
// Returns cudaSuccess or an error; *msg gets CUTLASS's status text on a CUTLASS failure.
int4train_status gemm_sm90(cudaStream_t stream, const int8_t* a, const int8_t* b, int32_t* c, int m, int n, int k,
                           int sm_count, void* ws, size_t ws_bytes);
// The tuned configuration table (gemm_s8_sm90.cu): count, descriptions, the per-shape pick, and one fixed config.
int gemm_sm90_config_count();
const char* gemm_sm90_config_name(int cfg);
int gemm_sm90_pick(int m, int n, int k, int sm_count);
size_t gemm_sm90_workspace_cfg(int cfg, int m, int n, int k, int sm_count);
int4train_status gemm_sm90_cfg(int cfg, cudaStream_t stream, const int8_t* a, const int8_t* b, int32_t* c, int m, int n,
                               int k, int sm_count, void* ws, size_t ws_bytes);
#endif

#if defined(INT4TRAIN_HAS_SM90_DQ)
size_t gemm_sm90_dq_workspace(int m, int n, int k, int sm_count);
int4train_status gemm_sm90_dq(cudaStream_t stream, const int8_t* a, const int8_t* b, const float* bias, const float* sx,
                              const float* sw, float* y, int ldy, int m, int n, int k, int sm_count, void* ws,
                              size_t ws_bytes);
#endif
// The integer GEMM with hq_forward's dequantize in its epilogue: y[i, j] = (s_X·s_W)·Σ_k a[i,k]·b[j,k] + bias[j]
// (FP32, row stride ldy; bit-identical to the separate pass). Available only with the SM90 GEMM (gemm_dq_available);
// k % 32 == 0, n % 4 == 0, ldy % 4 == 0, y 16-byte aligned, bias (n floats) may be null.
bool gemm_dq_available(int4train_context ctx);
size_t gemm_padded_dq_workspace(int4train_context ctx, int m, int n, int k);
int4train_status gemm_padded_dq(int4train_context ctx, const int8_t* a, const int8_t* b, const float* bias,
                                const float* sx, const float* sw, float* y, int ldy, int m, int n, int k, void* ws,
                                size_t ws_bytes);

// The intermediate buffers of the layer backward (int4train_linear_backward, and the benchmark that times its
// phases): one layout, planned and carved in one place. Plan order: linear_backward_plan_buffers, then any extra
// buffers of the caller, then linear_backward_plan_ops (the sub-operators carve theirs after the caller's);
// take the buffers in the same order.
struct LinearBackwardBuffers {
    int8_t *high, *low;      // bit-split digits (n × c)
    float* scales;           // {Mx, s↑, s↓}
    int8_t* xq;              // unpacked X codes (n × d), for the ∇W scores
    double *prob_w, *prob_x;  // selection of each GEMM (2n stacked rows)
    uint8_t *keep_w, *keep_x;
    int32_t *kept_w, *kept_x;
    double* cws;             // CanonicalSum workspace of the fused LSQ backward
};
void linear_backward_plan_buffers(Plan& p, int n, int c, int d);
void linear_backward_plan_ops(int4train_context ctx, Plan& p, int n, int c, int d);
LinearBackwardBuffers linear_backward_take(Arena& ar, int n, int c, int d);

// Sizes and impls of the composite operators (used by linear_backward).
void bit_split_plan(Plan& p, int rows, int cols);
int4train_status bit_split_impl(int4train_context ctx, Arena& ar, const float* grad, int rows, int cols, uint64_t seed,
                                int mode, int8_t* high, int8_t* low, float* scales);
void lss_select_plan(Plan& p, int n, int c, int d);
int4train_status lss_select_impl(int4train_context ctx, Arena& ar, const int8_t* high, const int8_t* low,
                                 const float* scales, const int8_t* x_codes, const float* step_x, int n, int c, int d,
                                 int sampling, uint64_t seed, double* prob, uint8_t* keep, int32_t* kept);
void lss_grad_weight_plan(int4train_context ctx, Plan& p, int n, int c, int d);
int4train_status lss_grad_weight_impl(int4train_context ctx, Arena& ar, const int8_t* high, const int8_t* low,
                                      const uint8_t* x_packed, const float* scales, const float* step_x,
                                      const uint8_t* keep, const double* prob, int n, int c, int d, float* grad_wh);
void lss_grad_input_plan(int4train_context ctx, Plan& p, int n, int c, int d);
int4train_status lss_grad_input_impl(int4train_context ctx, Arena& ar, const int8_t* high, const int8_t* low,
                                     const uint8_t* w_packed, const float* scales, const float* step_w,
                                     const uint8_t* keep, const double* prob, int n, int c, int d, float* grad_xh,
                                     bool fold /* every kept row has p = 1 (Nonzero sampling): one GEMM of n rows */);
int4train_status lsq_backward_impl(int4train_context ctx, const float* v_src, const float* grad, int64_t n,
                                   const float* d_step, int mode, float* grad_v, float* grad_step, double* ws);
// HQ-MM step 5 (§2.3) as a separate pass: y[i, j] = (s_X·s_W)·P[i, j] + bias[j] from the INT32 product P (row stride
// ldp), explicit _rn operations (no FMA); bias may be NULL. Used where the GEMM epilogue does not fuse it.
int4train_status hq_dequantize_impl(int4train_context ctx, const int32_t* p, int ldp, const float* d_step_x,
                                    const float* d_step_w, const float* d_bias, int n, int c, float* d_y);
// Fused recompute + LSQ backward + back-transform (linear_backward steps 4–5), bit-identical to
// hadamard_impl(v) -> lsq_backward_impl(vh, grad) -> hadamard_impl: out = H(mask ⊙ grad), *grad_step as
// lsq_backward_impl. out may alias grad; ws: canon_ws_count(total) + 1 doubles.
int4train_status hadamard_lsq_backward_impl(int4train_context ctx, const float* v, const float* grad, int64_t total,
                                            int group, const float* d_step, int mode, float* out, float* grad_step,
                                            double* ws);

}  // namespace i4t
