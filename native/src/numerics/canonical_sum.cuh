// canonical_sum.cuh — CanonicalSum (docs/conventions.md "Deterministic reduction"): one fixed summation order for
// every reduction, so a sum is bit-identical across runs, devices and the C# reference.
#pragma once

#include "runtime/launch.cuh"
#include "runtime/status.cuh"

namespace i4t {

// ---- CanonicalSum (conventions.md "Deterministic reduction") ----------------------------------------------
// n <= 4096: 256 lanes, lane t adds x[t], x[t+256], ... from 0.0, then the tree s = 128..1.
// n > 4096: chunks of 4096, each summed as above, then CanonicalSum of the chunk sums (recursively).
constexpr int kCanonChunk = 4096;
constexpr int kCanonLanes = 256;

// Block of exactly 256 threads, lane t holding its sum `acc`: the canonical tree s = 128..1 over the 256 lanes;
// every thread returns the chunk sum. lanes: 256 doubles of shared memory.
__device__ __forceinline__ double canon_lanes_reduce(double acc, double* lanes) {
    const int t = threadIdx.x;
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

// Block of exactly 256 threads: returns the canonical sum of chunk [base, base+len) (len <= 4096) in every thread.
template <class F>
__device__ __forceinline__ double canon_chunk_block(const F& f, int64_t base, int len, double* lanes /*smem 256*/) {
    double acc = 0.0;
    for (int i = threadIdx.x; i < len; i += kCanonLanes) acc += f(base + i);
    return canon_lanes_reduce(acc, lanes);
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

// The term |v_i| in double (an exact conversion): what the LSQ step rule sums, per tensor (ops/lsq.cu) and per row
// (gpt/row_quantizer.cu).
struct AbsTerm {
    const float* v;
    __device__ double operator()(int64_t i) const { return (double)fabsf(v[i]); }
};

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

}  // namespace i4t
