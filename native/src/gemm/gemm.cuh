// gemm.cuh — the integer GEMM of §2.3 step 4: dispatch over padded operands (dispatch.cu) to the CUTLASS SM90
// kernels (sm90/) or the portable dp4a fallback (fallback_dp4a.cu); INT32 results are identical on every path.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <cuda_bf16.h>

#include "runtime/context.cuh"

namespace i4t {

// Integer TN GEMM on padded operands: c[m, n] = Σ_k a[m,k]·b[n,k]; k % 32 == 0, n % 4 == 0; c has ld n.
size_t gemm_padded_workspace(int4train_context ctx, int m, int n, int k);
int4train_status gemm_padded(int4train_context ctx, const int8_t* a, const int8_t* b, int32_t* c, int m, int n, int k,
                             void* ws, size_t ws_bytes);
int4train_status gemm_fallback(cudaStream_t stream, const int8_t* a, const int8_t* b, int32_t* c, int m, int n, int k);
#if defined(INT4TRAIN_HAS_SM90)
size_t gemm_sm90_workspace(int m, int n, int k, int sm_count);
// Returns cudaSuccess or an error; *msg gets CUTLASS's status text on a CUTLASS failure.
int4train_status gemm_sm90(cudaStream_t stream, const int8_t* a, const int8_t* b, int32_t* c, int m, int n, int k,
                           int sm_count, void* ws, size_t ws_bytes);
// The tuned configuration table (sm90/config_table.cu): count, descriptions, the per-shape pick, and one fixed config.
int gemm_sm90_config_count();
const char* gemm_sm90_config_name(int cfg);
int gemm_sm90_pick(int m, int n, int k, int sm_count);
size_t gemm_sm90_workspace_cfg(int cfg, int m, int n, int k, int sm_count);
int4train_status gemm_sm90_cfg(int cfg, cudaStream_t stream, const int8_t* a, const int8_t* b, int32_t* c, int m, int n,
                               int k, int sm_count, void* ws, size_t ws_bytes);
#endif

#if defined(INT4TRAIN_HAS_SM90_DQ)
size_t gemm_sm90_dq_workspace(int m, int n, int k, int sm_count);
int4train_status gemm_sm90_dq(cudaStream_t stream, const int8_t* a, const int8_t* b, const float* bias, const float* sx,
                              const float* sw, float* y, int ldy, int m, int n, int k, int sm_count, void* ws,
                              size_t ws_bytes);
#if defined(INT4TRAIN_HAS_SM90_DQ_BF16)
// The dequantizing GEMM with a BF16 y (RN_bf16 of the FP32 epilogue's value; ldy % 8 == 0, n % 8 == 0).
size_t gemm_sm90_dq_bf16_workspace(int m, int n, int k, int sm_count);
int4train_status gemm_sm90_dq_bf16(cudaStream_t stream, const int8_t* a, const int8_t* b, const float* bias,
                                   const float* sx, const float* sw, __nv_bfloat16* y, int ldy, int m, int n, int k,
                                   int sm_count, void* ws, size_t ws_bytes);
#endif
size_t gemm_sm90_lss_workspace(int m, int n, int k, int sm_count);
int4train_status gemm_sm90_lss(cudaStream_t stream, const int8_t* a, const int8_t* b, const float* s_outer,
                               const float* s_inner, float* y, int ldy, int m, int n, int k, int sm_count, void* ws,
                               size_t ws_bytes);
#endif
// The integer GEMM with hq_forward's dequantize in its epilogue: y[i, j] = (s_X·s_W)·Σ_k a[i,k]·b[j,k] + bias[j]
// (FP32, row stride ldy; bit-identical to the separate pass). Available only with the SM90 GEMM (gemm_dq_available);
// k % 32 == 0, n % 4 == 0, ldy % 4 == 0, y 16-byte aligned, bias (n floats) may be null.
bool gemm_dq_available(int4train_context ctx);
size_t gemm_padded_dq_workspace(int4train_context ctx, int m, int n, int k);
int4train_status gemm_padded_dq(int4train_context ctx, const int8_t* a, const int8_t* b, const float* bias,
                                const float* sx, const float* sw, float* y, int ldy, int m, int n, int k, void* ws,
                                size_t ws_bytes);
// The same with a BF16 y = RN_bf16 of the FP32 value (docs/conventions.md "BF16 activations of the INT4 layer"), where
// the build has that epilogue (gemm_dq_bf16_available: INT4TRAIN_HAS_SM90_DQ_BF16); n % 8 == 0, ldy % 8 == 0, y
// 16-byte aligned. gemm_padded_dq_workspace covers both output types.
bool gemm_dq_bf16_available(int4train_context ctx);
int4train_status gemm_padded_dq(int4train_context ctx, const int8_t* a, const int8_t* b, const float* bias,
                                const float* sx, const float* sw, __nv_bfloat16* y, int ldy, int m, int n, int k,
                                void* ws, size_t ws_bytes);
// The integer GEMM with the LSS GEMMs' scaling in its epilogue (docs/method.md §3.5):
// y[i, j] = float(s_outer·(s_inner·double(Σ_k a[i,k]·b[j,k]))), both products in FP64 (the reference's order).
// Available where gemm_dq_available is; the same padding and alignment rules as gemm_padded_dq.
size_t gemm_padded_lss_workspace(int4train_context ctx, int m, int n, int k);
int4train_status gemm_padded_lss(int4train_context ctx, const int8_t* a, const int8_t* b, const float* s_outer,
                                 const float* s_inner, float* y, int ldy, int m, int n, int k, void* ws,
                                 size_t ws_bytes);

}  // namespace i4t
