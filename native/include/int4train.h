/*
 * int4train.h — the C ABI of libint4train: the one contract between the C# API and the CUDA kernels.
 *
 * Method: "Training Transformers with 4-bit Integers" (Xi et al., NeurIPS 2023); every formula is in
 * docs/method.md (cited as §n) and every bit-level rule in docs/conventions.md.
 *
 * Rules that hold for every entry point:
 *  - Every function returns an int4train_status. Nothing aborts, nothing prints. On failure the text of the
 *    error is available from int4train_last_error() on the same thread until the next failing call.
 *  - Checked first, in this order (native/README.md "Entry-point contract"): the handle (NULL: NULL_POINTER; destroyed,
 *    never created or of another kind: INVALID_ARGUMENT); a CUDA error already pending on this thread before the
 *    call (ERROR_CUDA, "pending before this call", then cleared; a device-side fault is sticky and says so); the
 *    pointers (NULL where required: NULL_POINTER; not aligned to the element type: INVALID_ARGUMENT); then sizes and
 *    values (INVALID_ARGUMENT). Destroy layers and models before their context; destroying twice is refused.
 *  - Pointers named d_* are device pointers (cudaMalloc, or a buffer of ILGPU's CUDA accelerator in the
 *    context's CUDA context). The library uses the CUDA runtime (linked statically), i.e. the device's PRIMARY
 *    context: buffers from another driver context (e.g. one made by cuCtxCreate) are not valid here. Pointers named h_* are host pointers. Operators are asynchronous on the
 *    context's stream unless marked "synchronous"; inputs must stay alive until the stream reaches them.
 *  - Matrices are dense and row-major. FP32 on this interface. INT4 codes: int8_t holding a value in [-8, 7];
 *    packed INT4: uint8_t, two per byte, byte j of a row = (q[2j+1] << 4) | (q[2j] & 0xF) (CUTLASS int4b_t).
 *  - Step sizes (s_X, s_W) and split scales live in device memory so no call needs a host synchronisation.
 *  - mode: 0 = INT4TRAIN_MODE_CODE (codes [-8,7], split digits ±6), 1 = INT4TRAIN_MODE_PAPER ([-7,7], ±7).
 *  - sampling: 0 = INT4TRAIN_SAMPLING_NONZERO (exact, keep rows with score > 0), 1 = INT4TRAIN_SAMPLING_BERNOULLI.
 *
 * Shapes (decided per operator):
 *  - Hadamard: the block size G must be a power of two in [1, 1024] dividing the row length; otherwise
 *    INT4TRAIN_ERROR_INVALID_ARGUMENT.
 *  - Packing: the row length must be even (INVALID_ARGUMENT otherwise).
 *  - GEMMs and the layer: any positive M, N, K; the library pads K to a multiple of 32, N and M to the tile
 *    internally with zero codes (zeros do not change an integer product, §9 item 8).
 *
 * Implementation notes (native/src):
 *  - The workspace is allocated stream-ordered (cudaMallocAsync/cudaFreeAsync) and grows on demand; no operator
 *    synchronises the host except int4train_block_size_search and int4train_context_synchronize/destroy.
 *  - On compute capability 9.0 with a 90a build the INT GEMM is CUTLASS SM90 wgmma (int8 IGMMA, int32 accumulate);
 *    elsewhere (or with the environment variable INT4TRAIN_FORCE_FALLBACK_GEMM=1) a portable dp4a kernel.
 *  - Row selections live in device memory, so the LSS GEMMs run over the full padded row set with the rows that
 *    are not taken zeroed (bit-identical INT32 results; the kept counts are outputs, not yet used to shrink them).
 */
#ifndef INT4TRAIN_H
#define INT4TRAIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define INT4TRAIN_API __declspec(dllexport)
#else
#define INT4TRAIN_API __attribute__((visibility("default")))
#endif

#define INT4TRAIN_VERSION_MAJOR 0
#define INT4TRAIN_VERSION_MINOR 1
#define INT4TRAIN_VERSION_PATCH 0

