// row_quantizer.cuh — the per-row LSQ quantizer of the fine-scale INT4 ablations (int4_ablation.cu; docs/conventions.md
// "INT4 ablations (diagnostic)"): one step per row of a Hadamard-domain operand (a token of XH, an output channel of
// WH) instead of the layer's one learned step per tensor. The step of row r is the LSQ rule of §2.1 applied to that
// row alone, s_r = lsq_step_rule(CanonicalSum_k |V[r,k]|, cols, κ) (numerics/rounding.cuh: the same bits as
// LsqQuantizer.InitStep(row, bits, κ); κ = layer::step_rule_scale, 1 unless --step-init-scale), and the codes are
// lsq_code(V[r,k], s_r, Qn) of the layer's mode. Deterministic: one CTA per row, CanonicalSum's fixed order, so a
// forward made again (and a replayed graph) gives the same bits.
#pragma once

#include <stdint.h>

#include "runtime/context.cuh"

namespace i4t {
namespace gpt {

// The widest row row_steps takes (CanonicalSum's chunk sums of one row held in shared memory).
constexpr int kRowQuantizerMaxCols = 64 * 4096;

// step[r] (rows) = κ·(the LSQ rule) of row r of v (rows × cols, row-major).
int4train_status row_steps(int4train_context ctx, const float* v, int rows, int cols, float kappa, float* step);
// out[r, k] = s_r·lsq_code(v[r, k], s_r, Qn(mode)) (one FP32 product, as lsq_dequantize): the dequantized per-row
// codes. out may alias v.
int4train_status row_fake_quantize(int4train_context ctx, const float* v, int rows, int cols, const float* step,
                                   int mode, float* out);
// The straight-through mask of the per-row quantizer (§3.6 with s_r): grad[r, k] = 0 where v[r, k]/s_r lies outside
// [Qn, Qp] (the division and comparisons of the per-tensor LSQ backward), unchanged elsewhere; in place.
int4train_status row_mask(int4train_context ctx, const float* v, int rows, int cols, const float* step, int mode,
                          float* grad);

}  // namespace gpt
}  // namespace i4t
