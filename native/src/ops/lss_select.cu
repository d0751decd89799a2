// lss_select.cu — leverage scores and row selection (method.md §3.4, §3.5; conventions.md "Leverage scores
// and selection"). Stacked rows 0..N−1 = high digits, N..2N−1 = low digits.
//   ∇W scores: c_i = (s_part·sqrt(‖part_i‖²))·(s_X·sqrt(‖a_i‖²));  ∇X scores: c_i = s_part·sqrt(‖part_i‖²)
//   (integer squared norms in int64, scores in double).
//   Nonzero sampling: keep ⇔ c_i > 0 (p_i = 1 for kept rows, 0 for the others).
//   Bernoulli sampling: water-filling to Σp = N with CanonicalSum sums, keep ⇔ U01Double(Philox(seed, i, 1)) < p_i.
#include "runtime/status.cuh"
#include "runtime/context.cuh"
#include "runtime/arena.cuh"
#include "runtime/launch.cuh"
#include "numerics/philox.cuh"
#include "numerics/canonical_sum.cuh"
#include "ops/operators.cuh"

namespace i4t {

// One warp per token row: squared norms of h_i, l_i (C entries) and a_i (D entries), exact in int64.
__global__ void row_norms_kernel(const int8_t* __restrict__ high, const int8_t* __restrict__ low,
                                 const int8_t* __restrict__ xq, int n, int c, int d, int64_t* norms /*3N*/) {
    int warps = blockDim.x / 32;
    int lane = threadIdx.x % 32;
    for (int64_t row = (int64_t)blockIdx.x * warps + threadIdx.x / 32; row < n; row += (int64_t)gridDim.x * warps) {
        int64_t sh = 0, sl = 0, sa = 0;
        for (int j = lane; j < c; j += 32) {
            int h = high[row * c + j], l = low[row * c + j];
            sh += h * h;
            sl += l * l;
        }
        if (xq)
            for (int j = lane; j < d; j += 32) {
                int a = xq[row * d + j];
                sa += a * a;
            }
        for (int o = 16; o >= 1; o >>= 1) {
            sh += __shfl_down_sync(0xffffffffu, sh, o);
            sl += __shfl_down_sync(0xffffffffu, sl, o);
            sa += __shfl_down_sync(0xffffffffu, sa, o);
        }
        if (lane == 0) {
            norms[row] = sh;
            norms[n + row] = sl;
            norms[2 * (int64_t)n + row] = sa;
        }
    }
}

__global__ void scores_kernel(const int64_t* __restrict__ norms, const float* scales, const float* step_x, int n,
                              double* score) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < 2 * (int64_t)n;
         i += (int64_t)gridDim.x * blockDim.x) {
        bool hi = i < n;
        int64_t tok = hi ? i : i - n;
        double s = (double)(hi ? scales[1] : scales[2]);
        double c = s * sqrt((double)norms[i]);
        if (step_x) c = c * ((double)*step_x * sqrt((double)norms[2 * (int64_t)n + tok]));
        score[i] = c;
    }
}

constexpr int kSelThreads = 256;  // == kCanonLanes: the block canonical sum needs exactly 256 threads

// CanonicalSum of f over [0, n) by one block of 256 threads; scratch holds canon_ws_count(n) doubles.
// Every thread returns the result.
template <class F>
__device__ double block_canonical_sum(const F& f, int64_t n, double* scratch, double* lanes) {
    if (n <= kCanonChunk) return canon_chunk_block(f, 0, (int)n, lanes);
    int64_t m = ceil_div(n, kCanonChunk);
    for (int64_t ch = 0; ch < m; ++ch) {
        int64_t base = ch * kCanonChunk;
        int len = (int)((n - base) < kCanonChunk ? (n - base) : kCanonChunk);
        double r = canon_chunk_block(f, base, len, lanes);
        if (threadIdx.x == 0) scratch[ch] = r;
    }
    __syncthreads();
    const double* cur = scratch;
    double* nxt = scratch + m;
    while (m > kCanonChunk) {
        int64_t m2 = ceil_div(m, kCanonChunk);
        for (int64_t ch = 0; ch < m2; ++ch) {
            int64_t base = ch * kCanonChunk;
            int len = (int)((m - base) < kCanonChunk ? (m - base) : kCanonChunk);
            double r = canon_chunk_block(LoadDouble{cur}, base, len, lanes);
            if (threadIdx.x == 0) nxt[ch] = r;
        }
        __syncthreads();
        cur = nxt;
        nxt += m2;
        m = m2;
    }
    return canon_chunk_block(LoadDouble{cur}, 0, (int)m, lanes);
}

