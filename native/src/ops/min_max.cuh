// min_max.cuh — the block reduction of ∇Y's min/max partials, shared by the two passes that write them: the plain
// min/max pass of the bit split (bit_split.cu) and the one read of ∇Y that also takes ∇b's strip sums
// (grad_y_stats.cu). Either writes (min, max) pairs that bit_split_scales_from_minmax turns into the split's scales
// (docs/method.md §3.3, conventions.md "Bit splitting"). fminf/fmaxf are exact and ignore NaN in any order, so the
// scales do not depend on how the tensor is cut into partials.
#pragma once

namespace i4t {

constexpr int kMinMaxThreads = 256;  // the block size of every kernel that calls block_min_max

// Tree reduction of each thread's (min, max) over the block into smin[0], smax[0]. Exact in any order.
__device__ __forceinline__ void block_min_max(float mn, float mx, float* smin, float* smax) {
    smin[threadIdx.x] = mn;
    smax[threadIdx.x] = mx;
    __syncthreads();
    for (int s = kMinMaxThreads / 2; s >= 1; s >>= 1) {
        if ((int)threadIdx.x < s) {
            smin[threadIdx.x] = fminf(smin[threadIdx.x], smin[threadIdx.x + s]);
            smax[threadIdx.x] = fmaxf(smax[threadIdx.x], smax[threadIdx.x + s]);
        }
        __syncthreads();
    }
}

}  // namespace i4t
