// device_util.cuh — device helpers shared by the GPT kernels: warp sums, grid-stride loops and the dropout mask.
#pragma once

#include <cuda_runtime.h>
#include <stdint.h>

#include "nn.cuh"

namespace i4t::nn {

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// SplitMix64 finaliser — the host model's Hash.Mix (managed/Int4Train.Training/Hash.cs), so a device run draws the
// same dropout masks as the host model for the same seed and step (the GPU tests compare the two).
__host__ __device__ __forceinline__ uint64_t splitmix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Inverted dropout: the mask value of element i is 1/(1−p) when u(key, i) ≥ p, else 0, with
// u = (Mix(key ^ i·0xD1B54A32D192ED03) >> 40)·2⁻²⁴ (Hash.Uniform). p = 0: always 1.
__device__ __forceinline__ float dropout_mask(uint64_t key, int64_t i, float p, float keep_scale) {
    if (p <= 0.0f) return 1.0f;
    uint64_t r = splitmix64(key ^ ((uint64_t)i * 0xD1B54A32D192ED03ull));
    float u = (float)(r >> 40) * (1.0f / 16777216.0f);
    return u >= p ? keep_scale : 0.0f;
}

// The key of a dropout site (nn.cuh DropoutKey): Hash.Key(seed, step, site) = Mix(step key ^ site).
__device__ __forceinline__ uint64_t site_key(DropoutKey k) { return splitmix64(*k.step_key ^ (uint64_t)k.site); }

inline int grid_for(int64_t count, int block, int max_blocks = 65535 * 8) {
    int64_t g = (count + block - 1) / block;
    if (g < 1) g = 1;
    return (int)(g > max_blocks ? max_blocks : g);
}

}  // namespace i4t::nn
