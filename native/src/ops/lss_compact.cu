// lss_compact.cu — the kept rows of a Bernoulli LSS selection listed in index order, so that the layer's GEMMs run over
// the kept rows only (method.md §3.4, §3.5; conventions.md "Leverage scores and selection", "Compacted Bernoulli
// GEMMs"). Three stable compactions, one CTA each (they run side by side on three SMs):
//   ∇W, integer part:    tokens with a part kept at p = 1 (the folded digit 14·h·[↑] + l·[↓] of lss_matmul.cu)
//   ∇W, fractional part: tokens with a part kept at p < 1 (the FP32 product of lss_matmul.cu)
//   ∇X:                  the nonempty rows of its GEMM (operators.cuh lss_x_row_digits: one folded row 14·h + l per
//                        token whose kept parts all have p = 1, the kept stacked rows 0..N−1 high, N..2N−1 low of a
//                        token with a part at p < 1) and each row's position in that list
// Dropping a row that the masks would have zeroed removes an exact 0 from an integer sum, and the lists keep the
// index order, so every INT32 result and every FP32 accumulation order is the one of the uncompacted path.
// On the paper's operator-benchmark gradients (half the rows zero, the others kept whole at p = 1) ∇X's M is N/2.
//
// The counts live on the device, but the GEMM dispatch takes its sizes on the host. Eager calls therefore wait once
// for the three counts (one 12-byte copy and a stream synchronisation after the selection) and size the GEMMs by them;
// a call made while its stream is being captured into a CUDA graph (the device GPT's step graph) cannot wait, so it
// sizes them for every row (∇W K = N padded, ∇X M = 2N) with the tail of each list zero-filled: the same GEMM cost as
// before compaction, and the same bits.
#include <cub/block/block_scan.cuh>

#include "runtime/status.cuh"
#include "runtime/context.cuh"
#include "runtime/arena.cuh"
#include "runtime/launch.cuh"
#include "ops/operators.cuh"