typedef enum int4train_status {
    INT4TRAIN_SUCCESS = 0,
    INT4TRAIN_ERROR_INVALID_ARGUMENT = 1, /* a shape, a size, a mode or a value is out of range */
    INT4TRAIN_ERROR_NULL_POINTER = 2,     /* a required pointer or handle is NULL */
    INT4TRAIN_ERROR_CUDA = 3,             /* a CUDA runtime call failed; the message has cudaGetErrorString */
    INT4TRAIN_ERROR_OUT_OF_MEMORY = 4,    /* a workspace allocation failed */
    INT4TRAIN_ERROR_NO_DEVICE = 5,        /* no CUDA device, or the device index is out of range */
    INT4TRAIN_ERROR_NOT_SUPPORTED = 6,    /* the device lacks a feature (e.g. compute capability) */
    INT4TRAIN_ERROR_INTERNAL = 7
} int4train_status;

enum { INT4TRAIN_MODE_CODE = 0, INT4TRAIN_MODE_PAPER = 1 };
enum { INT4TRAIN_SAMPLING_NONZERO = 0, INT4TRAIN_SAMPLING_BERNOULLI = 1 };
/* Element type of the activations of the typed entry points (*_typed): FP32, or BF16 (__nv_bfloat16 bits). */
enum { INT4TRAIN_DTYPE_F32 = 0, INT4TRAIN_DTYPE_BF16 = 1 };

/* A context owns a CUDA stream (or borrows one), a growable device workspace and the device it runs on. */
typedef struct int4train_context_s* int4train_context;

/* ---- library ------------------------------------------------------------------------------------------ */

/* Text of the last error on this thread ("" when none). Valid until the next failing call on this thread. */
INT4TRAIN_API const char* int4train_last_error(void);
/* MAJOR*10000 + MINOR*100 + PATCH. */
INT4TRAIN_API int int4train_version(void);
/* Number of CUDA devices (0 when there is no driver or no device: that is not an error). */
INT4TRAIN_API int4train_status int4train_device_count(int* h_count);

/* ---- context ------------------------------------------------------------------------------------------ */

/* Creates a context on `device` with its own non-blocking stream. */
INT4TRAIN_API int4train_status int4train_context_create(int device, int4train_context* h_out);
/* Creates a context on the CUDA context current on the calling thread (e.g. the one of an ILGPU CudaAccelerator,
 * which is not the device's primary context) without switching contexts; INT4TRAIN_ERROR_NO_DEVICE if none is
 * current. Every later call on such a context must be made with that CUDA context current. */
INT4TRAIN_API int4train_status int4train_context_create_current(int4train_context* h_out);
/* Frees the workspace and the owned stream (a borrowed stream is not destroyed). NULL is accepted. */
INT4TRAIN_API int4train_status int4train_context_destroy(int4train_context ctx);
/* Runs later operators on `stream` (a cudaStream_t / CUstream, e.g. ILGPU's), borrowed, not owned. NULL
 * restores the context's own stream. */
INT4TRAIN_API int4train_status int4train_context_set_stream(int4train_context ctx, void* stream);
INT4TRAIN_API int4train_status int4train_context_get_stream(int4train_context ctx, void** h_stream);
/* Waits for the stream; reports any asynchronous kernel error. Synchronous. */
INT4TRAIN_API int4train_status int4train_context_synchronize(int4train_context ctx);
/* Device name, compute capability (major*10+minor) and the current workspace size in bytes. */
INT4TRAIN_API int4train_status int4train_context_info(int4train_context ctx, char* h_name, int name_capacity,
                                                      int* h_compute_capability, size_t* h_workspace_bytes);

/* ---- Hadamard (§2.2) ------------------------------------------------------------------------------------ */

/* d_y = d_x · BlockDiag(H_G) over rows of length `cols`; in place allowed (d_y == d_x). Self-inverse. */
INT4TRAIN_API int4train_status int4train_hadamard(int4train_context ctx, const float* d_x, float* d_y,
                                                  int rows, int cols, int group);

