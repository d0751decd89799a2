// dense_gemm.cu — row-major GEMMs on cuBLAS (the model's higher-precision matmuls: attention, head, baselines;
// the bf16 block linears' BF16-operand GEMMs).
#include "nn.cuh"
#include "runtime/tool_marks.cuh"

namespace i4t::nn {

// cuBLAS is column-major: a row-major R×S matrix is its column-major S×R transpose. So row-major
// C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ: call cuBLAS with the operands swapped, m ↔ n, and each
// operand's own transpose flag (its stored buffer read column-major is already the transpose).
// cuBLAS's tensor-core kernels on Hopper (BF16 operands, CUBLAS_COMPUTE_32F_FAST_16BF) store C with TMA, which
// compute-sanitizer's initcheck does not track: the H200 run of the low-precision GPT tests reported every later read
// of such a C (gelu_backward of the fc GEMM's output) as uninitialized, the FP32 GPT (SIMT kernels) none. So every
// C written here is marked as the SM90 GEMMs' outputs are (runtime/tool_marks.cuh; a no-op without a tool).
static void mark_output(cublasHandle_t h, const float* c, int m, int n, int ldc, long long stride_c, int batch) {
    cudaStream_t s = nullptr;
    if (cublasGetStream(h, &s) != CUBLAS_STATUS_SUCCESS) return;
    const size_t row = sizeof(float) * (size_t)n;
    if (ldc == n && (batch == 1 || stride_c == (long long)m * n)) {  // one contiguous block
        mark_written_by_tma(c, (int64_t)batch * m, row, row, s);
        return;
    }
    for (int i = 0; i < batch; ++i) mark_written_by_tma(c + (int64_t)i * stride_c, m, row, sizeof(float) * ldc, s);
}

// A and B of one data type (FP32 or BF16); C always FP32.
static cublasStatus_t gemm_typed(cublasHandle_t h, cublasComputeType_t compute, cudaDataType_t ab, bool trans_a,
                                 bool trans_b, int m, int n, int k, float alpha, const void* a, int lda,
                                 long long stride_a, const void* b, int ldb, long long stride_b, float beta, float* c,
                                 int ldc, long long stride_c, int batch) {
    cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasStatus_t st =
        batch == 1 ? cublasGemmEx(h, op_b, op_a, n, m, k, &alpha, b, ab, ldb, a, ab, lda, &beta, c, CUDA_R_32F, ldc,
                                  compute, CUBLAS_GEMM_DEFAULT)
                   : cublasGemmStridedBatchedEx(h, op_b, op_a, n, m, k, &alpha, b, ab, ldb, stride_b, a, ab, lda,
                                                stride_a, &beta, c, CUDA_R_32F, ldc, stride_c, batch, compute,
                                                CUBLAS_GEMM_DEFAULT);
    if (st == CUBLAS_STATUS_SUCCESS) mark_output(h, c, m, n, ldc, stride_c, batch);
    return st;
}

cublasStatus_t gemm(cublasHandle_t h, cublasComputeType_t compute, bool trans_a, bool trans_b, int m, int n, int k,
                    float alpha, const float* a, int lda, long long stride_a, const float* b, int ldb,
                    long long stride_b, float beta, float* c, int ldc, long long stride_c, int batch) {
    return gemm_typed(h, compute, CUDA_R_32F, trans_a, trans_b, m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b,
                      beta, c, ldc, stride_c, batch);
}

cublasStatus_t gemm_bf16(cublasHandle_t h, bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                         const __nv_bfloat16* a, int lda, const __nv_bfloat16* b, int ldb, float beta, float* c,
                         int ldc) {
    return gemm_typed(h, CUBLAS_COMPUTE_32F, CUDA_R_16BF, trans_a, trans_b, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta,
                      c, ldc, 0, 1);
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
