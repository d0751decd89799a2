// hadamard_regs.cuh — the Walsh–Hadamard butterfly of conventions.md "Hadamard" (G ≤ 512) on registers: each
// thread holds 16 elements, lanes 2p and 2p+1 of a warp together one aligned run of 32, a warp a run of 512. Used by
// the fused forward prologue (hadamard.cu) and the fused backward tail (hadamard_lsq_back_regs.cu). The stages
// h ≥ 32 (G = 64 … 512) go through a per-warp shared-memory run (stages_above_32, below); G = 1024 spans two warps
// and stays on the block kernels.
//
// Why this layout: the former kernels held 4 (forward) or 1 (backward) elements of a G-block per lane, so every
// stage h ≥ 4 (forward) or h ≥ 1 (backward) was a warp shuffle — quarter rate on Hopper — plus a select per element.
// With 16 consecutive elements per thread, the stages h = 1..8 run in registers; for G = 32 the one stage across the
// lane pair is an *exchange*: each lane sends 8 of its 16 values and computes 8 of the 16 butterflies (0.5 shuffle
// per element per stage instead of 1), after which the two lanes hold the elements in a different arrangement
// (below). Every butterfly keeps its operands (a = the element with the stage's bit clear) and the stage order
// h = 1, 2, ..., G/2, so the results are bit-identical to the sequential order of the conventions.
//
// Layouts (element offset within the pair's 32 for slot s of lane u = lane & 1; for G ≤ 16 always kLoad):
//   kLoad      16u + s                                        (thread t holds 16t .. 16t+15)
//   kForward   (s & 7) + 8u + 16(s >> 3)                      (after the forward stages, G = 32)
//   kBackward  (s & 3) + 4u + 8((s >> 2) & 1) + 16(s >> 3)    (after the backward stages starting from kForward)
// In each, slots 4j .. 4j+3 are 4 consecutive elements (16-byte accesses) at run_offset(j).
#pragma once

#include <type_traits>

#include "numerics/widen.cuh"