/* ---- LSQ (§2.1, §3.6) ----------------------------------------------------------------------------------- */

/* *d_step = 2·mean|v|/√7 + 1e-10 (CanonicalSum order); without the 1e-10 when 0 < mean|v| < 2^-20 (docs/conventions.md "LSQ"). */
INT4TRAIN_API int4train_status int4train_lsq_init_step(int4train_context ctx, const float* d_v, int64_t n, float* d_step);
/* d_codes[i] = clamp(round(v[i] / *d_step), Qn, 7). */
INT4TRAIN_API int4train_status int4train_lsq_quantize(int4train_context ctx, const float* d_v, int64_t n,
                                                      const float* d_step, int mode, int8_t* d_codes);
/* d_out[i] = *d_step · codes[i]. */
INT4TRAIN_API int4train_status int4train_lsq_dequantize(int4train_context ctx, const int8_t* d_codes, int64_t n,
                                                        const float* d_step, float* d_out);
/* Straight-through backward of V̂ = s·q(V/s): d_grad_v = grad ⊙ 1[Qn ≤ v/s ≤ Qp];
 * *d_grad_step = Σ e·grad / √(n·7) (CanonicalSum order), e as in §2.1. Each term is (double)e·(double)grad
 * (exact); the result is (float)((1/sqrt(n·7.0))·sum). d_grad_v may alias d_grad. */
INT4TRAIN_API int4train_status int4train_lsq_backward(int4train_context ctx, const float* d_v, const float* d_grad,
                                                      int64_t n, const float* d_step, int mode,
                                                      float* d_grad_v, float* d_grad_step);

/* ---- INT4 packing (§2.3 step 3) --------------------------------------------------------------------------- */

INT4TRAIN_API int4train_status int4train_pack_int4(int4train_context ctx, const int8_t* d_codes, uint8_t* d_packed,
                                                   int rows, int cols);
INT4TRAIN_API int4train_status int4train_unpack_int4(int4train_context ctx, const uint8_t* d_packed, int8_t* d_codes,
                                                     int rows, int cols);

/* ---- integer GEMM (§2.3 step 4, §7.5) ---------------------------------------------------------------------- */

/* d_c[m,n] = Σ_k a[m,k]·b[n,k] in INT32 ("TN"); a: M×K, b: N×K packed INT4. Computed on INT8 tensor cores. */
INT4TRAIN_API int4train_status int4train_gemm_s4(int4train_context ctx, const uint8_t* d_a_packed,
                                                 const uint8_t* d_b_packed, int32_t* d_c, int m, int n, int k);
/* Same with unpacked int8 operands (any int8 values, e.g. the 14h+l digits of the fast bit split). */
INT4TRAIN_API int4train_status int4train_gemm_s8(int4train_context ctx, const int8_t* d_a, const int8_t* d_b,
                                                 int32_t* d_c, int m, int n, int k);

/* ---- HQ-MM forward (§2.3) ---------------------------------------------------------------------------------- */

/* Y = s_X·s_W·(q(XH/s_X) · q(WH/s_W)ᵀ) + bias. X: N×D, W: C×D, Y: N×C, bias: C or NULL.
 * Writes the packed INT4 codes of XH (N×D/2) and WH (C×D/2) for the backward (D must be even). */
INT4TRAIN_API int4train_status int4train_hq_forward(int4train_context ctx, const float* d_x, const float* d_w,
                                                    const float* d_bias, const float* d_step_x, const float* d_step_w,
                                                    int n, int c, int d, int group, int mode,
                                                    float* d_y, uint8_t* d_x_packed, uint8_t* d_w_packed);

/* int4train_hq_forward with the activations X (n × d) and Y (n × c) in the element type act_dtype
 * (INT4TRAIN_DTYPE_*; W, the bias and the step sizes stay FP32). BF16 (__nv_bfloat16, 2-byte aligned): X is widened
 * exactly to FP32 on load, so the packed codes are, bit for bit, int4train_hq_forward's on the widened X, and Y is
 * that call's FP32 Y rounded to nearest even (docs/conventions.md "BF16 activations of the INT4 layer"). */
