// dense_gemm.cu — row-major GEMMs on cuBLAS (the model's higher-precision matmuls: attention, head, baselines).
#include "nn.cuh"

namespace i4t::nn {

// cuBLAS is column-major: a row-major R×S matrix is its column-major S×R transpose. So row-major
// C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ: call cuBLAS with the operands swapped, m ↔ n, and each
// operand's own transpose flag (its stored buffer read column-major is already the transpose).
cublasStatus_t gemm(cublasHandle_t h, cublasComputeType_t compute, bool trans_a, bool trans_b, int m, int n, int k,
                    float alpha, const float* a, int lda, long long stride_a, const float* b, int ldb,
                    long long stride_b, float beta, float* c, int ldc, long long stride_c, int batch) {
    cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    if (batch == 1)
        return cublasGemmEx(h, op_b, op_a, n, m, k, &alpha, b, CUDA_R_32F, ldb, a, CUDA_R_32F, lda, &beta, c,
                            CUDA_R_32F, ldc, compute, CUBLAS_GEMM_DEFAULT);
    return cublasGemmStridedBatchedEx(h, op_b, op_a, n, m, k, &alpha, b, CUDA_R_32F, ldb, stride_b, a, CUDA_R_32F, lda,
                                      stride_a, &beta, c, CUDA_R_32F, ldc, stride_c, batch, compute,
                                      CUBLAS_GEMM_DEFAULT);
}

const char* cublas_status_text(cublasStatus_t st) {
    switch (st) {
        case CUBLAS_STATUS_SUCCESS: return "success";
        case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
        case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
        case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
        case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
        case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
        case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
        case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
        case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
        default: return "cuBLAS error";
    }
}

}  // namespace i4t::nn
