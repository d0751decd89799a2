// cublaslt_fp8.cuh — the cuBLASLt FP8 GEMM of the benchmark's FP8 baseline (ops lt_fp8, linear_fp8), on the row-major
// wrapper of cublaslt.cuh.
//
// Row-major D[M,N] = (a_scale · A[M,K]) · (b_scale · B[N,K])ᵀ with A and B FP8 and both K-major: cuBLASLt's FP8
// kernels take only the "TN" layout (its column-major first operand transposed, second not), which is this wrapper's
// transA = false, transB = true. FP32 accumulation (CUBLAS_COMPUTE_32F), D in BF16 (C = D, beta = 0).
// Scales: cuBLASLt computes D = alpha · (scale_A·A_cublas)·(scale_B·B_cublas) + ..., the A/B scale pointers being
// *dequantization* factors: pass 1/s where the FP8 operand holds fp8(s·x). The wrapper's first column-major operand
// is our B, its second our A, so CUBLASLT_MATMUL_DESC_A_SCALE_POINTER gets b_scale and B_SCALE_POINTER a_scale.
// Type pairs cuBLASLt takes (CUDA ≥ 11.8, sm_89/sm_90): e4m3×e4m3, e4m3×e5m2, e5m2×e4m3 (never e5m2×e5m2).
#pragma once
#include <cublasLt.h>

#include "cublaslt.cuh"

namespace i4t {
namespace bench {

// Each per-tensor scale the GEMM reads gets its own 256-byte slot (float index kScaleSlot · i): cuBLASLt checked the
// scale pointers at cublasLtMatmul time, not in the heuristic, and refused scales packed 4 bytes apart with
// NOT_SUPPORTED for every candidate algorithm (H200, CUDA 13, 2026-12-01); the FP8 rules ask 16-byte alignment of
// what the kernels read.
constexpr int kScaleSlot = 64;
inline float* scale_slot(float* base, int i) { return base + (int64_t)kScaleSlot * i; }

struct LtFp8Gemm {
    LtGemm g;
    // a_type, b_type: CUDA_R_8F_E4M3 or CUDA_R_8F_E5M2. fast_accum: CUBLASLT_MATMUL_DESC_FAST_ACCUM (no periodic
    // promotion of the tensor-core partial sums to FP32: what Transformer Engine and torchao use for the forward
    // GEMM, not for the gradients). The heuristic is asked with the scale pointers set (to the first set's).
    int4train_status init(cublasLtHandle_t h, cudaDataType a_type, cudaDataType b_type, cudaDataType d_type,
                          bool fast_accum, int M, int N, int K, const float* a_scale, const float* b_scale) {
        if (M % 16 || N % 16 || K % 16)
            return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT,
                        "cuBLASLt FP8: M=%d N=%d K=%d must be multiples of 16 (FP8 leading dimensions)", M, N, K);
        I4T_TRY(g.create(a_type, b_type, d_type, CUBLAS_COMPUTE_32F, CUDA_R_32F, false, true, M, N, K));
        const int8_t fast = fast_accum ? 1 : 0;
        LT_CHECK(cublasLtMatmulDescSetAttribute(g.op, CUBLASLT_MATMUL_DESC_FAST_ACCUM, &fast, sizeof fast));
        I4T_TRY(set_scales(a_scale, b_scale));
        return g.pick(h, M, N, K);
    }
    int4train_status set_scales(const float* a_scale, const float* b_scale) {
        LT_CHECK(cublasLtMatmulDescSetAttribute(g.op, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &b_scale, sizeof b_scale));
        LT_CHECK(cublasLtMatmulDescSetAttribute(g.op, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &a_scale, sizeof a_scale));
        return INT4TRAIN_SUCCESS;
    }
    // a_scale, b_scale: device floats, read by the GEMM when it runs (stream-ordered after the casts that write them).
    int4train_status run(const Lt& lt, const void* A, const void* B, void* D, const float* a_scale, const float* b_scale,
                         cudaStream_t s) {
        I4T_TRY(set_scales(a_scale, b_scale));
        return g.run(lt.h, A, B, D, lt.ws, s);
    }
};

}  // namespace bench
}  // namespace i4t