INT4TRAIN_API int4train_status int4train_hq_forward_typed(int4train_context ctx, int act_dtype, const void* d_x,
                                                          const float* d_w, const float* d_bias,
                                                          const float* d_step_x, const float* d_step_w, int n, int c,
                                                          int d, int group, int mode, void* d_y,
                                                          uint8_t* d_x_packed, uint8_t* d_w_packed);

/* ---- Hadamard block-size search (§2.2, code criterion) ------------------------------------------------------ */

/* Synchronous. For every G in {1..1024} dividing D: score(G) = ‖X̄−X‖_F·‖W̄−W‖_F; returns the smallest
 * argmin in *h_group. h_scores (11 entries, index log2 G; NaN where G does not divide D) may be NULL.
 * Each norm is sqrt(CanonicalSum of (double)d·(double)d) with d = x̄ − x computed in FP32. */
INT4TRAIN_API int4train_status int4train_block_size_search(int4train_context ctx, const float* d_x, const float* d_w,
                                                           int n, int c, int d, int mode, int* h_group,
                                                           double* h_scores);

/* ---- bit splitting (§3.3) ------------------------------------------------------------------------------------ */

/* ∇Y (rows×cols) → high and low digits (int8, rows×cols) and d_scales[3] = {Mx, s_up, s_down}.
 * Randomness: Philox(seed, element index, stream 0). */
INT4TRAIN_API int4train_status int4train_bit_split(int4train_context ctx, const float* d_grad, int rows, int cols,
                                                   uint64_t seed, int mode, int8_t* d_high, int8_t* d_low,
                                                   float* d_scales);

/* ---- leverage scores and selection (§3.4, §3.5) ------------------------------------------------------------- */

/* Scores of the 2N stacked rows (0..N-1 high, N..2N-1 low) and the selection.
 * d_x_codes (N×D int8) and d_step_x given: ∇W scores c = s_part·‖part_i‖·s_X·‖a_i‖; both NULL: ∇X scores.
 * Writes d_prob[2N] (double), d_keep[2N] (0/1) and d_kept[2] = {kept high rows, kept low rows}.
 * Nonzero sampling: d_prob[i] = 1 for kept rows and 0 for the others.
 * Bernoulli: the water-filling's "small = Σ_{p_i<1} p_i" is the CanonicalSum over all 2N entries in index order
 * with the entries p_i ≥ 1 contributing 0.0 (not a sum over a compacted list).
 * Bernoulli randomness: Philox(seed, stacked row index, stream 1). */
INT4TRAIN_API int4train_status int4train_lss_select(int4train_context ctx, const int8_t* d_high, const int8_t* d_low,
                                                    const float* d_scales, const int8_t* d_x_codes,
                                                    const float* d_step_x, int n, int c, int d, int sampling,
                                                    uint64_t seed, double* d_prob, uint8_t* d_keep, int32_t* d_kept);

/* ---- LSS-MM (§3.4, §3.5) ---------------------------------------------------------------------------------- */

/* ∇(WH) (C×D) = s_X·Σ_kept (s_part/p_i)·part_iᵀ·a_i, from the digits (N×C), the packed X codes (N×D/2),
 * the selection of int4train_lss_select (∇W scores). Not yet LSQ-masked.
 * Kept rows with p = 1 go through one INT8 GEMM on the folded digit 14·h + l (s↓·(14G↑+G↓)); kept rows with
 * p < 1 (Bernoulli) are added in FP32 (double accumulation): 1/p on the reduction dim is not an INT GEMM. */
INT4TRAIN_API int4train_status int4train_lss_grad_weight(int4train_context ctx, const int8_t* d_high,
                                                         const int8_t* d_low, const uint8_t* d_x_packed,
                                                         const float* d_scales, const float* d_step_x,
                                                         const uint8_t* d_keep, const double* d_prob,
                                                         int n, int c, int d, float* d_grad_wh);