struct SmallTerm {  // p_i if p_i < 1 else 0 (the sum runs over all 2N entries in index order)
    const double* p;
    __device__ double operator()(int64_t i) const { return p[i] < 1.0 ? p[i] : 0.0; }
};

__device__ double block_max(double v, double* red) {
    red[threadIdx.x] = v;
    __syncthreads();
    for (int s = kSelThreads / 2; s >= 1; s >>= 1) {
        if ((int)threadIdx.x < s) red[threadIdx.x] = fmax(red[threadIdx.x], red[threadIdx.x + s]);
        __syncthreads();
    }
    double r = red[0];
    __syncthreads();
    return r;
}

__device__ long long block_count(long long v, long long* red) {
    red[threadIdx.x] = v;
    __syncthreads();
    for (int s = kSelThreads / 2; s >= 1; s >>= 1) {
        if ((int)threadIdx.x < s) red[threadIdx.x] += red[threadIdx.x + s];
        __syncthreads();
    }
    long long r = red[0];
    __syncthreads();
    return r;
}

__global__ void __launch_bounds__(kSelThreads) select_kernel(const double* __restrict__ c, int n, int sampling,
                                                             PhiloxKey key, double* p, uint8_t* keep, int32_t* kept,
                                                             double* scratch) {
    const uint64_t seed = key.value();
    __shared__ double lanes[kCanonLanes];
    __shared__ long long cnts[kSelThreads];
    const int64_t m = 2 * (int64_t)n;
    const int t = threadIdx.x;
    if (sampling == INT4TRAIN_SAMPLING_NONZERO) {
        for (int64_t i = t; i < m; i += kSelThreads) p[i] = c[i] > 0.0 ? 1.0 : 0.0;
    } else {
        const double B = (double)n;
        double total = block_canonical_sum(LoadDouble{c}, m, scratch, lanes);
        if (total == 0.0) {
            for (int64_t i = t; i < m; i += kSelThreads) p[i] = 0.0;
        } else {
            const double sc = B / total;
            for (int64_t i = t; i < m; i += kSelThreads) p[i] = c[i] * sc;
            __syncthreads();
            for (int64_t it = 0; it < m; ++it) {
                double mx = 0.0;
                for (int64_t i = t; i < m; i += kSelThreads) mx = fmax(mx, p[i]);
                mx = block_max(mx, lanes);
                if (mx <= 1.0) break;
                long long cnt = 0;
                for (int64_t i = t; i < m; i += kSelThreads) {
                    if (p[i] >= 1.0) { ++cnt; p[i] = 1.0; }
                }
                cnt = block_count(cnt, cnts);  // contains a barrier: the clamps are visible below
                double small = block_canonical_sum(SmallTerm{p}, m, scratch, lanes);
                if (small == 0.0) break;
                const double f = (B - (double)cnt) / small;
                for (int64_t i = t; i < m; i += kSelThreads)
                    if (p[i] < 1.0) p[i] = p[i] * f;
                __syncthreads();
            }
            for (int64_t i = t; i < m; i += kSelThreads)
                if (p[i] > 1.0) p[i] = 1.0;
        }
    }
    __syncthreads();
    long long kh = 0, kl = 0;
    for (int64_t i = t; i < m; i += kSelThreads) {
        bool k;
        if (sampling == INT4TRAIN_SAMPLING_NONZERO) {
            k = c[i] > 0.0;
        } else {
            PhiloxOut r = philox(seed, (uint64_t)i, kStreamSampling);
            k = u01_double(r.x0, r.x1) < p[i];
        }
        keep[i] = k ? 1 : 0;
        if (k) {
            if (i < n) ++kh; else ++kl;
        }
    }
    kh = block_count(kh, cnts);
    kl = block_count(kl, cnts);
    if (t == 0) {
        kept[0] = (int32_t)kh;
        kept[1] = (int32_t)kl;
    }
}

