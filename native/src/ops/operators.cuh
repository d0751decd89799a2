// operators.cuh — the internal operators shared between translation units (all asynchronous on ctx->stream):
// the building blocks of the C ABI entry points of §2–§3 and of the layer forward/backward.
#pragma once

#include <stdint.h>
#include <cuda_bf16.h>

#include "runtime/arena.cuh"
#include "runtime/context.cuh"

namespace i4t {

// The Philox key of a backward's randomness: base, plus *offset when offset (device memory) is given. Eager calls
// pass the key itself (offset NULL); the device GPT's CUDA graph (gpt/step_graph.cu) captures its backwards with
// base = the key at capture and offset = the training forwards taken since, which a node of the graph advances, so
// every replay draws the randomness an eager step would. Kernels read it once, on the device (value()).
struct PhiloxKey {
    uint64_t base = 0;
    const uint64_t* offset = nullptr;
    PhiloxKey() = default;
    PhiloxKey(uint64_t key, const uint64_t* device_offset = nullptr) : base(key), offset(device_offset) {}  // NOLINT
#if defined(__CUDACC__)
    __device__ uint64_t value() const { return offset ? base + *offset : base; }
#endif
};

// Hadamard (§2.2) on a flat array of `total` floats made of consecutive G-blocks.
int4train_status hadamard_impl(int4train_context ctx, const float* x, float* y, int64_t total, int group);
// Fused H_G transform + LSQ codes into the padded operand (rows_pad × ld) + packed rows (rows × cols/2). T: float or
// __nv_bfloat16 (widened exactly on load: the codes of the widened tensor).
template <class T>
int4train_status hadamard_quantize_pad_pack(int4train_context ctx, const T* x, int rows, int cols, int group,
                                            const float* d_step, int mode, int8_t* codes, int rows_pad, int ld,
                                            uint8_t* packed);
// Step init into d_step; ws: canon_ws_count(n) + 1 doubles.
// int4train_block_size_search with its two FP32 temporaries in `lent` when they fit (runtime/arena.cuh LentScratch),
// else in the workspace; the C ABI lends none.
int4train_status block_size_search_impl(int4train_context ctx, const float* d_x, const float* d_w, int n, int c, int d,
                                        int mode, int* h_group, double* h_scores, const LentScratch& lent);
// κ·(the LSQ step rule) (§2.1; κ = scale, 1 = the paper's rule bit for bit: int4train_layer_options.step_init_scale).
int4train_status lsq_init_step_impl(int4train_context ctx, const float* v, int64_t n, float* d_step, double* ws,
                                   float scale = 1.0f);
// Codes of v/step into a padded int8 matrix (rows_pad × ld, zeros outside rows × cols) and, if packed != NULL,
// the packed INT4 rows (rows × cols/2).
int4train_status quantize_pad_pack(int4train_context ctx, const float* v, int rows, int cols, const float* d_step,
                                   int mode, int8_t* codes, int rows_pad, int ld, uint8_t* packed);
// out[i] = s·codes[i] (one FP32 product, s = *d_step): int4train_lsq_dequantize.
int4train_status lsq_dequantize_impl(int4train_context ctx, const int8_t* codes, int64_t n, const float* d_step,
                                     float* out);
// Unpacks packed rows (rows × cols/2 bytes) into an int8 matrix rows_pad × ld (zero padding).
int4train_status unpack_pad(int4train_context ctx, const uint8_t* packed, int rows, int cols, int8_t* out,
                            int rows_pad, int ld);
// The transposing unpack of the LSS GEMM operands (transpose_codes.cu): packed rows (rows × cols/2 bytes) into
// out[c, r] (cols_pad × ld_rows, zero for r ≥ rows or c ≥ cols).
struct CodesTranspose {
    const uint8_t* packed;
    int rows, cols;
    int8_t* out;
    int cols_pad, ld_rows;
};
int4train_status unpack_transpose_pad(int4train_context ctx, const uint8_t* packed, int rows, int cols,
                                      int8_t* out, int cols_pad, int ld_rows);
// Two of them (the backward's X and W codes) in one launch when both take the tiled kernel; the same bytes.
int4train_status unpack_transpose_pad_two(int4train_context ctx, const CodesTranspose& a, const CodesTranspose& b);
// The bytes of a packed row each thread of the tiled kernel loads (16, 8 or 4), or 0 when the job takes the general
// 32 × 32 kernel (cols % 8 ≠ 0, ld_rows % 16 ≠ 0, out not 16-byte or packed not 4-byte aligned, generic kernels).
int codes_transpose_chunk_bytes(int4train_context ctx, const CodesTranspose& job);


// Sizes and impls of the composite operators (used by linear_backward).
// Every reader of ∇Y below is a template on its element type T: float, or __nv_bfloat16 widened exactly to float on
// load (numerics/widen.cuh; docs/conventions.md "BF16 activations of the INT4 layer"), instantiated for both.
// The bit split (bit_split.cu) in two steps: the scales {Mx, s↑, s↓} of ∇Y, then its digits under them.
// bit_split_plan sizes the min/max partials of bit_split_scales_impl, which takes them from `ar`.
void bit_split_plan(Plan& p, int rows, int cols);
// scales ← the split scales of grad (rows × cols) from a min/max pass of its own.
template <class T>
int4train_status bit_split_scales_impl(int4train_context ctx, Arena& ar, const T* grad, int rows, int cols,
                                       float* scales);
// scales ← the same scales from min/max partials already written over the whole tensor (minmax[2k] a min, [2k + 1] a
// max of part k; any cut of the tensor gives the same bits).
int4train_status bit_split_scales_from_minmax(int4train_context ctx, const float* minmax, int nparts, float* scales);
// The digits high, low (rows × cols) of grad under scales (from one of the two above).
template <class T>
int4train_status bit_split_impl(int4train_context ctx, const T* grad, int rows, int cols, const float* scales,
                                PhiloxKey seed, int mode, int8_t* high, int8_t* low);
// The same digits written as folded digits 14h + l in two zero-padded layouts: rows (rows × cp) and columns
// (cols × kp); cp, kp multiples of 32; folded_cols 16-byte aligned.
template <class T>
int4train_status bit_split_fold_impl(int4train_context ctx, const T* grad, int rows, int cols, const float* scales,
                                     PhiloxKey seed, int mode, int8_t* folded_rows, int cp, int8_t* folded_cols,
                                     int kp);
// linear_backward's one read of ∇Y (n × c) when ∇b is asked for (grad_y_stats.cu): ∇b's 256-row strip sums into
// bias_part (bias_partials_count doubles) and the split scales (as bit_split_scales_impl, bit for bit) from the same
// loads; grad_y_stats_plan sizes the min/max partials it takes from `ar`. bias_final_impl then writes ∇b (accumulate:
// old + result, one FP32 add).
int64_t bias_partials_count(int n, int c);
void grad_y_stats_plan(Plan& p, int n, int c);
template <class T>
int4train_status grad_y_stats_impl(int4train_context ctx, Arena& ar, const T* grad_y, int n, int c,
                                   double* bias_part, float* scales);
int4train_status bias_final_impl(int4train_context ctx, const double* bias_part, int n, int c, float* grad_bias,
                                 bool accumulate);
// linear_backward steps 1–3 for Nonzero sampling on the SM90 path (lss_folded.cu), given the split scales of grad_y
// (step 1's first half, run by the caller): writes ∇(XH), ∇(WH); bit-identical to the general path. Available when
// lss_folded_available says so.
bool lss_folded_available(int4train_context ctx, int d, const float* grad_x, const float* grad_w);
// Whether an LSS GEMM with the scaling epilogue (gemm_padded_lss) can write the d-column FP32 output `out` (SM90 path,
// fast kernels, d % 4 == 0, out 16-byte aligned).
bool lss_epilogue_available(int4train_context ctx, int d, const float* out);

void lss_folded_plan(int4train_context ctx, Plan& p, int n, int c, int d);
template <class T>
int4train_status lss_folded_impl(int4train_context ctx, Arena& ar, const T* grad_y, const uint8_t* x_packed,
                                 const uint8_t* w_packed, const float* step_x, const float* step_w, int n, int c,
                                 int d, PhiloxKey seed, int mode, const float* scales, float* grad_xh, float* grad_wh);
// int4train_linear_backward (int4train.h) with its key as a PhiloxKey (the device GPT's graph passes a device offset);
// T = __nv_bfloat16: int4train_linear_backward_typed's BF16 activations ∇Y, X and ∇X.
template <class T>
int4train_status linear_backward_keyed(int4train_context ctx, const T* d_grad_y, const T* d_x, const float* d_w,
                                       const uint8_t* d_x_packed, const uint8_t* d_w_packed, const float* d_step_x,
                                       const float* d_step_w, int n, int c, int d, int group, int mode, int sampling,
                                       PhiloxKey seed, T* d_grad_x, float* d_grad_w, float* d_grad_step_x,
                                       float* d_grad_step_w, float* d_grad_bias, int accumulate);
void lss_select_plan(Plan& p, int n, int c, int d);
int4train_status lss_select_impl(int4train_context ctx, Arena& ar, const int8_t* high, const int8_t* low,
                                 const float* scales, const int8_t* x_codes, const float* step_x, int n, int c, int d,
                                 int sampling, PhiloxKey seed, double* prob, uint8_t* keep, int32_t* kept);
void lss_grad_weight_plan(int4train_context ctx, Plan& p, int n, int c, int d);
int4train_status lss_grad_weight_impl(int4train_context ctx, Arena& ar, const int8_t* high, const int8_t* low,
                                      const uint8_t* x_packed, const float* scales, const float* step_x,
                                      const uint8_t* keep, const double* prob, int n, int c, int d, float* grad_wh);
// The rows of the ∇X GEMM (conventions.md "Leverage scores and selection", ∇X): a token whose kept parts all have
// p = 1 (all of them in Nonzero mode) multiplies Ŵ once, with its folded digit 14·h·[↑ kept] + l·[↓ kept] in GEMM row
// i and an empty row n + i, and its epilogue is s_W·(s↓·G_i); a token with a part kept at p < 1 keeps the stacked
// rows i (h) and n + i (l) and the per-part epilogue s_W·(s↑·G↑/p↑ + s↓·G↓/p↓). lss_matmul.cu builds the rows and
// lss_compact.cu lists the nonempty ones, both from these two functions.
#if defined(__CUDACC__)
__device__ __forceinline__ bool lss_x_token_folded(const uint8_t* keep, const double* prob, int64_t n, int64_t i) {
    return (!keep[i] || prob[i] == 1.0) && (!keep[n + i] || prob[n + i] == 1.0);
}
// GEMM row r (0 ≤ r < 2n) of the ∇X operand = up·h_i + dn·l_i for token i = r mod n; both 0: an empty row.
__device__ __forceinline__ void lss_x_row_digits(const uint8_t* keep, const double* prob, int64_t n, int64_t r,
                                                 int* up, int* dn) {
    const int64_t i = r < n ? r : r - n;
    const bool folded = lss_x_token_folded(keep, prob, n, i);
    if (r < n) {
        *up = keep[i] ? (folded ? 14 : 1) : 0;
        *dn = folded && keep[n + i] ? 1 : 0;
    } else {
        *up = 0;
        *dn = !folded && keep[r] ? 1 : 0;
    }
}
#endif
void lss_grad_input_plan(int4train_context ctx, Plan& p, int n, int c, int d);
int4train_status lss_grad_input_impl(int4train_context ctx, Arena& ar, const int8_t* high, const int8_t* low,
                                     const uint8_t* w_packed, const float* scales, const float* step_w,
                                     const uint8_t* keep, const double* prob, int n, int c, int d, float* grad_xh,
                                     bool fold /* every kept row has p = 1 (Nonzero sampling): GEMM rows n..2n−1 are
                                                  empty, so the GEMM runs over the first n */);
// The kept rows of a Bernoulli selection in index order (lss_compact.cu): the compacted layer backward runs its GEMMs
// over these rows only. Device lists, counts on the device; w_k, x_m are the GEMM sizes on the host (the counts
// padded, or every row while the stream is being captured), the lists zero-filled by the gathers up to them.
struct LssCompaction {
    int32_t* w_tokens;  // ∇W: tokens with a part kept at p = 1 (its INT8 GEMM), count[0] of them
    int32_t* f_tokens;  // ∇W: tokens with a part kept at p < 1 (its FP32 product), count[1]
    int32_t* x_rows;    // ∇X: the nonempty GEMM rows (lss_x_row_digits: a folded row per token with every kept part at
                        // p = 1, the kept stacked rows of the others), count[2]
    int32_t* x_pos;     // ∇X: each GEMM row's place in x_rows, −1 when empty (2N)
    int32_t* count;     // 3 counts (device)
    int w_k, x_m;       // host: ∇W GEMM K (multiple of 32, ≥ 32), ∇X GEMM M (≥ 1)
    int f_count;        // host: count[1] after the eager wait, −1 while capturing (unknown)
};
void lss_compact_plan(Plan& p, int n);
// keep_w/prob_w: the ∇W selection, keep_x/prob_x: the ∇X selection (2N stacked rows each). Eager calls synchronise
// the stream once to read the counts; calls on a capturing stream do not.
int4train_status lss_compact_impl(int4train_context ctx, Arena& ar, const uint8_t* keep_w, const double* prob_w,
                                  const uint8_t* keep_x, const double* prob_x, int n, LssCompaction* out);
// lss_grad_weight_impl / lss_grad_input_impl (general form) over the compacted rows: the same bits.
void lss_grad_weight_compact_plan(int4train_context ctx, Plan& p, int n, int c, int d);
int4train_status lss_grad_weight_compact_impl(int4train_context ctx, Arena& ar, const int8_t* high, const int8_t* low,
                                              const uint8_t* x_packed, const float* scales, const float* step_x,
                                              const uint8_t* keep, const double* prob, const LssCompaction& k, int n,
                                              int c, int d, float* grad_wh);
void lss_grad_input_compact_plan(int4train_context ctx, Plan& p, int n, int c, int d);
int4train_status lss_grad_input_compact_impl(int4train_context ctx, Arena& ar, const int8_t* high, const int8_t* low,
                                             const uint8_t* w_packed, const float* scales, const float* step_w,
                                             const uint8_t* keep, const double* prob, const LssCompaction& k, int n,
                                             int c, int d, float* grad_xh);
// Copies packed rows rows[j] (j < *count) of `packed` (row_bytes each) to out row j, zero rows for *count ≤ j < out_rows.
int4train_status gather_rows(int4train_context ctx, const uint8_t* packed, int row_bytes, const int32_t* rows,
                             const int32_t* count, uint8_t* out, int out_rows);
int4train_status lsq_backward_impl(int4train_context ctx, const float* v_src, const float* grad, int64_t n,
                                   const float* d_step, int mode, float* grad_v, float* grad_step, double* ws);
// HQ-MM step 5 (§2.3) as a separate pass: y[i, j] = (s_X·s_W)·P[i, j] + bias[j] from the INT32 product P (row stride
// ldp), explicit _rn operations (no FMA); bias may be NULL. Used where the GEMM epilogue does not fuse it.
// Y: float, or __nv_bfloat16 (RN_bf16 of the FP32 value).
template <class Y>
int4train_status hq_dequantize_impl(int4train_context ctx, const int32_t* p, int ldp, const float* d_step_x,
                                    const float* d_step_w, const float* d_bias, int n, int c, Y* d_y);
// Fused recompute + LSQ backward + back-transform (linear_backward steps 4–5), bit-identical to
// hadamard_impl(v) -> lsq_backward_impl(vh, grad) -> hadamard_impl: out = H(mask ⊙ grad), *grad_step as
// lsq_backward_impl. out may alias grad; ws: canon_ws_count(total) + 1 doubles. accumulate: out receives old + result
// (one FP32 add of the finished value per element; out must not alias grad then); accumulate_step: the same for
// *grad_step.
// V, O: the element types of v and out, both float or both __nv_bfloat16 (BF16 activations: v widened exactly on load,
// out = RN_bf16 of the FP32 result; accumulate needs FP32 out).
template <class V, class O>
int4train_status hadamard_lsq_backward_impl(int4train_context ctx, const V* v, const float* grad, int64_t total,
                                            int group, const float* d_step, int mode, O* out, float* grad_step,
                                            double* ws, bool accumulate, bool accumulate_step);
// Its G <= 512 kernel on registers (hadamard_lsq_back_regs.cu): whether it applies (fast paths on, G <= 512, v, grad
// and out aligned to 4 elements), and the launch writing one chunk sum per 4096 elements to chunk_sums.
template <class V, class O>
bool hadamard_lsq_back_regs_applies(int4train_context ctx, const V* v, const float* grad, const O* out, int group);
template <class V, class O>
int4train_status hadamard_lsq_back_regs(int4train_context ctx, const V* v, const float* grad, O* out,
                                        int64_t total, int group, float scale, const float* d_step, int qn,
                                        double* chunk_sums, bool accumulate);

}  // namespace i4t