namespace i4t {

namespace {

// 8192 flags per block-wide scan: a 16k-token layer's lists take 2, 2 and 4 scans (the pass is latency-bound)
constexpr int kCompactThreads = 1024, kCompactItems = 8;
using CompactScan = cub::BlockScan<int, kCompactThreads>;

// Stable compaction of the indices i in [0, m) with flag(i) into list (count of them returned to every thread);
// pos[i] = the index's place in list, −1 when not flagged (pos may be NULL). Each thread takes kCompactItems
// consecutive indices of a tile, so the list is in index order.
template <class Flag>
__device__ int32_t block_compact(const Flag& flag, int64_t m, int32_t* list, int32_t* pos,
                                 typename CompactScan::TempStorage& ts) {
    int32_t base = 0;
    for (int64_t t0 = 0; t0 < m; t0 += (int64_t)kCompactThreads * kCompactItems) {
        const int64_t first = t0 + (int64_t)threadIdx.x * kCompactItems;
        int f[kCompactItems], off[kCompactItems], total;
#pragma unroll
        for (int q = 0; q < kCompactItems; ++q) f[q] = (first + q < m && flag(first + q)) ? 1 : 0;
        CompactScan(ts).ExclusiveSum(f, off, total);
#pragma unroll
        for (int q = 0; q < kCompactItems; ++q) {
            const int64_t i = first + q;
            if (i >= m) break;
            if (f[q]) list[base + off[q]] = (int32_t)i;
            if (pos) pos[i] = f[q] ? base + off[q] : -1;
        }
        base += total;
        __syncthreads();  // the scan's storage is reused by the next tile
    }
    return base;
}

// The predicates of the three lists (keep/prob: 2N stacked rows of one selection).
struct WeightPart {
    const uint8_t* keep;
    const double* prob;
    int n;
    bool fractional;  // false: a part kept at p = 1; true: a part kept at p < 1
    __device__ bool part(int64_t r) const { return keep[r] && (fractional ? prob[r] < 1.0 : prob[r] == 1.0); }
    __device__ bool operator()(int64_t i) const { return part(i) || part(n + i); }
};
struct InputGemmRow {
    const uint8_t* keep;
    const double* prob;
    int n;
    __device__ bool operator()(int64_t r) const {
        int up, dn;
        lss_x_row_digits(keep, prob, n, r, &up, &dn);
        return up != 0 || dn != 0;
    }
};

// Block 0: ∇W integer tokens -> count[0]; block 1: ∇W fractional tokens -> count[1]; block 2: ∇X GEMM rows -> count[2].
__global__ void __launch_bounds__(kCompactThreads) compact_kernel(const uint8_t* __restrict__ keep_w,
                                                                  const double* __restrict__ prob_w,
                                                                  const uint8_t* __restrict__ keep_x,
                                                                  const double* __restrict__ prob_x, int n,
                                                                  LssCompaction k) {
    __shared__ typename CompactScan::TempStorage ts;
    int32_t cnt;
    if (blockIdx.x == 0) cnt = block_compact(WeightPart{keep_w, prob_w, n, false}, n, k.w_tokens, nullptr, ts);
    else if (blockIdx.x == 1) cnt = block_compact(WeightPart{keep_w, prob_w, n, true}, n, k.f_tokens, nullptr, ts);
    else cnt = block_compact(InputGemmRow{keep_x, prob_x, n}, 2 * (int64_t)n, k.x_rows, k.x_pos, ts);
    if (threadIdx.x == 0) k.count[blockIdx.x] = cnt;
}

// The host sizes of the two GEMMs from the device counts: eager calls wait for them, captured ones take every row.
int4train_status compacted_sizes(int4train_context ctx, int n, LssCompaction* k) {
    k->w_k = (int)round_up(n, 32);
    k->x_m = 2 * n;
    k->f_count = -1;
    cudaStreamCaptureStatus capturing = cudaStreamCaptureStatusNone;
    I4T_CUDA(cudaStreamIsCapturing(ctx->stream, &capturing));
    if (capturing != cudaStreamCaptureStatusNone) return INT4TRAIN_SUCCESS;
    int32_t h[3];
    I4T_CUDA(cudaMemcpyAsync(h, k->count, sizeof h, cudaMemcpyDeviceToHost, ctx->stream));
    I4T_CUDA(cudaStreamSynchronize(ctx->stream));
    if (h[0] < 0 || h[0] > n || h[1] < 0 || h[1] > n || h[2] < 0 || h[2] > 2 * n)
        return fail(INT4TRAIN_ERROR_INTERNAL, "lss_compact: kept counts (%d, %d, %d) out of range", h[0], h[1], h[2]);
    k->w_k = (int)round_up(h[0] > 0 ? h[0] : 1, 32);  // a GEMM needs K ≥ 32: zero rows add exactly 0
    k->x_m = h[2] > 0 ? h[2] : 1;                      // M ≥ 1: a zero row the epilogue never reads
    k->f_count = h[1];
    return INT4TRAIN_SUCCESS;
}

}  // namespace

void lss_compact_plan(Plan& p, int n) {
    p.add<int32_t>(n);
    p.add<int32_t>(n);
    p.add<int32_t>(2 * (int64_t)n);
    p.add<int32_t>(2 * (int64_t)n);
    p.add<int32_t>(3);
}

int4train_status lss_compact_impl(int4train_context ctx, Arena& ar, const uint8_t* keep_w, const double* prob_w,
                                  const uint8_t* keep_x, const double* prob_x, int n, LssCompaction* out) {
    LssCompaction k;
    k.w_tokens = ar.take<int32_t>(n);
    k.f_tokens = ar.take<int32_t>(n);
    k.x_rows = ar.take<int32_t>(2 * (int64_t)n);
    k.x_pos = ar.take<int32_t>(2 * (int64_t)n);
    k.count = ar.take<int32_t>(3);
    I4T_ARENA_CHECK(ar);
    compact_kernel<<<3, kCompactThreads, 0, ctx->stream>>>(keep_w, prob_w, keep_x, prob_x, n, k);
    I4T_LAUNCH("compact_kernel");
    I4T_TRY(compacted_sizes(ctx, n, &k));
    *out = k;
    return INT4TRAIN_SUCCESS;
}

}  // namespace i4t