void lss_select_plan(Plan& p, int n, int c, int d) {
    (void)c; (void)d;
    p.add<int64_t>(3 * (int64_t)n);
    p.add<double>(2 * (int64_t)n);
    p.add<double>(canon_ws_count(2 * (int64_t)n));
}

int4train_status lss_select_impl(int4train_context ctx, Arena& ar, const int8_t* high, const int8_t* low,
                                 const float* scales, const int8_t* x_codes, const float* step_x, int n, int c, int d,
                                 int sampling, PhiloxKey seed, double* prob, uint8_t* keep, int32_t* kept) {
    int64_t* norms = ar.take<int64_t>(3 * (int64_t)n);
    double* score = ar.take<double>(2 * (int64_t)n);
    double* scratch = ar.take<double>(canon_ws_count(2 * (int64_t)n));
    I4T_ARENA_CHECK(ar);
    unsigned nb = grid_for(n, 8);  // 8 warps (rows) per block
    row_norms_kernel<<<nb, 256, 0, ctx->stream>>>(high, low, x_codes, n, c, d, norms);
    I4T_LAUNCH("row_norms_kernel");
    scores_kernel<<<grid_for(2 * (int64_t)n), 256, 0, ctx->stream>>>(norms, scales, x_codes ? step_x : nullptr, n, score);
    I4T_LAUNCH("scores_kernel");
    select_kernel<<<1, kSelThreads, 0, ctx->stream>>>(score, n, sampling, seed, prob, keep, kept, scratch);
    I4T_LAUNCH("select_kernel");
    return INT4TRAIN_SUCCESS;
}

}  // namespace i4t

using namespace i4t;

extern "C" INT4TRAIN_API int4train_status int4train_lss_select(int4train_context ctx, const int8_t* d_high,
                                                               const int8_t* d_low, const float* d_scales,
                                                               const int8_t* d_x_codes, const float* d_step_x, int n,
                                                               int c, int d, int sampling, uint64_t seed,
                                                               double* d_prob, uint8_t* d_keep, int32_t* d_kept) {
    I4T_TRY(enter(ctx, __func__));
    I4T_NOTNULL(d_high);
    I4T_NOTNULL(d_low);
    I4T_NOTNULL(d_scales);
    I4T_NOTNULL(d_prob);
    I4T_NOTNULL(d_keep);
    I4T_NOTNULL(d_kept);
    I4T_ALIGNED(d_step_x);
    if ((d_x_codes == nullptr) != (d_step_x == nullptr))
        return fail(INT4TRAIN_ERROR_NULL_POINTER,
                    "int4train_lss_select: d_x_codes and d_step_x must both be given (∇W scores) or both be NULL (∇X scores)");
    if (n <= 0 || c <= 0 || (d_x_codes && d <= 0))
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "int4train_lss_select: n (%d), c (%d), d (%d) must be positive", n, c, d);
    if (sampling != INT4TRAIN_SAMPLING_NONZERO && sampling != INT4TRAIN_SAMPLING_BERNOULLI)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "int4train_lss_select: sampling %d is not 0 (nonzero) or 1 (Bernoulli)", sampling);
    Plan p;
    lss_select_plan(p, n, c, d);
    Arena ar;
    I4T_TRY(make_arena(ctx, p, &ar));
    return lss_select_impl(ctx, ar, d_high, d_low, d_scales, d_x_codes, d_step_x, n, c, d, sampling, seed, d_prob,
                           d_keep, d_kept);
}
