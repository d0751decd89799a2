// philox.cuh — Philox4x32-10 and its uniform variates (docs/conventions.md "Counter-based randomness"): the
// streams of the bit split and the sampling, identical to the C# reference (Int4Train.Core/Philox.cs).
#pragma once

#include <stdint.h>

namespace i4t {

// ---- Philox4x32-10 (conventions.md "Counter-based randomness") -------------------------------------------
struct PhiloxOut { uint32_t x0, x1; };
struct Philox4Out { uint32_t x[4]; };
// All four output words of Philox4x32-10 for key = seed, counter = (index, stream, 0).
__host__ __device__ __forceinline__ Philox4Out philox4(uint64_t seed, uint64_t index, uint32_t stream) {
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    uint32_t c0 = (uint32_t)index, c1 = (uint32_t)(index >> 32), c2 = stream, c3 = 0;
#pragma unroll
    for (int r = 0; r < 10; ++r) {
#if defined(__CUDA_ARCH__)
        // __umulhi + the low product: one IMAD.WIDE.U32 each; the 64-bit product form below compiles to IMAD.WIDE
        // plus an IADD3 of zero per multiply under nvcc 11.8 (sm_90), 20 instructions more per call (issue 11).
        uint32_t hi0 = __umulhi(0xD2511F53u, c0), lo0 = 0xD2511F53u * c0;
        uint32_t hi1 = __umulhi(0xCD9E8D57u, c2), lo1 = 0xCD9E8D57u * c2;
#else
        uint64_t p0 = (uint64_t)0xD2511F53u * c0;
        uint64_t p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
#endif
        uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
        k0 += 0x9E3779B9u; k1 += 0xBB67AE85u;
    }
    return {{c0, c1, c2, c3}};
}
// The first two words (the sampling streams use x0, x1 of counter (index, stream, 0)).
__host__ __device__ __forceinline__ PhiloxOut philox(uint64_t seed, uint64_t index, uint32_t stream) {
    const Philox4Out o = philox4(seed, index, stream);
    return {o.x[0], o.x[1]};
}
// Bit split: element i uses word i % 4 of counter (i / 4, stream 0): one Philox call serves four consecutive elements
// (conventions.md "Counter-based randomness").
constexpr uint32_t kStreamBitSplit = 0;
constexpr uint32_t kStreamSampling = 1;
// U01 = (x >> 8)·2^−24 ∈ [0, 1), U01Closed = ((x >> 8) + 1)·2^−24 ∈ (0, 1]: an integer count of kU01Unit, exact in FP32
// (the bit split adds them to r with one FMA, numerics/split_digits.cuh).
constexpr float kU01Unit = 0x1p-24f;
__host__ __device__ __forceinline__ uint32_t u01_units(uint32_t x) { return x >> 8; }
__host__ __device__ __forceinline__ uint32_t u01_closed_units(uint32_t x) { return (x >> 8) + 1u; }
__host__ __device__ __forceinline__ float u01(uint32_t x) { return (float)u01_units(x) * kU01Unit; }
__host__ __device__ __forceinline__ float u01_closed(uint32_t x) { return (float)u01_closed_units(x) * kU01Unit; }
__host__ __device__ __forceinline__ double u01_double(uint32_t x0, uint32_t x1) {
    return ((double)(x0 >> 5) * 67108864.0 + (double)(x1 >> 6)) * (1.0 / 9007199254740992.0);
}

}  // namespace i4t
