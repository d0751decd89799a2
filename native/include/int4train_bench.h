/*
 * int4train_bench.h — benchmark entry points of libint4train_bench (issue 5). Not part of the training API:
 * libint4train_bench.so is libint4train plus these functions and the cuBLASLt baselines (it links cuBLASLt;
 * libint4train.so does not). Every int4train_* function of int4train.h is exported by it as well.
 *
 * Timing: CUDA events around each run on the context's stream; `warmup` untimed runs, then `runs` timed runs
 * rotating over `sets` independent input sets (so L2 does not hold the operands between runs); median, min,
 * p90, mean. Data: generated on the device from fixed seeds (Philox): X ~ N(0,1) with outlier channels (×8)
 * and rare spikes (×25); W ~ N(0, 0.02²) with rare ×4 outliers; ∇Y rows ~ N(0,1)·r_i with log-normal row
 * scales r_i = 1e-3·exp(1.5·z_i) (skewed row norms, no all-zero rows).
 * Before timing, each variant is checked (check_ok = 1 passed, 0 failed, -1 no check) against:
 *   gemm_s8 / gemm_s8_cfg<i> / gemm_s4: cuBLASLt INT8 (IMMA) on the same operands, exactly (mismatch count);
 *   hq_forward: Y vs s_X·s_W·(cuBLASLt INT8 product of the unpacked saved codes) + bias, relative L2 error;
 *   lss_grad_weight / lss_grad_input (Nonzero mode): vs cuBLASLt FP32 GEMMs on the dequantized digits/codes;
 *   linear_int4 (forward + backward): outputs finite and ∇X, ∇W nonzero; lt_int8/bf16/fp16, linear_bf16: none (they are
 *   the baselines); lt_fp8: vs cuBLASLt BF16 on the unquantized operands, rel L2 < 0.10; linear_fp8: Y, ∇X, ∇W vs the
 *   BF16 layer on the same BF16 inputs, rel L2 < 0.10 (Y, e4m3) and < 0.15 (∇X, ∇W: e5m2 gradients);
 *   copy_d2d: the copy equals its source.
 *
 * Operations (op), shape (m, n, k) = (tokens N, outputs C, inputs D) of a linear layer Y = X·Wᵀ:
 *   "gemm_s8"       our integer GEMM alone (int8 operands holding INT4 codes), tuned config table
 *   "gemm_s8_cfg0".."gemm_s8_cfg3"  one fixed CUTLASS configuration (see int4train_bench_gemm_configs)
 *   "gemm_s4"       int4train_gemm_s4 from packed INT4 (includes the unpack)
 *   "lt_int8"       cuBLASLt INT8 (IMMA) TN GEMM, int32 out
 *   "lt_bf16", "lt_fp16"  cuBLASLt TN GEMM, FP32 accumulate, 16-bit out
 *   "hq_forward"    int4train_hq_forward (Hadamard + quantize X and W + GEMM + dequantize)
 *   "lss_grad_weight", "lss_grad_input"  the LSS GEMMs (Nonzero sampling) from a prepared bit split and selection
 *   "linear_int4"   int4train_hq_forward + int4train_linear_backward (Nonzero), no bias
 *   "linear_bf16"   3 cuBLASLt BF16 GEMMs: Y = X·Wᵀ, ∇X = ∇Y·W, ∇W = ∇Yᵀ·X (no bias)
 *   "lt_fp8"        cuBLASLt FP8 TN GEMM, e4m3 × e4m3 with per-tensor scales, FP32 accumulate, BF16 out (cc ≥ 8.9)
 *   "linear_fp8"    FP8 linear layer, forward + backward from BF16 X, W, ∇Y with current per-tensor scaling: amax of
 *                   X, W (e4m3) and ∇Y (e5m2), casts with transposed copies, 3 cuBLASLt FP8 GEMMs, BF16 outputs;
 *                   every amax/cast pass inside the timed run (native/bench/bench_fp8.cu)
 *   "copy_d2d"      cudaMemcpyAsync device to device of an m × n FP32 buffer; ops = bytes moved (read + write)
 * ops = counted operations (2·m·n·k per GEMM; 6·m·n·k for the layers, 4·m·n·k is not used anywhere).
 */
#ifndef INT4TRAIN_BENCH_H
#define INT4TRAIN_BENCH_H

#include "int4train.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct int4train_bench_result {
    double median_ms, min_ms, p90_ms, mean_ms;
    double ops;       /* operations counted for one run (for TOPS/TFLOP/s = ops / median / 1e9) */
    int runs;         /* timed runs */
    int check_ok;     /* 1 passed, 0 failed, -1 not checked */
    double check_err; /* mismatches (integer ops) or relative L2 error (floating point) */
    char check_text[160];
} int4train_bench_result;

/* Times `op` at (m, n, k). group: Hadamard block size (the composite ops). Synchronous. */
INT4TRAIN_API int4train_status int4train_bench_run(int4train_context ctx, const char* op, int m, int n, int k, int group,
                                                   int warmup, int runs, int sets, uint64_t seed,
                                                   int4train_bench_result* h_out);

/* Per-phase breakdown (median over `runs` of each phase, one input set rotated per run) of which = "forward"
 * (HQ-MM) or "backward" (the layer backward, Nonzero). h_names gets the phase names separated by ';'
 * (capacity names_cap), h_ms the medians (capacity ms_cap), *h_count the number of phases. Synchronous. */
INT4TRAIN_API int4train_status int4train_bench_phases(int4train_context ctx, const char* which, int m, int n, int k,
                                                      int group, int runs, uint64_t seed, char* h_names, int names_cap,
                                                      double* h_ms, int ms_cap, int* h_count);

/* Captures hq_forward + linear_backward (Nonzero) on the context's stream into one CUDA graph (global capture
 * mode: any host synchronisation or illegal call in the layer fails the capture), replays it `runs` times and
 * compares the replay's outputs bitwise with an eager run. *h_captured = 1 if capture and instantiation
 * succeeded, *h_identical = 1 if the replayed outputs equal the eager ones; *h_replay_ms = median replay time.
 * h_msg (capacity msg_cap) gets the capture error, if any. Synchronous. */
INT4TRAIN_API int4train_status int4train_bench_graph(int4train_context ctx, int m, int n, int k, int group, int runs,
                                                     uint64_t seed, int* h_captured, int* h_identical,
                                                     double* h_replay_ms, char* h_msg, int msg_cap);

/* The CUTLASS SM90 configurations compiled in: ';'-separated descriptions into h_text; *h_count configurations
 * (0 without an SM90 build). Also reports which one the tuned table picks for (m, n, k) in *h_pick (-1: none). */
INT4TRAIN_API int4train_status int4train_bench_gemm_configs(int m, int n, int k, char* h_text, int cap, int* h_count,
                                                            int* h_pick);

#ifdef __cplusplus
}
#endif

#endif /* INT4TRAIN_BENCH_H */
