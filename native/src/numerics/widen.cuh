// widen.cuh — loads of an activation tensor held in FP32 or BF16 as FP32 values (docs/conventions.md "BF16
// activations of the INT4 layer"). BF16 → FP32 is exact (a BF16 is the top 16 bits of the FP32 with the same value),
// so a kernel that widens on load computes, from there on, exactly what the FP32 kernel computes on the widened
// tensor: the BF16 entry points are the FP32 ones run on widen(∇Y), bit for bit, with half the bytes read.
#pragma once
#include <cuda_bf16.h>
#include <stdint.h>

namespace i4t {

__device__ __forceinline__ float widen(float v) { return v; }
__device__ __forceinline__ float widen(__nv_bfloat16 v) {
    return __uint_as_float((uint32_t)__bfloat16_as_ushort(v) << 16);  // exact: the low 16 mantissa bits are zero
}

// Element i of p, widened.
template <class T>
__device__ __forceinline__ float load_widened(const T* __restrict__ p, int64_t i) { return widen(p[i]); }

// Elements 4i .. 4i+3 of p in one load (16 bytes for FP32, 8 for BF16); p must be aligned to 4 elements.
__device__ __forceinline__ float4 load4_widened(const float* __restrict__ p, int64_t i) {
    return reinterpret_cast<const float4*>(p)[i];
}
__device__ __forceinline__ float4 load4_widened(const __nv_bfloat16* __restrict__ p, int64_t i) {
    const uint2 u = reinterpret_cast<const uint2*>(p)[i];
    return make_float4(__uint_as_float(u.x << 16), __uint_as_float(u.x & 0xFFFF0000u), __uint_as_float(u.y << 16),
                       __uint_as_float(u.y & 0xFFFF0000u));
}

// The narrowing store of an FP32 result: BF16 rounds to nearest even (NaN stays NaN), so a BF16 output is RN_bf16 of
// the FP32 output, bit for bit.
__device__ __forceinline__ void store_narrowed(float* p, int64_t i, float v) { p[i] = v; }
__device__ __forceinline__ void store_narrowed(__nv_bfloat16* p, int64_t i, float v) { p[i] = __float2bfloat16_rn(v); }
// Elements 4i .. 4i+3 in one store; p aligned to 4 elements.
__device__ __forceinline__ void store4_narrowed(float* p, int64_t i, float4 v) { reinterpret_cast<float4*>(p)[i] = v; }
__device__ __forceinline__ void store4_narrowed(__nv_bfloat16* p, int64_t i, float4 v) {
    const __nv_bfloat162 a = __floats2bfloat162_rn(v.x, v.y), b = __floats2bfloat162_rn(v.z, v.w);  // .x low half
    reinterpret_cast<uint2*>(p)[i] = make_uint2(*reinterpret_cast<const uint32_t*>(&a),
                                                *reinterpret_cast<const uint32_t*>(&b));
}

// Whether p may be read 4 elements at a time.
template <class T>
__host__ __device__ inline bool aligned4(const T* p) { return (uintptr_t)p % (4 * sizeof(T)) == 0; }

}  // namespace i4t
