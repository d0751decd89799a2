// cublaslt.cuh — the cuBLASLt baselines of the benchmark (BF16, FP16, INT8 IMMA) as a row-major GEMM wrapper.
#pragma once
#include <cublasLt.h>

#include "runtime/status.cuh"

namespace i4t {
namespace bench {

// ---- cuBLASLt (row-major wrapper) --------------------------------------------------------------------------------
inline const char* lt_status(cublasStatus_t s) {
    switch (s) {
        case CUBLAS_STATUS_SUCCESS: return "success";
        case CUBLAS_STATUS_NOT_INITIALIZED: return "not initialized";
        case CUBLAS_STATUS_ALLOC_FAILED: return "alloc failed";
        case CUBLAS_STATUS_INVALID_VALUE: return "invalid value";
        case CUBLAS_STATUS_ARCH_MISMATCH: return "arch mismatch";
        case CUBLAS_STATUS_EXECUTION_FAILED: return "execution failed";
        case CUBLAS_STATUS_INTERNAL_ERROR: return "internal error";
        case CUBLAS_STATUS_NOT_SUPPORTED: return "not supported";
        default: return "other error";
    }
}
#define LT_CHECK(call)                                                                                    \
    do {                                                                                                  \
        cublasStatus_t lt_s_ = (call);                                                                    \
        if (lt_s_ != CUBLAS_STATUS_SUCCESS)                                                               \
            return fail(INT4TRAIN_ERROR_INTERNAL, "cuBLASLt: %s failed: %s", #call, lt_status(lt_s_));   \
    } while (0)

constexpr size_t kLtWorkspace = 64u << 20;

// Row-major C[M,N] = op(A)·op(B); A stored M×K (transA: K×M), B stored K×N (transB: N×K).
// Column-major view: Cᵀ (N×M) = op(B)ᵀ·op(A)ᵀ.
struct LtGemm {
    cublasLtMatmulDesc_t op = nullptr;
    cublasLtMatrixLayout_t la = nullptr, lb = nullptr, lc = nullptr;
    // The heuristic's candidates, best first; `current` is the one that last ran. cuBLASLt can refuse a candidate
    // only at cublasLtMatmul (NOT_SUPPORTED), so run() moves on to the next one (as NVIDIA's FP8 sample suggests).
    static constexpr int kCandidates = 8;
    cublasLtMatmulAlgo_t algos[kCandidates]{};
    int candidates = 0, current = 0;
    bool int_scale = false;
    ~LtGemm() {
        if (op) cublasLtMatmulDescDestroy(op);
        if (la) cublasLtMatrixLayoutDestroy(la);
        if (lb) cublasLtMatrixLayoutDestroy(lb);
        if (lc) cublasLtMatrixLayoutDestroy(lc);
    }
    int4train_status init(cublasLtHandle_t h, cudaDataType ab, cudaDataType ct, cublasComputeType_t comp,
                          cudaDataType scale, bool transA, bool transB, int M, int N, int K) {
        I4T_TRY(create(ab, ab, ct, comp, scale, transA, transB, M, N, K));
        return pick(h, M, N, K);
    }
    // The descriptor and layouts; a_type / b_type: the element types of (row-major) A and B. Attributes the
    // heuristic must see (FP8 scales, fast accumulation) go on `op` between create and pick.
    int4train_status create(cudaDataType a_type, cudaDataType b_type, cudaDataType ct, cublasComputeType_t comp,
                            cudaDataType scale, bool transA, bool transB, int M, int N, int K) {
        int_scale = scale == CUDA_R_32I;
        LT_CHECK(cublasLtMatmulDescCreate(&op, comp, scale));
        cublasOperation_t opa = transB ? CUBLAS_OP_T : CUBLAS_OP_N;  // first col-major operand = B
        cublasOperation_t opb = transA ? CUBLAS_OP_T : CUBLAS_OP_N;  // second = A
        LT_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa));
        LT_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb));
        // first operand: col-major m'×k' = N×K (op N: stored N×K, ld N) or stored K×N (op T, ld K)
        if (opa == CUBLAS_OP_N) LT_CHECK(cublasLtMatrixLayoutCreate(&la, b_type, N, K, N));
        else LT_CHECK(cublasLtMatrixLayoutCreate(&la, b_type, K, N, K));
        if (opb == CUBLAS_OP_N) LT_CHECK(cublasLtMatrixLayoutCreate(&lb, a_type, K, M, K));
        else LT_CHECK(cublasLtMatrixLayoutCreate(&lb, a_type, M, K, M));
        LT_CHECK(cublasLtMatrixLayoutCreate(&lc, ct, N, M, N));
        return INT4TRAIN_SUCCESS;
    }
    // The heuristic's first algorithm for the descriptor as it stands.
    int4train_status pick(cublasLtHandle_t h, int M, int N, int K) {
        cublasLtMatmulPreference_t pref = nullptr;
        LT_CHECK(cublasLtMatmulPreferenceCreate(&pref));
        size_t ws = kLtWorkspace;
        cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
        cublasLtMatmulHeuristicResult_t res[kCandidates]{};
        int found = 0;
        cublasStatus_t s = cublasLtMatmulAlgoGetHeuristic(h, op, la, lb, lc, lc, pref, kCandidates, res, &found);
        cublasLtMatmulPreferenceDestroy(pref);
        if (s != CUBLAS_STATUS_SUCCESS || found == 0)
            return fail(INT4TRAIN_ERROR_NOT_SUPPORTED, "cuBLASLt: no algorithm for M=%d N=%d K=%d (%s)", M, N, K,
                        lt_status(s));
        candidates = found;
        current = 0;
        for (int i = 0; i < found; ++i) algos[i] = res[i].algo;
        return INT4TRAIN_SUCCESS;
    }
    int4train_status run(cublasLtHandle_t h, const void* A, const void* B, void* C, void* ws, cudaStream_t s) {
        float fa = 1.0f, fb = 0.0f;
        int32_t ia = 1, ib = 0;
        const void* alpha = int_scale ? (const void*)&ia : (const void*)&fa;
        const void* beta = int_scale ? (const void*)&ib : (const void*)&fb;
        cublasStatus_t st = CUBLAS_STATUS_NOT_SUPPORTED;
        for (; current < candidates; ++current) {
            st = cublasLtMatmul(h, op, alpha, B, la, A, lb, beta, C, lc, C, lc, &algos[current], ws, kLtWorkspace, s);
            if (st != CUBLAS_STATUS_NOT_SUPPORTED) break;
        }
        if (st != CUBLAS_STATUS_SUCCESS)
            return fail(INT4TRAIN_ERROR_INTERNAL, "cuBLASLt: cublasLtMatmul failed: %s (%d of %d heuristic candidates "
                        "tried)", lt_status(st), current < candidates ? current + 1 : candidates, candidates);
        return INT4TRAIN_SUCCESS;
    }
};

