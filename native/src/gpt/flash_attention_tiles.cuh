// flash_attention_tiles.cuh — how the fused attention's kernels (flash_attention*.cu) bring rows of one head into
// shared memory: FP32 rows of qkv (or ∂out) rounded to BF16 tiles, a block's own rows once (load_own_rows) and the
// streamed side an inner tile at a time (TilePair + stream_tiles: loaded then used, or, pipelined, the next tile's
// global reads in flight while the current one is used).
#pragma once

#include <cuda_bf16.h>
#include <stdint.h>

#include "flash_attention.cuh"

namespace i4t::nn::flash {

// Four consecutive values of a row as four BF16 values (8 bytes): FP32 rounded to nearest even, BF16 (the device
// GPT's copy of qkv, cast from FP32 with the same rounding) as they are, so both give the same bits.
__device__ __forceinline__ uint2 bf16x4(const float* p) {
    const float4 v = *reinterpret_cast<const float4*>(p);
    return make_uint2(pack_bf16(v.x, v.y), pack_bf16(v.z, v.w));
}
__device__ __forceinline__ uint2 bf16x4(const __nv_bfloat16* p) { return *reinterpret_cast<const uint2*>(p); }

// Rows [first, first + R) of one head (hs = HS values at src + t·row_len, t the row in the sequence; FP32 or BF16,
// bf16x4) into a row-major BF16 tile in shared memory (dst[r·ld + d], ld = padded<HS>()); rows at or past t_len are
// zeros (BF16 +0 is 0 bits, as pack_bf16(0, 0)). All THREADS threads of the block take part (the caller syncs); a
// warp reads whole rows (coalesced).
template <int R, int HS, int THREADS, class Q>
__device__ __forceinline__ void load_rows(__nv_bfloat16* dst, const Q* src, int64_t row_len, int first, int t_len) {
    constexpr int kVec = HS / 4, ld = padded<HS>();
    for (int e = threadIdx.x; e < R * kVec; e += THREADS) {
        const int r = e / kVec, c = (e % kVec) * 4;
        uint2 v = make_uint2(0u, 0u);
        if (first + r < t_len) v = bf16x4(src + (int64_t)(first + r) * row_len + c);
        *reinterpret_cast<uint2*>(dst + r * ld + c) = v;
    }
}

// This thread's share of R rows of one head, held in registers between the global reads (fetch: all issued
// back to back, one latency for the lot) and the BF16 stores into a shared tile laid out as load_rows's (store).
template <int R, int HS, int THREADS> struct RowShare {
    static constexpr int kVec = HS / 4, kCount = R * kVec, kPer = (kCount + THREADS - 1) / THREADS;
    uint2 v[kPer];  // four BF16 values each (bf16x4: rounded when fetched, the same bits as load_rows)

    template <class Q> __device__ __forceinline__ void fetch(const Q* src, int64_t row_len, int first, int t_len) {
#pragma unroll
        for (int k = 0; k < kPer; ++k) {
            const int e = threadIdx.x + k * THREADS, r = e / kVec, c = (e % kVec) * 4;
            const bool in = (kCount % THREADS == 0 || e < kCount) && first + r < t_len;
            v[k] = in ? bf16x4(src + (int64_t)(first + r) * row_len + c) : make_uint2(0u, 0u);
        }
    }
    __device__ __forceinline__ void store(__nv_bfloat16* dst) const {
        constexpr int ld = padded<HS>();
#pragma unroll
        for (int k = 0; k < kPer; ++k) {
            const int e = threadIdx.x + k * THREADS, r = e / kVec, c = (e % kVec) * 4;
            if (kCount % THREADS != 0 && e >= kCount) continue;
            *reinterpret_cast<uint2*>(dst + r * ld + c) = v[k];
        }
    }
};

// A block's own rows (load_rows's contract): pipelined configurations read them all at once (RowShare: one global
// latency, at the start, when the accumulators hold no registers yet), the first kernels row by row (load_rows).
template <class Cfg, int R, int HS, class Q>
__device__ __forceinline__ void load_own_rows(__nv_bfloat16* dst, const Q* src, int64_t row_len, int first,
                                              int t_len) {
    if constexpr (Cfg::kPipelined) {
        RowShare<R, HS, 32 * Cfg::kWarps> share;
        share.fetch(src, row_len, first, t_len);
        share.store(dst);
    } else {
        load_rows<R, HS, 32 * Cfg::kWarps>(dst, src, row_len, first, t_len);
    }
}

// The streamed side of a kernel: tile `it` is rows [first + it·R, first + it·R + R) of two sources of one head
// (k and v, or q and ∂out; QA, QB: FP32 or BF16, as load_rows) and, optionally, of two per-row FP32 arrays (lse₂ and D). fetch(it) reads this thread's
// share into registers (rows at or past t_len: zeros); store(buf) writes it, BF16, into shared tile `buf` (a_s, b_s:
// R × padded<HS>() each; ra_s, rb_s: R floats each; tile `buf` at + buf × that size).
template <int R, int HS, int THREADS, class QA, class QB> struct TilePair {
    static constexpr int kTileElems = R * padded<HS>();
    const QA* a;
    const QB* b;
    int64_t a_len, b_len;
    const float *ra, *rb;  // per-row values, or nullptr
    int first, t_len;
    __nv_bfloat16 *a_s, *b_s;
    float *ra_s, *rb_s;
    RowShare<R, HS, THREADS> va, vb;
    float xa = 0.f, xb = 0.f;

    __device__ __forceinline__ void fetch(int it) {
        const int row0 = first + it * R;
        va.fetch(a, a_len, row0, t_len);
        vb.fetch(b, b_len, row0, t_len);
        if (ra != nullptr && threadIdx.x < R) {
            const bool in = row0 + (int)threadIdx.x < t_len;
            xa = in ? ra[row0 + threadIdx.x] : 0.f;
            xb = in ? rb[row0 + threadIdx.x] : 0.f;
        }
    }
    __device__ __forceinline__ void store(int buf) const {
        va.store(a_s + buf * kTileElems);
        vb.store(b_s + buf * kTileElems);
        if (ra != nullptr && threadIdx.x < R) {
            ra_s[buf * R + threadIdx.x] = xa;
            rb_s[buf * R + threadIdx.x] = xb;
        }
    }
    // Tile it straight into shared tile 0 (fetch + store without holding a whole tile in registers: the unpipelined
    // order, whose registers are the accumulators').
    __device__ __forceinline__ void load(int it) const {
        const int row0 = first + it * R;
        load_rows<R, HS, THREADS>(a_s, a, a_len, row0, t_len);
        load_rows<R, HS, THREADS>(b_s, b, b_len, row0, t_len);
        for (int e = threadIdx.x; ra != nullptr && e < R; e += THREADS) {
            ra_s[e] = row0 + e < t_len ? ra[row0 + e] : 0.f;
            rb_s[e] = row0 + e < t_len ? rb[row0 + e] : 0.f;
        }
    }
};

// The shared tiles a configuration streams through: 2 (double-buffered) when pipelined, else 1.
template <class Cfg> __host__ __device__ constexpr int buffers_of() { return Cfg::kPipelined ? 2 : 1; }

// Runs body(it, buf) for tiles it = 0 .. n_tiles − 1 of `tiles`, tile it in shared buffer buf; every thread of the
// block calls it (it syncs). Pipelined: tile it + 1's global reads are issued before body(it) and stored into the
// other buffer after it, so their latency hides behind the MMAs; one barrier per tile (it separates body(it)'s reads
// of buffer it % 2 from the stores into it during body(it + 1), and makes tile it + 1's stores visible). Else: load,
// barrier, use, barrier (the first kernels' order).
template <class Cfg, class Tiles, class Body>
__device__ __forceinline__ void stream_tiles(int n_tiles, Tiles& tiles, Body&& body) {
    if constexpr (Cfg::kPipelined) {
        if (n_tiles <= 0) return;
        tiles.fetch(0);
        tiles.store(0);
        __syncthreads();
        for (int it = 0; it < n_tiles; ++it) {
            const bool more = it + 1 < n_tiles;
            if (more) tiles.fetch(it + 1);
            body(it, it & 1);
            if (more) tiles.store((it + 1) & 1);
            __syncthreads();
        }
    } else {
        for (int it = 0; it < n_tiles; ++it) {
            __syncthreads();  // the previous tile is read (and, the first time, the block's own rows are loaded)
            tiles.load(it);
            __syncthreads();
            body(it, 0);
        }
    }
}

}  // namespace i4t::nn::flash
