// grad_y_stats.cu — the layer backward's one read of ∇Y (n × c, row-major) when ∇b is asked for: ∇b's column sums
// (docs/method.md §3.6) and the per-tensor min/max that sets the bit split's scales (§3.3, conventions.md "Bit
// splitting") from the same loads. Why: both passes are bandwidth-bound reads of all of ∇Y (on the H200 at
// 16384 × 4096 each cost ≈ 0.08 ms of a ≈ 0.9 ms layer backward), so doing them together saves one full read.
//
// ∇b is deterministic and bit-identical to the separate column-sum pass it replaces:
//   part[r][j] = Σ over rows [r·256, r·256 + 256) of ∇Y[i, j] in row order, in double, from 0.0,
//   ∇b[j] = Σ_r part[r][j] in r order, rounded once to float (then one FP32 add onto the old value when accumulating).
// One thread per column (coalesced across j) and one 256-row strip per block row. The min/max partials (one pair per
// block) feed bit_split_scales_from_minmax; min/max are exact in any order (min_max.cuh), so the scales are the
// plain min/max pass's bit for bit.
#include "runtime/status.cuh"
#include "runtime/context.cuh"
#include "runtime/arena.cuh"
#include "runtime/launch.cuh"
#include "ops/operators.cuh"
#include "ops/min_max.cuh"
#include "numerics/widen.cuh"

namespace i4t {

namespace {

constexpr int kBiasRows = 256;  // the strip height of ∇b's partial sums (fixes its summation order)
// The most blocks the fused pass launches: each writes one min/max pair, and one block (scales_kernel) reads them all.
// 2048 blocks of 256 threads are ≈ 2 waves on the H200 (132 SMs × 8 resident blocks); past that, a block walks
// several 256-column tiles of its strip (each column's sum is still its own strip's, in row order).
constexpr int64_t kStatsMaxBlocks = 2048;

struct StatsGrid {
    int strips;  // ceil(n / 256): blockIdx.y, one ∇b partial row each
    int tiles;   // ceil(c / 256): the 256-column tiles of a strip
    int gx;      // blocks per strip (≤ tiles); block x takes tiles x, x + gx, ...
    int nparts() const { return gx * strips; }
};

StatsGrid stats_grid(int n, int c) {
    StatsGrid g;
    g.strips = (int)ceil_div(n, kBiasRows);
    g.tiles = (int)ceil_div(c, kMinMaxThreads);
    const int64_t per_strip = ceil_div(kStatsMaxBlocks, g.strips);
    g.gx = (int)(g.tiles < per_strip ? g.tiles : per_strip);  // ≥ 1: per_strip ≥ 1, tiles ≥ 1
    return g;
}

// Block (x, r) sums the columns of tiles x, x + gridDim.x, ... over strip r into part[r][·] and writes the min and
// max of every element it read to minmax[2·(r·gridDim.x + x)], [+1].
// T: float or __nv_bfloat16 (widened exactly on load, numerics/widen.cuh).
template <class T>
__global__ void __launch_bounds__(kMinMaxThreads) bias_minmax_partial_kernel(const T* __restrict__ gy, int n, int c,
                                                                             int tiles, double* __restrict__ part,
                                                                             float* __restrict__ minmax) {
    __shared__ float smin[kMinMaxThreads], smax[kMinMaxThreads];
    const int r0 = blockIdx.y * kBiasRows, r1 = min(n, r0 + kBiasRows);
    float mn = INFINITY, mx = -INFINITY;
    for (int t = blockIdx.x; t < tiles; t += gridDim.x) {
        const int j = t * kMinMaxThreads + threadIdx.x;
        if (j >= c) continue;  // no early return: every thread joins block_min_max below
        double s = 0.0;
        for (int i = r0; i < r1; ++i) {
            const float v = load_widened(gy, (int64_t)i * c + j);
            s += (double)v;
            mn = fminf(mn, v);
            mx = fmaxf(mx, v);
        }
        part[(int64_t)blockIdx.y * c + j] = s;
    }
    block_min_max(mn, mx, smin, smax);
    if (threadIdx.x == 0) {
        const int64_t b = (int64_t)blockIdx.y * gridDim.x + blockIdx.x;
        minmax[2 * b] = smin[0];
        minmax[2 * b + 1] = smax[0];
    }
}

__global__ void bias_final_kernel(const double* __restrict__ part, int strips, int c, float* gb, bool accumulate) {
    const int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= c) return;
    double s = 0.0;
    for (int r = 0; r < strips; ++r) s += part[(int64_t)r * c + j];
    gb[j] = accumulate ? __fadd_rn(gb[j], (float)s) : (float)s;
}

}  // namespace

int64_t bias_partials_count(int n, int c) { return ceil_div(n, kBiasRows) * (int64_t)c; }

void grad_y_stats_plan(Plan& p, int n, int c) { p.add<float>(2 * (int64_t)stats_grid(n, c).nparts()); }

template <class T>
int4train_status grad_y_stats_impl(int4train_context ctx, Arena& ar, const T* grad_y, int n, int c,
                                   double* bias_part, float* scales) {
    const StatsGrid g = stats_grid(n, c);
    if (g.strips > 65535)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "int4train_linear_backward: n (%d) too large for the bias gradient "
                    "(at most %d rows)", n, 65535 * kBiasRows);
    float* minmax = ar.take<float>(2 * (int64_t)g.nparts());
    I4T_ARENA_CHECK(ar);
    bias_minmax_partial_kernel<T><<<dim3((unsigned)g.gx, (unsigned)g.strips), kMinMaxThreads, 0, ctx->stream>>>(
        grad_y, n, c, g.tiles, bias_part, minmax);
    I4T_LAUNCH("bias_minmax_partial_kernel");
    return bit_split_scales_from_minmax(ctx, minmax, g.nparts(), scales);
}

template int4train_status grad_y_stats_impl<float>(int4train_context, Arena&, const float*, int, int, double*, float*);
template int4train_status grad_y_stats_impl<__nv_bfloat16>(int4train_context, Arena&, const __nv_bfloat16*, int, int,
                                                           double*, float*);

int4train_status bias_final_impl(int4train_context ctx, const double* bias_part, int n, int c, float* grad_bias,
                                 bool accumulate) {
    bias_final_kernel<<<(unsigned)ceil_div(c, 256), 256, 0, ctx->stream>>>(bias_part, (int)ceil_div(n, kBiasRows), c,
                                                                           grad_bias, accumulate);
    I4T_LAUNCH("bias_final_kernel");
    return INT4TRAIN_SUCCESS;
}

}  // namespace i4t