/* ∇(XH) (N×D): row i = s_W·(s_up·G↑_i/p↑_i + s_down·G↓_i/p↓_i) over kept parts, G = digits·Ŵ, from the packed
 * W codes (C×D/2) and the selection (∇X scores). Rows with nothing kept are exactly 0. Not yet LSQ-masked.
 * A row whose kept parts all have p = 1 is one GEMM row on the folded digit 14·h + l, s_W·(s_down·G) (the
 * reference's arithmetic too; docs/conventions.md "Leverage scores and selection", ∇X). */
INT4TRAIN_API int4train_status int4train_lss_grad_input(int4train_context ctx, const int8_t* d_high,
                                                        const int8_t* d_low, const uint8_t* d_w_packed,
                                                        const float* d_scales, const float* d_step_w,
                                                        const uint8_t* d_keep, const double* d_prob,
                                                        int n, int c, int d, float* d_grad_xh);

/* ---- the whole INT4 linear layer (§3.8) -------------------------------------------------------------------- */

/* Forward = int4train_hq_forward. Backward: from ∇Y (N×C), the layer input X and weight W (to recompute the
 * LSQ masks and residuals, conventions.md "LSQ"), and the packed codes saved by the forward, computes
 * ∇X (N×D), ∇W (C×D), *d_grad_step_x, *d_grad_step_w and ∇b (C; d_grad_bias may be NULL). No host sync.
 * Randomness: the bit split uses (seed, stream 0); BOTH selections (∇W scores and ∇X scores) use (seed, stream 1),
 * i.e. the same uniforms per stacked row. ∇b[j] = Σ_i ∇Y[i,j] accumulated in double, rounded once.
 * With Nonzero sampling the ∇X GEMM is one INT8 GEMM of N rows on the folded digits 14·h·k↑ + l·k↓.
 * accumulate = 0: ∇W, ∇b and the step gradients are written. accumulate = 1: each is added to what the buffer holds
 * (g ← g + result, one FP32 add of the finished value per element, as a model accumulating over micro-batches
 * needs); ∇X is overwritten in both modes. */
INT4TRAIN_API int4train_status int4train_linear_backward(int4train_context ctx, const float* d_grad_y,
                                                         const float* d_x, const float* d_w,
                                                         const uint8_t* d_x_packed, const uint8_t* d_w_packed,
                                                         const float* d_step_x, const float* d_step_w,
                                                         int n, int c, int d, int group, int mode, int sampling,
                                                         uint64_t seed, float* d_grad_x, float* d_grad_w,
                                                         float* d_grad_step_x, float* d_grad_step_w,
                                                         float* d_grad_bias, int accumulate);

/* int4train_linear_backward with the activations ∇Y (n × c), X (n × d) and ∇X (n × d) in the element type act_dtype
 * (INT4TRAIN_DTYPE_*; W, the step sizes and every other output stay FP32). FP32 is exactly int4train_linear_backward.
 * BF16 (__nv_bfloat16, 2-byte aligned): ∇Y and X are widened exactly to FP32 on load, so ∇W, ∇b and both step
 * gradients are, bit for bit, what int4train_linear_backward writes for the widened ∇Y and X, and ∇X is that call's
 * FP32 ∇X rounded to nearest even (docs/conventions.md "BF16 activations of the INT4 layer"). It reads half of ∇Y's
 * and X's bytes and writes half of ∇X's; it takes n × d FP32 of extra workspace for ∇(XH). */
INT4TRAIN_API int4train_status int4train_linear_backward_typed(int4train_context ctx, int act_dtype,
                                                               const void* d_grad_y, const void* d_x,
                                                               const float* d_w, const uint8_t* d_x_packed,
                                                               const uint8_t* d_w_packed, const float* d_step_x,
                                                               const float* d_step_w, int n, int c, int d, int group,
                                                               int mode, int sampling, uint64_t seed, void* d_grad_x,
                                                               float* d_grad_w, float* d_grad_step_x,
                                                               float* d_grad_step_w, float* d_grad_bias,
                                                               int accumulate);

#ifdef __cplusplus
}
#endif

#endif /* INT4TRAIN_H */