namespace i4t {

// The largest G of the register kernels: one warp's run of 512 elements (32 lanes × 16).
constexpr int kMaxRegisterGroup = 512;

// Calls f(std::integral_constant<int, G>()) with G = group for the groups the register kernels serve (1, 2, 4, ...,
// 512); false, calling nothing, for any other group. (Host side: the kernels' launches, one template instance per G.)
template <class F>
bool with_register_group(int group, F&& f) {
    switch (group) {
        case 1: f(std::integral_constant<int, 1>()); return true;
        case 2: f(std::integral_constant<int, 2>()); return true;
        case 4: f(std::integral_constant<int, 4>()); return true;
        case 8: f(std::integral_constant<int, 8>()); return true;
        case 16: f(std::integral_constant<int, 16>()); return true;
        case 32: f(std::integral_constant<int, 32>()); return true;
        case 64: f(std::integral_constant<int, 64>()); return true;
        case 128: f(std::integral_constant<int, 128>()); return true;
        case 256: f(std::integral_constant<int, 256>()); return true;
        case 512: f(std::integral_constant<int, 512>()); return true;
        default: return false;
    }
}

enum class PairLayout { kLoad, kForward, kBackward };

// Offset of slots 4j .. 4j+3 within the lane pair's 32 elements.
template <int G, PairLayout L>
__device__ __forceinline__ int run_offset(int j, int u) {
    if (G < 32 || L == PairLayout::kLoad) return 16 * u + 4 * j;
    if (L == PairLayout::kForward) return 4 * (j & 1) + 8 * u + 16 * (j >> 1);
    return 4 * u + 8 * (j & 1) + 16 * (j >> 1);
}

// One stage on the slots' bit `kBit`: (x[k], x[k | m]) ← (a + b, a − b) for every k with that bit clear.
template <int kBit>
__device__ __forceinline__ void stage_in_registers(float (&x)[16]) {
    constexpr int m = 1 << kBit;
#pragma unroll
    for (int k = 0; k < 16; ++k)
        if ((k & m) == 0) {
            const float a = x[k], b = x[k | m];
            x[k] = __fadd_rn(a, b);
            x[k | m] = __fsub_rn(a, b);
        }
}

// The stage whose bit is the lane bit (lane u = 0 holds the a's, u = 1 the b's, slot by slot). Lane u computes the
// butterflies of the slots whose bit kSel equals u: it sends the other 8 values and receives its partner's. The sum
// goes to the slot with bit kSel clear, the difference to the slot with it set; afterwards the slot's bit kSel is the
// stage's bit and the lane bit is the element bit that slot bit held before.
template <int kSel>
__device__ __forceinline__ void stage_across_pair(float (&x)[16], int u) {
    constexpr int m = 1 << kSel;
#pragma unroll
    for (int k = 0; k < 16; ++k)
        if ((k & m) == 0) {
            const float send = u ? x[k] : x[k | m];
            const float recv = __shfl_xor_sync(0xffffffffu, send, 1);
            const float a = u ? recv : x[k];
            const float b = u ? x[k | m] : recv;
            x[k] = __fadd_rn(a, b);
            x[k | m] = __fsub_rn(a, b);
        }
}

// Forward transform (unnormalised) of the G-blocks in kLoad; leaves kForward.
template <int G>
__device__ __forceinline__ void butterfly_forward(float (&x)[16], int u) {
    if (G > 1) stage_in_registers<0>(x);
    if (G > 2) stage_in_registers<1>(x);
    if (G > 4) stage_in_registers<2>(x);
    if (G > 8) stage_in_registers<3>(x);
    if (G > 16) stage_across_pair<3>(x, u);  // element bit 4 (the lane bit) ↔ slot bit 3 (element bit 3)
}

// Backward transform of values in kForward; leaves kBackward. For G = 32 the slot bits 0..2 are element bits 0..2,
// the lane bit is element bit 3 and slot bit 3 element bit 4.
template <int G>
__device__ __forceinline__ void butterfly_backward(float (&x)[16], int u) {
    if (G > 1) stage_in_registers<0>(x);
    if (G > 2) stage_in_registers<1>(x);
    if (G > 4) stage_in_registers<2>(x);
    if (G == 16) stage_in_registers<3>(x);
    if (G > 16) {
        stage_across_pair<2>(x, u);  // element bit 3 (the lane bit) ↔ slot bit 2 (element bit 2)
        stage_in_registers<3>(x);    // element bit 4
    }
}

// The stages h = 32, 64, ..., G/2 of G = 64 … 512 (after butterfly_forward or butterfly_backward did h ≤ 16) on the
// warp's aligned run of 512 elements, through `run` (512 floats of shared memory, this warp's alone): the 16 values
// go to their element offsets (layout L), lane l takes elements l + 32k for k = 0..15 — so slot bit b is element
// bit 5 + b and a register stage on slot bit b is the stage h = 32·2^b with the same operands (a = the element with
// the bit clear) — and the results come back to the same registers in layout L. Stage order h = 1, 2, … is kept, so
// the result is the sequential order's bit for bit. Reads of l + 32k are conflict-free (32 consecutive words).
template <int G, PairLayout L>
__device__ __forceinline__ void stages_above_32(float (&x)[16], int u, int lane, float* run) {
    if constexpr (G > 32) {
        const int pair = 32 * (lane >> 1);
#pragma unroll
        for (int j = 0; j < 4; ++j)
            *reinterpret_cast<float4*>(run + pair + run_offset<G, L>(j, u)) =
                make_float4(x[4 * j], x[4 * j + 1], x[4 * j + 2], x[4 * j + 3]);
        __syncwarp();
        float y[16];
#pragma unroll
        for (int k = 0; k < 16; ++k) y[k] = run[lane + 32 * k];
        stage_in_registers<0>(y);                 // h = 32
        if (G > 64) stage_in_registers<1>(y);     // h = 64
        if (G > 128) stage_in_registers<2>(y);    // h = 128
        if (G > 256) stage_in_registers<3>(y);    // h = 256
#pragma unroll
        for (int k = 0; k < 16; ++k) run[lane + 32 * k] = y[k];
        __syncwarp();
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const float4 t = *reinterpret_cast<const float4*>(run + pair + run_offset<G, L>(j, u));
            x[4 * j] = t.x; x[4 * j + 1] = t.y; x[4 * j + 2] = t.z; x[4 * j + 3] = t.w;
        }
        __syncwarp();  // the warp may write `run` again (next run, or the other transform)
    }
}

// The 16 floats of a thread in layout L from p + pair (pair = the lane pair's first element); elements at or past
// `len` (relative to p) read 0. 4-element loads where a run lies wholly inside; p must be aligned to 4 elements.
// T: float or __nv_bfloat16, widened exactly (numerics/widen.cuh).
template <int G, PairLayout L, class T>
__device__ __forceinline__ void load_pair_layout(const T* p, int64_t pair, int u, int64_t len, float (&x)[16]) {
#pragma unroll
    for (int j = 0; j < 4; ++j) {
        const int64_t e = pair + run_offset<G, L>(j, u);
        if (e + 3 < len) {
            const float4 t = load4_widened(p + e, 0);
            x[4 * j] = t.x; x[4 * j + 1] = t.y; x[4 * j + 2] = t.z; x[4 * j + 3] = t.w;
        } else {
#pragma unroll
            for (int m = 0; m < 4; ++m) x[4 * j + m] = e + m < len ? load_widened(p, e + m) : 0.0f;
        }
    }
}

}  // namespace i4t