struct Lt {
    cublasLtHandle_t h = nullptr;
    void* ws = nullptr;
    ~Lt() {
        if (h) cublasLtDestroy(h);
        if (ws) cudaFree(ws);
    }
    int4train_status init() {
        LT_CHECK(cublasLtCreate(&h));
        I4T_CUDA(cudaMalloc(&ws, kLtWorkspace));
        return INT4TRAIN_SUCCESS;
    }
};

// The BF16 linear layer baseline (op linear_bf16, and the reference of linear_fp8): Y = X·Wᵀ, ∇X = ∇Y·W,
// ∇W = ∇Yᵀ·X with row-major BF16 X [n, d], W [c, d], ∇Y [n, c], FP32 accumulation, BF16 outputs.
struct LtBf16Linear {
    LtGemm fwd, grad_x, grad_w;
    int4train_status init(cublasLtHandle_t h, int n, int c, int d) {
        I4T_TRY(fwd.init(h, CUDA_R_16BF, CUDA_R_16BF, CUBLAS_COMPUTE_32F, CUDA_R_32F, false, true, n, c, d));
        I4T_TRY(grad_x.init(h, CUDA_R_16BF, CUDA_R_16BF, CUBLAS_COMPUTE_32F, CUDA_R_32F, false, false, n, d, c));
        return grad_w.init(h, CUDA_R_16BF, CUDA_R_16BF, CUBLAS_COMPUTE_32F, CUDA_R_32F, true, false, c, d, n);
    }
    int4train_status run(const Lt& lt, const void* x, const void* w, const void* gy, void* y, void* gx, void* gw,
                         cudaStream_t s) {
        I4T_TRY(fwd.run(lt.h, x, w, y, lt.ws, s));
        I4T_TRY(grad_x.run(lt.h, gy, w, gx, lt.ws, s));
        return grad_w.run(lt.h, gy, x, gw, lt.ws, s);
    }
};

}  // namespace bench
}  // namespace i4t
