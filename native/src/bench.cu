// bench.cu — benchmark entry points of libint4train_bench (include/int4train_bench.h, issue 5): timing with CUDA
// events over rotated input sets, device-generated data with outliers and skewed gradient rows, checks of every
// variant before its time is reported, cuBLASLt baselines (BF16, FP16, INT8 IMMA), per-phase breakdowns and a
// CUDA-graph capture of the whole layer.
#include "common.cuh"
#include "int4train_bench.h"

#include <cublasLt.h>

#include <algorithm>
#include <string>
#include <vector>
#include <stdio.h>
#include <string.h>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace i4t {
namespace {

// ---- device buffers --------------------------------------------------------------------------------------
struct DevMem {
    std::vector<void*> ptrs;
    bool failed = false;
    template <class T> T* get(int64_t count) {
        void* p = nullptr;
        if (cudaMalloc(&p, sizeof(T) * (size_t)(count > 0 ? count : 1)) != cudaSuccess) {
            (void)cudaGetLastError();
            failed = true;
            return nullptr;
        }
        ptrs.push_back(p);
        return static_cast<T*>(p);
    }
    ~DevMem() { for (void* p : ptrs) cudaFree(p); }
};
#define BENCH_MEM_CHECK(mem)                                                                       \
    do {                                                                                           \
        if ((mem).failed) return fail(INT4TRAIN_ERROR_OUT_OF_MEMORY, "%s: device allocation failed", __func__); \
    } while (0)

// ---- data generation (Philox, fixed seeds) -----------------------------------------------------------------
__device__ __forceinline__ float normal_at(uint64_t seed, uint64_t i, uint32_t stream) {
    PhiloxOut r = philox(seed, i, stream);
    float u1 = u01_closed(r.x0), u2 = u01(r.x1);
    return sqrtf(-2.0f * logf(u1)) * cospif(2.0f * u2);
}
// kind 0: X (outlier channels ×8 on 1 column in 64, spikes ×25 with probability 1e-3);
// kind 1: W (N(0, 0.02²), ×4 with probability 1e-3); kind 2: ∇Y (row scale 1e-3·exp(1.5·z_row)).
__global__ void gen_kernel(float* out, int rows, int cols, uint64_t seed, int kind) {
    int64_t total = (int64_t)rows * cols;
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < total; t += (int64_t)gridDim.x * blockDim.x) {
        int i = (int)(t / cols), j = (int)(t % cols);
        float v = normal_at(seed, (uint64_t)t, 10);
        float spike = u01(philox(seed, (uint64_t)t, 11).x0);
        if (kind == 0) {
            uint32_t hj = philox(seed, (uint64_t)j, 12).x0;
            if ((hj & 63u) == 0u) v *= 8.0f;
            if (spike < 1e-3f) v *= 25.0f;
        } else if (kind == 1) {
            v *= 0.02f;
            if (spike < 1e-3f) v *= 4.0f;
        } else {
            float z = normal_at(seed, (uint64_t)i, 13);
            v *= 1e-3f * expf(1.5f * z);
        }
        out[t] = v;
    }
}
__global__ void gen_codes_kernel(int8_t* out, int64_t n, uint64_t seed) {
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < n; t += (int64_t)gridDim.x * blockDim.x)
        out[t] = (int8_t)((int)(philox(seed, (uint64_t)t, 14).x0 & 15u) - 8);
}
template <class T>
__global__ void convert_kernel(const float* in, T* out, int64_t n) {
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < n; t += (int64_t)gridDim.x * blockDim.x)
        out[t] = (T)in[t];
}
__global__ void convert_bf16_kernel(const float* in, __nv_bfloat16* out, int64_t n) {
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < n; t += (int64_t)gridDim.x * blockDim.x)
        out[t] = __float2bfloat16(in[t]);
}
__global__ void convert_fp16_kernel(const float* in, __half* out, int64_t n) {
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < n; t += (int64_t)gridDim.x * blockDim.x)
        out[t] = __float2half(in[t]);
}
// out = scale · codes (scale from device memory; scale2 optional second factor)
__global__ void dequant_codes_kernel(const int8_t* q, int64_t n, const float* s, float* out) {
    float sc = *s;
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < n; t += (int64_t)gridDim.x * blockDim.x)
        out[t] = sc * (float)q[t];
}
// ĝ = s_up·high + s_down·low (scales[1], scales[2])
__global__ void dequant_digits_kernel(const int8_t* hi, const int8_t* lo, int64_t n, const float* scales, float* out) {
    float su = scales[1], sd = scales[2];
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < n; t += (int64_t)gridDim.x * blockDim.x)
        out[t] = su * (float)hi[t] + sd * (float)lo[t];
}
// y = (s_X·s_W)·P + bias, exactly as hq_forward's dequantize (explicit _rn, no contraction)
__global__ void ref_dequant_kernel(const int32_t* __restrict__ p, const float* sx, const float* sw,
                                   const float* __restrict__ bias, int n, int c, float* y) {
    float sc = __fmul_rn(*sx, *sw);
    int64_t total = (int64_t)n * c;
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < total; t += (int64_t)gridDim.x * blockDim.x) {
        int j = (int)(t % c);
        float v = __fmul_rn(sc, (float)p[t]);
        if (bias) v = __fadd_rn(v, bias[j]);
        y[t] = v;
    }
}
// ---- comparisons ---------------------------------------------------------------------------------------------
// acc[0] += Σ(a−b)², acc[1] += Σ b², acc[2] += #non-finite a, acc[3] += #(a ≠ b bitwise)
__global__ void cmp_f32_kernel(const float* a, const float* b, int64_t n, double* acc) {
    double d2 = 0, b2 = 0, nf = 0, ne = 0;
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < n; t += (int64_t)gridDim.x * blockDim.x) {
        float x = a[t], y = b[t];
        if (!isfinite(x)) nf += 1;
        if (__float_as_uint(x) != __float_as_uint(y)) ne += 1;
        double d = (double)x - (double)y;
        d2 += d * d;
        b2 += (double)y * y;
    }
    atomicAdd(&acc[0], d2);
    atomicAdd(&acc[1], b2);
    atomicAdd(&acc[2], nf);
    atomicAdd(&acc[3], ne);
}
__global__ void cmp_i32_kernel(const int32_t* a, const int32_t* b, int64_t n, double* acc) {
    double ne = 0, nz = 0;
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < n; t += (int64_t)gridDim.x * blockDim.x) {
        if (a[t] != b[t]) ne += 1;
        if (b[t] != 0) nz += 1;
    }
    atomicAdd(&acc[0], ne);
    atomicAdd(&acc[1], nz);
}

struct Cmp { double rel = 0, nonfinite = 0, diffbits = 0, refnorm = 0; };
int4train_status compare_f32(cudaStream_t s, const float* a, const float* b, int64_t n, double* dacc, Cmp* out) {
    I4T_CUDA(cudaMemsetAsync(dacc, 0, 4 * sizeof(double), s));
    cmp_f32_kernel<<<grid_for(n, 256, 4096), 256, 0, s>>>(a, b, n, dacc);
    I4T_LAUNCH("cmp_f32_kernel");
    double h[4];
    I4T_CUDA(cudaMemcpyAsync(h, dacc, sizeof h, cudaMemcpyDeviceToHost, s));
    I4T_CUDA(cudaStreamSynchronize(s));
    out->rel = h[1] > 0 ? sqrt(h[0] / h[1]) : sqrt(h[0]);
    out->refnorm = sqrt(h[1]);
    out->nonfinite = h[2];
    out->diffbits = h[3];
    return INT4TRAIN_SUCCESS;
}
int4train_status compare_i32(cudaStream_t s, const int32_t* a, const int32_t* b, int64_t n, double* dacc,
                             double* mismatches, double* nonzero) {
    I4T_CUDA(cudaMemsetAsync(dacc, 0, 2 * sizeof(double), s));
    cmp_i32_kernel<<<grid_for(n, 256, 4096), 256, 0, s>>>(a, b, n, dacc);
    I4T_LAUNCH("cmp_i32_kernel");
    double h[2];
    I4T_CUDA(cudaMemcpyAsync(h, dacc, sizeof h, cudaMemcpyDeviceToHost, s));
    I4T_CUDA(cudaStreamSynchronize(s));
    *mismatches = h[0];
    *nonzero = h[1];
    return INT4TRAIN_SUCCESS;
}

// ---- cuBLASLt (row-major wrapper) --------------------------------------------------------------------------------
const char* lt_status(cublasStatus_t s) {
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
    cublasLtMatmulAlgo_t algo{};
    bool int_scale = false;
    ~LtGemm() {
        if (op) cublasLtMatmulDescDestroy(op);
        if (la) cublasLtMatrixLayoutDestroy(la);
        if (lb) cublasLtMatrixLayoutDestroy(lb);
        if (lc) cublasLtMatrixLayoutDestroy(lc);
    }
    int4train_status init(cublasLtHandle_t h, cudaDataType ab, cudaDataType ct, cublasComputeType_t comp,
                          cudaDataType scale, bool transA, bool transB, int M, int N, int K) {
        int_scale = scale == CUDA_R_32I;
        LT_CHECK(cublasLtMatmulDescCreate(&op, comp, scale));
        cublasOperation_t opa = transB ? CUBLAS_OP_T : CUBLAS_OP_N;  // first col-major operand = B
        cublasOperation_t opb = transA ? CUBLAS_OP_T : CUBLAS_OP_N;  // second = A
        LT_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa));
        LT_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb));
        // first operand: col-major m'×k' = N×K (op N: stored N×K, ld N) or stored K×N (op T, ld K)
        if (opa == CUBLAS_OP_N) LT_CHECK(cublasLtMatrixLayoutCreate(&la, ab, N, K, N));
        else LT_CHECK(cublasLtMatrixLayoutCreate(&la, ab, K, N, K));
        if (opb == CUBLAS_OP_N) LT_CHECK(cublasLtMatrixLayoutCreate(&lb, ab, K, M, K));
        else LT_CHECK(cublasLtMatrixLayoutCreate(&lb, ab, M, K, M));
        LT_CHECK(cublasLtMatrixLayoutCreate(&lc, ct, N, M, N));
        cublasLtMatmulPreference_t pref = nullptr;
        LT_CHECK(cublasLtMatmulPreferenceCreate(&pref));
        size_t ws = kLtWorkspace;
        cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
        cublasLtMatmulHeuristicResult_t res{};
        int found = 0;
        cublasStatus_t s = cublasLtMatmulAlgoGetHeuristic(h, op, la, lb, lc, lc, pref, 1, &res, &found);
        cublasLtMatmulPreferenceDestroy(pref);
        if (s != CUBLAS_STATUS_SUCCESS || found == 0)
            return fail(INT4TRAIN_ERROR_NOT_SUPPORTED, "cuBLASLt: no algorithm for M=%d N=%d K=%d (%s)", M, N, K,
                        lt_status(s));
        algo = res.algo;
        return INT4TRAIN_SUCCESS;
    }
    int4train_status run(cublasLtHandle_t h, const void* A, const void* B, void* C, void* ws, cudaStream_t s) {
        float fa = 1.0f, fb = 0.0f;
        int32_t ia = 1, ib = 0;
        const void* alpha = int_scale ? (const void*)&ia : (const void*)&fa;
        const void* beta = int_scale ? (const void*)&ib : (const void*)&fb;
        LT_CHECK(cublasLtMatmul(h, op, alpha, B, la, A, lb, beta, C, lc, C, lc, &algo, ws, kLtWorkspace, s));
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

// ---- timing ----------------------------------------------------------------------------------------------------
struct Stats { double median = 0, min = 0, p90 = 0, mean = 0; int runs = 0; };
Stats summarize(std::vector<float> v) {
    Stats st;
    if (v.empty()) return st;
    std::sort(v.begin(), v.end());
    st.runs = (int)v.size();
    st.min = v.front();
    st.median = v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
    st.p90 = v[std::min(v.size() - 1, (size_t)(0.9 * (double)v.size()))];
    double s = 0;
    for (float x : v) s += x;
    st.mean = s / (double)v.size();
    return st;
}

// f(set) enqueues one run on `s`. warmup untimed runs, then `runs` timed ones, set = run % sets.
template <class F>
int4train_status time_runs(cudaStream_t s, int warmup, int runs, int sets, F&& f, Stats* out) {
    for (int r = 0; r < warmup; ++r) I4T_TRY(f(r % sets));
    std::vector<cudaEvent_t> ev(2 * (size_t)runs);
    for (auto& e : ev) I4T_CUDA(cudaEventCreate(&e));
    int4train_status st = INT4TRAIN_SUCCESS;
    for (int r = 0; r < runs && st == INT4TRAIN_SUCCESS; ++r) {
        cudaEventRecord(ev[2 * r], s);
        st = f(r % sets);
        cudaEventRecord(ev[2 * r + 1], s);
    }
    cudaError_t e = cudaStreamSynchronize(s);
    std::vector<float> ms;
    if (st == INT4TRAIN_SUCCESS && e == cudaSuccess)
        for (int r = 0; r < runs; ++r) {
            float t = 0;
            cudaEventElapsedTime(&t, ev[2 * r], ev[2 * r + 1]);
            ms.push_back(t);
        }
    for (auto& x : ev) cudaEventDestroy(x);
    I4T_TRY(st);
    I4T_CUDA(e);
    *out = summarize(ms);
    return INT4TRAIN_SUCCESS;
}

void set_text(int4train_bench_result* r, const char* fmt, double a = 0, double b = 0) {
    snprintf(r->check_text, sizeof r->check_text, fmt, a, b);
}

// ---- the layer's inputs --------------------------------------------------------------------------------------------
struct LayerData {
    int sets = 0;
    std::vector<float*> x, w, gy, sx, sw;
};
int4train_status make_layer_data(int4train_context ctx, DevMem& mem, int n, int c, int d, int group, int sets,
                                 uint64_t seed, bool need_gy, LayerData* L) {
    L->sets = sets;
    float* tmp = mem.get<float>(std::max((int64_t)n * d, (int64_t)c * d));
    BENCH_MEM_CHECK(mem);
    for (int s = 0; s < sets; ++s) {
        float* x = mem.get<float>((int64_t)n * d);
        float* w = mem.get<float>((int64_t)c * d);
        float* gy = need_gy ? mem.get<float>((int64_t)n * c) : nullptr;
        float* st = mem.get<float>(2);
        BENCH_MEM_CHECK(mem);
        uint64_t sd = seed * 1000003ull + (uint64_t)s * 7919ull;
        gen_kernel<<<grid_for((int64_t)n * d), 256, 0, ctx->stream>>>(x, n, d, sd, 0);
        gen_kernel<<<grid_for((int64_t)c * d), 256, 0, ctx->stream>>>(w, c, d, sd + 1, 1);
        if (gy) gen_kernel<<<grid_for((int64_t)n * c), 256, 0, ctx->stream>>>(gy, n, c, sd + 2, 2);
        I4T_LAUNCH("gen_kernel");
        // LSQ steps from the Hadamard-transformed tensors (§2.1 init)
        I4T_TRY((int4train_status)int4train_hadamard(ctx, x, tmp, n, d, group));
        I4T_TRY((int4train_status)int4train_lsq_init_step(ctx, tmp, (int64_t)n * d, st));
        I4T_TRY((int4train_status)int4train_hadamard(ctx, w, tmp, c, d, group));
        I4T_TRY((int4train_status)int4train_lsq_init_step(ctx, tmp, (int64_t)c * d, st + 1));
        L->x.push_back(x);
        L->w.push_back(w);
        L->gy.push_back(gy);
        L->sx.push_back(st);
        L->sw.push_back(st + 1);
    }
    I4T_CUDA(cudaStreamSynchronize(ctx->stream));
    return INT4TRAIN_SUCCESS;
}

bool is_op(const char* a, const char* b) { return strcmp(a, b) == 0; }

// ---- integer GEMMs and cuBLASLt GEMM baselines --------------------------------------------------------------------
int4train_status bench_gemm(int4train_context ctx, const char* op, int m, int n, int k, int warmup, int runs, int sets,
                            uint64_t seed, int4train_bench_result* r) {
    cudaStream_t s = ctx->stream;
    DevMem mem;
    Lt lt;
    I4T_TRY(lt.init());
    const bool s8 = strncmp(op, "gemm_s8", 7) == 0, s4 = is_op(op, "gemm_s4"), i8 = is_op(op, "lt_int8");
    const bool bf = is_op(op, "lt_bf16"), fp = is_op(op, "lt_fp16");
    if (!(s8 || s4 || i8 || bf || fp)) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "bench: unknown op '%s'", op);
    int cfg = -1;
    if (strncmp(op, "gemm_s8_cfg", 11) == 0) {
        cfg = atoi(op + 11);
#if defined(INT4TRAIN_HAS_SM90)
        if (ctx->cc != 90 || cfg < 0 || cfg >= gemm_sm90_config_count())
            return fail(INT4TRAIN_ERROR_NOT_SUPPORTED, "bench: %s not available (cc %d)", op, ctx->cc);
        if (k % 32 || n % 4) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "bench: %s needs k %% 32 == 0, n %% 4 == 0", op);
#else
        return fail(INT4TRAIN_ERROR_NOT_SUPPORTED, "bench: %s needs the SM90 build (cfg %d)", op, cfg);
#endif
    }
    r->ops = 2.0 * m * (double)n * k;
    std::vector<int8_t*> A, B;
    std::vector<uint8_t*> Ap, Bp;
    std::vector<void*> A16, B16;
    for (int i = 0; i < sets; ++i) {
        int8_t* a = mem.get<int8_t>((int64_t)m * k);
        int8_t* b = mem.get<int8_t>((int64_t)n * k);
        BENCH_MEM_CHECK(mem);
        gen_codes_kernel<<<grid_for((int64_t)m * k), 256, 0, s>>>(a, (int64_t)m * k, seed + 17 * i);
        gen_codes_kernel<<<grid_for((int64_t)n * k), 256, 0, s>>>(b, (int64_t)n * k, seed + 17 * i + 5);
        I4T_LAUNCH("gen_codes_kernel");
        A.push_back(a);
        B.push_back(b);
        if (s4) {
            uint8_t* ap = mem.get<uint8_t>((int64_t)m * k / 2);
            uint8_t* bp = mem.get<uint8_t>((int64_t)n * k / 2);
            BENCH_MEM_CHECK(mem);
            I4T_TRY(int4train_pack_int4(ctx, a, ap, m, k));
            I4T_TRY(int4train_pack_int4(ctx, b, bp, n, k));
            Ap.push_back(ap);
            Bp.push_back(bp);
        }
        if (bf || fp) {
            // 16-bit operands: random normal data (the baselines' usual input), not the codes
            float* tmp = mem.get<float>(std::max((int64_t)m, (int64_t)n) * k);
            void* a16 = mem.get<uint16_t>((int64_t)m * k);
            void* b16 = mem.get<uint16_t>((int64_t)n * k);
            BENCH_MEM_CHECK(mem);
            gen_kernel<<<grid_for((int64_t)m * k), 256, 0, s>>>(tmp, m, k, seed + 31 * i, 0);
            if (bf) convert_bf16_kernel<<<grid_for((int64_t)m * k), 256, 0, s>>>(tmp, (__nv_bfloat16*)a16, (int64_t)m * k);
            else convert_fp16_kernel<<<grid_for((int64_t)m * k), 256, 0, s>>>(tmp, (__half*)a16, (int64_t)m * k);
            gen_kernel<<<grid_for((int64_t)n * k), 256, 0, s>>>(tmp, n, k, seed + 31 * i + 3, 1);
            if (bf) convert_bf16_kernel<<<grid_for((int64_t)n * k), 256, 0, s>>>(tmp, (__nv_bfloat16*)b16, (int64_t)n * k);
            else convert_fp16_kernel<<<grid_for((int64_t)n * k), 256, 0, s>>>(tmp, (__half*)b16, (int64_t)n * k);
            I4T_LAUNCH("convert");
            A16.push_back(a16);
            B16.push_back(b16);
        }
    }
    int32_t* C = mem.get<int32_t>((int64_t)m * n);
    int32_t* Cref = mem.get<int32_t>((int64_t)m * n);
    void* C16 = (bf || fp) ? mem.get<uint16_t>((int64_t)m * n) : nullptr;
    double* acc = mem.get<double>(8);
    BENCH_MEM_CHECK(mem);

    LtGemm li8;
    I4T_TRY(li8.init(lt.h, CUDA_R_8I, CUDA_R_32I, CUBLAS_COMPUTE_32I, CUDA_R_32I, false, true, m, n, k));
    LtGemm l16;
    if (bf) I4T_TRY(l16.init(lt.h, CUDA_R_16BF, CUDA_R_16BF, CUBLAS_COMPUTE_32F, CUDA_R_32F, false, true, m, n, k));
    if (fp) I4T_TRY(l16.init(lt.h, CUDA_R_16F, CUDA_R_16F, CUBLAS_COMPUTE_32F, CUDA_R_32F, false, true, m, n, k));

    // workspace for a fixed configuration
#if defined(INT4TRAIN_HAS_SM90)
    char* cws = nullptr;
    size_t cws_bytes = 0;
    if (cfg >= 0) {
        cws_bytes = gemm_sm90_workspace_cfg(cfg, m, n, k, ctx->sm_count) + 256;
        cws = mem.get<char>((int64_t)cws_bytes);
        BENCH_MEM_CHECK(mem);
    }
#endif
    auto run = [&](int i) -> int4train_status {
        if (i8) return li8.run(lt.h, A[i], B[i], C, lt.ws, s);
        if (bf || fp) return l16.run(lt.h, A16[i], B16[i], C16, lt.ws, s);
        if (s4) return int4train_gemm_s4(ctx, Ap[i], Bp[i], C, m, n, k);
#if defined(INT4TRAIN_HAS_SM90)
        if (cfg >= 0) return gemm_sm90_cfg(cfg, s, A[i], B[i], C, m, n, k, ctx->sm_count, cws, cws_bytes);
#endif
        return int4train_gemm_s8(ctx, A[i], B[i], C, m, n, k);
    };
    // check (integer variants): exact equality with cuBLASLt INT8 on set 0
    if (s8 || s4 || i8) {
        I4T_CUDA(cudaMemsetAsync(C, 0x7f, sizeof(int32_t) * (size_t)m * n, s));
        I4T_TRY(run(0));
        I4T_TRY(li8.run(lt.h, A[0], B[0], Cref, lt.ws, s));
        double mism = 0, nz = 0;
        I4T_TRY(compare_i32(s, C, Cref, (int64_t)m * n, acc, &mism, &nz));
        r->check_err = mism;
        r->check_ok = (mism == 0 && nz > 0) ? 1 : 0;
        if (i8) set_text(r, "cuBLASLt INT8 reference itself (%.0f nonzero outputs)", nz);
        else set_text(r, "vs cuBLASLt INT8: %.0f mismatching int32 outputs (%.0f nonzero)", mism, nz);
    } else {
        r->check_ok = -1;
        set_text(r, "baseline (no check)");
    }
    Stats st;
    I4T_TRY(time_runs(s, warmup, runs, sets, run, &st));
    r->median_ms = st.median; r->min_ms = st.min; r->p90_ms = st.p90; r->mean_ms = st.mean; r->runs = st.runs;
    return INT4TRAIN_SUCCESS;
}

// ---- composite operators ---------------------------------------------------------------------------------------
// Prepared backward inputs of one set: bit split + both selections (Nonzero sampling) + unpacked codes.
struct BwdPrep {
    int8_t *high, *low;
    float* scales;
    double *prob_w, *prob_x;
    uint8_t *keep_w, *keep_x;
    int32_t *kept_w, *kept_x;
    uint8_t *xp, *wp;
};

int4train_status bench_composite(int4train_context ctx, const char* op, int n, int c, int d, int group, int warmup,
                                 int runs, int sets, uint64_t seed, int4train_bench_result* r) {
    cudaStream_t s = ctx->stream;
    const bool hq = is_op(op, "hq_forward"), gw = is_op(op, "lss_grad_weight"), gx = is_op(op, "lss_grad_input");
    const bool li = is_op(op, "linear_int4"), lb = is_op(op, "linear_bf16");
    if (!(hq || gw || gx || li || lb)) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "bench: unknown op '%s'", op);
    if (d % 2) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "bench: d must be even");
    DevMem mem;
    Lt lt;
    I4T_TRY(lt.init());
    LayerData L;
    I4T_TRY(make_layer_data(ctx, mem, n, c, d, group, sets, seed, !hq, &L));
    const int64_t nc = (int64_t)n * c, nd = (int64_t)n * d, cd = (int64_t)c * d;
    float* y = mem.get<float>(nc);
    float* yref = mem.get<float>(std::max(nc, std::max(nd, cd)));
    float* gxo = mem.get<float>(nd);
    float* gwo = mem.get<float>(cd);
    float* gst = mem.get<float>(2);
    double* acc = mem.get<double>(8);
    BENCH_MEM_CHECK(mem);
    std::vector<uint8_t*> XP, WP;
    for (int i = 0; i < sets; ++i) {
        XP.push_back(mem.get<uint8_t>(nd / 2));
        WP.push_back(mem.get<uint8_t>(cd / 2));
    }
    BENCH_MEM_CHECK(mem);
    // forward of every set: the packed codes the backward ops need
    if (!lb)
        for (int i = 0; i < sets; ++i)
            I4T_TRY(int4train_hq_forward(ctx, L.x[i], L.w[i], nullptr, L.sx[i], L.sw[i], n, c, d, group, 0, y, XP[i], WP[i]));
    r->ops = (li || lb ? 6.0 : 2.0) * n * (double)c * d;
    r->check_ok = -1;
    set_text(r, "no check");

    if (hq) {
        // Y vs s_X·s_W·(cuBLASLt INT8 product of the saved codes)
        int8_t* xq = mem.get<int8_t>(nd);
        int8_t* wq = mem.get<int8_t>(cd);
        int32_t* p = mem.get<int32_t>(nc);
        BENCH_MEM_CHECK(mem);
        I4T_CUDA(cudaMemsetAsync(y, 0xff, sizeof(float) * nc, s));
        I4T_TRY(int4train_hq_forward(ctx, L.x[0], L.w[0], nullptr, L.sx[0], L.sw[0], n, c, d, group, 0, y, XP[0], WP[0]));
        I4T_TRY(int4train_unpack_int4(ctx, XP[0], xq, n, d));
        I4T_TRY(int4train_unpack_int4(ctx, WP[0], wq, c, d));
        if (d % 4 == 0) {
            LtGemm g;
            I4T_TRY(g.init(lt.h, CUDA_R_8I, CUDA_R_32I, CUBLAS_COMPUTE_32I, CUDA_R_32I, false, true, n, c, d));
            I4T_TRY(g.run(lt.h, xq, wq, p, lt.ws, s));
        } else {
            I4T_TRY(int4train_gemm_s8(ctx, xq, wq, p, n, c, d));
        }
        ref_dequant_kernel<<<grid_for(nc), 256, 0, s>>>(p, L.sx[0], L.sw[0], nullptr, n, c, yref);
        I4T_LAUNCH("ref_dequant_kernel");
        Cmp cm;
        I4T_TRY(compare_f32(s, y, yref, nc, acc, &cm));
        r->check_err = cm.rel;
        r->check_ok = (cm.rel <= 2e-6 && cm.nonfinite == 0 && cm.refnorm > 0) ? 1 : 0;
        set_text(r, "Y vs s_X*s_W*(cuBLASLt INT8 on the saved codes): rel L2 %.3g, %.0f bits differ", cm.rel, cm.diffbits);
        Stats st;
        I4T_TRY(time_runs(s, warmup, runs, sets, [&](int i) {
            return (int4train_status)int4train_hq_forward(ctx, L.x[i], L.w[i], nullptr, L.sx[i], L.sw[i], n, c, d, group,
                                                          0, y, XP[i], WP[i]);
        }, &st));
        r->median_ms = st.median; r->min_ms = st.min; r->p90_ms = st.p90; r->mean_ms = st.mean; r->runs = st.runs;
        return INT4TRAIN_SUCCESS;
    }

    if (gw || gx) {
        std::vector<BwdPrep> P(sets);
        for (int i = 0; i < sets; ++i) {
            BwdPrep& b = P[i];
            b.high = mem.get<int8_t>(nc); b.low = mem.get<int8_t>(nc); b.scales = mem.get<float>(3);
            b.prob_w = mem.get<double>(2 * (int64_t)n); b.prob_x = mem.get<double>(2 * (int64_t)n);
            b.keep_w = mem.get<uint8_t>(2 * (int64_t)n); b.keep_x = mem.get<uint8_t>(2 * (int64_t)n);
            b.kept_w = mem.get<int32_t>(2); b.kept_x = mem.get<int32_t>(2);
            int8_t* xq = mem.get<int8_t>(nd);
            BENCH_MEM_CHECK(mem);
            b.xp = XP[i]; b.wp = WP[i];
            I4T_TRY(int4train_bit_split(ctx, L.gy[i], n, c, seed + i, 0, b.high, b.low, b.scales));
            I4T_TRY(int4train_unpack_int4(ctx, XP[i], xq, n, d));
            I4T_TRY(int4train_lss_select(ctx, b.high, b.low, b.scales, xq, L.sx[i], n, c, d, 0, seed + i, b.prob_w, b.keep_w, b.kept_w));
            I4T_TRY(int4train_lss_select(ctx, b.high, b.low, b.scales, nullptr, nullptr, n, c, d, 0, seed + i, b.prob_x, b.keep_x, b.kept_x));
        }
        auto run = [&](int i) -> int4train_status {
            BwdPrep& b = P[i];
            if (gw) return int4train_lss_grad_weight(ctx, b.high, b.low, b.xp, b.scales, L.sx[i], b.keep_w, b.prob_w, n, c, d, gwo);
            return int4train_lss_grad_input(ctx, b.high, b.low, b.wp, b.scales, L.sw[i], b.keep_x, b.prob_x, n, c, d, gxo);
        };
        // check (Nonzero: every row with a nonzero score is kept with p = 1, the others are zero): cuBLASLt FP32
        // GEMM on the dequantized digits ĝ = s↑·h + s↓·l and codes
        float* ghat = mem.get<float>(nc);
        int8_t* q = mem.get<int8_t>(gw ? nd : cd);
        float* qf = mem.get<float>(gw ? nd : cd);
        BENCH_MEM_CHECK(mem);
        float* out = gw ? gwo : gxo;
        const int64_t on = gw ? cd : nd;
        I4T_CUDA(cudaMemsetAsync(out, 0xff, sizeof(float) * on, s));
        I4T_TRY(run(0));
        dequant_digits_kernel<<<grid_for(nc), 256, 0, s>>>(P[0].high, P[0].low, nc, P[0].scales, ghat);
        I4T_LAUNCH("dequant_digits_kernel");
        LtGemm g;
        if (gw) {
            // ∇(WH)[C,D] = ĝᵀ[C,N]·(s_X·X codes)[N,D]
            I4T_TRY(int4train_unpack_int4(ctx, XP[0], q, n, d));
            dequant_codes_kernel<<<grid_for(nd), 256, 0, s>>>(q, nd, L.sx[0], qf);
            I4T_LAUNCH("dequant_codes_kernel");
            I4T_TRY(g.init(lt.h, CUDA_R_32F, CUDA_R_32F, CUBLAS_COMPUTE_32F, CUDA_R_32F, true, false, c, d, n));
            I4T_TRY(g.run(lt.h, ghat, qf, yref, lt.ws, s));
        } else {
            // ∇(XH)[N,D] = ĝ[N,C]·(s_W·W codes)[C,D]
            I4T_TRY(int4train_unpack_int4(ctx, WP[0], q, c, d));
            dequant_codes_kernel<<<grid_for(cd), 256, 0, s>>>(q, cd, L.sw[0], qf);
            I4T_LAUNCH("dequant_codes_kernel");
            I4T_TRY(g.init(lt.h, CUDA_R_32F, CUDA_R_32F, CUBLAS_COMPUTE_32F, CUDA_R_32F, false, false, n, d, c));
            I4T_TRY(g.run(lt.h, ghat, qf, yref, lt.ws, s));
        }
        Cmp cm;
        I4T_TRY(compare_f32(s, out, yref, on, acc, &cm));
        r->check_err = cm.rel;
        r->check_ok = (cm.rel <= 1e-5 && cm.nonfinite == 0 && cm.refnorm > 0) ? 1 : 0;
        set_text(r, "vs cuBLASLt FP32 GEMM on dequantized digits and codes: rel L2 %.3g (%.0f bits differ)", cm.rel, cm.diffbits);
        Stats st;
        I4T_TRY(time_runs(s, warmup, runs, sets, run, &st));
        r->median_ms = st.median; r->min_ms = st.min; r->p90_ms = st.p90; r->mean_ms = st.mean; r->runs = st.runs;
        return INT4TRAIN_SUCCESS;
    }

    if (li) {
        auto run = [&](int i) -> int4train_status {
            I4T_TRY(int4train_hq_forward(ctx, L.x[i], L.w[i], nullptr, L.sx[i], L.sw[i], n, c, d, group, 0, y, XP[i], WP[i]));
            return int4train_linear_backward(ctx, L.gy[i], L.x[i], L.w[i], XP[i], WP[i], L.sx[i], L.sw[i], n, c, d, group, 0,
                                             0, seed + i, gxo, gwo, gst, gst + 1, nullptr);
        };
        I4T_CUDA(cudaMemsetAsync(gxo, 0xff, sizeof(float) * nd, s));
        I4T_CUDA(cudaMemsetAsync(gwo, 0xff, sizeof(float) * cd, s));
        I4T_TRY(run(0));
        Cmp a, b;
        I4T_CUDA(cudaMemsetAsync(yref, 0, sizeof(float) * std::max(nd, cd), s));
        I4T_TRY(compare_f32(s, gxo, yref, nd, acc, &a));  // "error" vs zeros = 1 and rel = ‖∇X‖ / 0 → use the norms
        I4T_TRY(compare_f32(s, gwo, yref, cd, acc, &b));
        float hst[2];
        I4T_CUDA(cudaMemcpy(hst, gst, sizeof hst, cudaMemcpyDeviceToHost));
        const bool ok = a.nonfinite == 0 && b.nonfinite == 0 && a.rel > 0 && b.rel > 0 && isfinite(hst[0]) && isfinite(hst[1]);
        r->check_ok = ok ? 1 : 0;
        r->check_err = a.nonfinite + b.nonfinite;
        snprintf(r->check_text, sizeof r->check_text, "outputs finite and nonzero: |dX| %.3g, |dW| %.3g, dsX %.3g, dsW %.3g",
                 a.rel, b.rel, (double)hst[0], (double)hst[1]);
        Stats st;
        I4T_TRY(time_runs(s, warmup, runs, sets, run, &st));
        r->median_ms = st.median; r->min_ms = st.min; r->p90_ms = st.p90; r->mean_ms = st.mean; r->runs = st.runs;
        return INT4TRAIN_SUCCESS;
    }

    // linear_bf16: Y = X·Wᵀ, ∇X = ∇Y·W, ∇W = ∇Yᵀ·X with BF16 operands, FP32 accumulation, BF16 outputs
    std::vector<__nv_bfloat16*> X16, W16, G16;
    for (int i = 0; i < sets; ++i) {
        X16.push_back(mem.get<__nv_bfloat16>(nd));
        W16.push_back(mem.get<__nv_bfloat16>(cd));
        G16.push_back(mem.get<__nv_bfloat16>(nc));
        BENCH_MEM_CHECK(mem);
        convert_bf16_kernel<<<grid_for(nd), 256, 0, s>>>(L.x[i], X16[i], nd);
        convert_bf16_kernel<<<grid_for(cd), 256, 0, s>>>(L.w[i], W16[i], cd);
        convert_bf16_kernel<<<grid_for(nc), 256, 0, s>>>(L.gy[i], G16[i], nc);
        I4T_LAUNCH("convert_bf16_kernel");
    }
    __nv_bfloat16* Y16 = mem.get<__nv_bfloat16>(nc);
    __nv_bfloat16* GX16 = mem.get<__nv_bfloat16>(nd);
    __nv_bfloat16* GW16 = mem.get<__nv_bfloat16>(cd);
    BENCH_MEM_CHECK(mem);
    LtGemm f, bx, bw;
    I4T_TRY(f.init(lt.h, CUDA_R_16BF, CUDA_R_16BF, CUBLAS_COMPUTE_32F, CUDA_R_32F, false, true, n, c, d));
    I4T_TRY(bx.init(lt.h, CUDA_R_16BF, CUDA_R_16BF, CUBLAS_COMPUTE_32F, CUDA_R_32F, false, false, n, d, c));
    I4T_TRY(bw.init(lt.h, CUDA_R_16BF, CUDA_R_16BF, CUBLAS_COMPUTE_32F, CUDA_R_32F, true, false, c, d, n));
    Stats st;
    I4T_TRY(time_runs(s, warmup, runs, sets, [&](int i) -> int4train_status {
        I4T_TRY(f.run(lt.h, X16[i], W16[i], Y16, lt.ws, s));
        I4T_TRY(bx.run(lt.h, G16[i], W16[i], GX16, lt.ws, s));
        return bw.run(lt.h, G16[i], X16[i], GW16, lt.ws, s);
    }, &st));
    r->median_ms = st.median; r->min_ms = st.min; r->p90_ms = st.p90; r->mean_ms = st.mean; r->runs = st.runs;
    set_text(r, "baseline (no check)");
    return INT4TRAIN_SUCCESS;
}

// ---- per-phase breakdowns -------------------------------------------------------------------------------------------
struct PhaseTimer {
    cudaStream_t s;
    std::vector<std::string> names;
    std::vector<std::vector<float>> ms;
    std::vector<cudaEvent_t> ev;
    size_t k = 0;
    bool recording = false;
    void begin() { k = 0; mark(); }
    void mark() {
        if (!recording) return;
        cudaEvent_t e;
        cudaEventCreate(&e);
        cudaEventRecord(e, s);
        ev.push_back(e);
    }
    void phase(const char* name) {
        if (!recording) return;
        if (names.size() <= k) names.push_back(name);
        mark();
        ++k;
    }
    int4train_status collect(size_t nphases) {
        I4T_CUDA(cudaStreamSynchronize(s));
        ms.assign(nphases, {});
        size_t per = nphases + 1;
        for (size_t r = 0; r + per <= ev.size(); r += per)
            for (size_t p = 0; p < nphases; ++p) {
                float t = 0;
                cudaEventElapsedTime(&t, ev[r + p], ev[r + p + 1]);
                ms[p].push_back(t);
            }
        for (auto e : ev) cudaEventDestroy(e);
        ev.clear();
        return INT4TRAIN_SUCCESS;
    }
};

}  // namespace
}  // namespace i4t

using namespace i4t;

extern "C" {

INT4TRAIN_API int4train_status int4train_bench_run(int4train_context ctx, const char* op, int m, int n, int k, int group,
                                                   int warmup, int runs, int sets, uint64_t seed,
                                                   int4train_bench_result* h_out) {
    I4T_TRY(enter(ctx));
    I4T_NOTNULL(op);
    I4T_NOTNULL(h_out);
    memset(h_out, 0, sizeof *h_out);
    if (m <= 0 || n <= 0 || k <= 0 || runs < 1 || sets < 1 || warmup < 0)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "bench: bad arguments");
    int4train_status st;
    if (strncmp(op, "gemm_", 5) == 0 || strncmp(op, "lt_", 3) == 0)
        st = bench_gemm(ctx, op, m, n, k, warmup, runs, sets, seed, h_out);
    else
        st = bench_composite(ctx, op, m, n, k, group, warmup, runs, sets, seed, h_out);
    if (st == INT4TRAIN_SUCCESS) {
        cudaError_t e = cudaStreamSynchronize(ctx->stream);
        if (e != cudaSuccess) return fail_cuda(e, "bench: stream");
    }
    return st;
}

INT4TRAIN_API int4train_status int4train_bench_phases(int4train_context ctx, const char* which, int n, int c, int d,
                                                      int group, int runs, uint64_t seed, char* h_names, int names_cap,
                                                      double* h_ms, int ms_cap, int* h_count) {
    I4T_TRY(enter(ctx));
    I4T_NOTNULL(which);
    I4T_NOTNULL(h_count);
    const bool fwd = strcmp(which, "forward") == 0;
    if (!fwd && strcmp(which, "backward") != 0)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "bench_phases: which must be 'forward' or 'backward'");
    if (d % 2 || runs < 1) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "bench_phases: bad arguments");
    I4T_TRY(check_group(d, group, "int4train_bench_phases"));
    const int sets = 3;
    DevMem mem;
    LayerData L;
    I4T_TRY(make_layer_data(ctx, mem, n, c, d, group, sets, seed, !fwd, &L));
    const int64_t nc = (int64_t)n * c, nd = (int64_t)n * d, cd = (int64_t)c * d;
    float* y = mem.get<float>(nc);
    float* gxo = mem.get<float>(nd);
    float* gwo = mem.get<float>(cd);
    float* gst = mem.get<float>(4);
    float* chk_x = fwd ? nullptr : mem.get<float>(nd);
    float* chk_w = fwd ? nullptr : mem.get<float>(cd);
    BENCH_MEM_CHECK(mem);
    std::vector<uint8_t*> XP, WP;
    for (int i = 0; i < sets; ++i) {
        XP.push_back(mem.get<uint8_t>(nd / 2));
        WP.push_back(mem.get<uint8_t>(cd / 2));
        BENCH_MEM_CHECK(mem);
        I4T_TRY(int4train_hq_forward(ctx, L.x[i], L.w[i], nullptr, L.sx[i], L.sw[i], n, c, d, group, 0, y, XP[i], WP[i]));
    }
    PhaseTimer T{ctx->stream};
    cudaStream_t s = ctx->stream;
    const int mode = 0;
    size_t nph = 0;
    for (int r = -2; r < runs; ++r) {
        const int i = (r + 2) % sets;
        T.recording = r >= 0;
        T.begin();
        if (fwd) {
            // the body of int4train_hq_forward, one event per phase
            const int kp = (int)round_up(d, 32), cp = (int)round_up(c, 4);
            if (gemm_dq_available(ctx) && c % 4 == 0 && (uintptr_t)y % 16 == 0) {
                // SM90: dequantize in the GEMM epilogue (hq_forward's direct path)
                size_t gws = gemm_padded_dq_workspace(ctx, n, cp, kp);
                Plan p;
                p.add<int8_t>((int64_t)n * kp); p.add<int8_t>((int64_t)cp * kp); p.add<char>((int64_t)gws);
                Arena ar;
                I4T_TRY(make_arena(ctx, p, &ar));
                int8_t* a = ar.take<int8_t>((int64_t)n * kp);
                int8_t* b = ar.take<int8_t>((int64_t)cp * kp);
                char* ws = ar.take<char>((int64_t)gws);
                I4T_ARENA_CHECK(ar);
                I4T_TRY(hadamard_quantize_pad_pack(ctx, L.x[i], n, d, group, L.sx[i], mode, a, n, kp, XP[i]));
                T.phase("hadamard+quantize+pack X");
                I4T_TRY(hadamard_quantize_pad_pack(ctx, L.w[i], c, d, group, L.sw[i], mode, b, cp, kp, WP[i]));
                T.phase("hadamard+quantize+pack W");
                I4T_TRY(gemm_padded_dq(ctx, a, b, nullptr, L.sx[i], L.sw[i], y, c, n, cp, kp, ws, gws));
                T.phase("int GEMM + dequantize (epilogue)");
                nph = 3;
                continue;
            }
            size_t gws = gemm_padded_workspace(ctx, n, cp, kp);
            Plan p;
            p.add<int8_t>((int64_t)n * kp); p.add<int8_t>((int64_t)cp * kp); p.add<int32_t>((int64_t)n * cp); p.add<char>((int64_t)gws);
            Arena ar;
            I4T_TRY(make_arena(ctx, p, &ar));
            int8_t* a = ar.take<int8_t>((int64_t)n * kp);
            int8_t* b = ar.take<int8_t>((int64_t)cp * kp);
            int32_t* prod = ar.take<int32_t>((int64_t)n * cp);
            char* ws = ar.take<char>((int64_t)gws);
            I4T_ARENA_CHECK(ar);
            I4T_TRY(hadamard_quantize_pad_pack(ctx, L.x[i], n, d, group, L.sx[i], mode, a, n, kp, XP[i]));
            T.phase("hadamard+quantize+pack X");
            I4T_TRY(hadamard_quantize_pad_pack(ctx, L.w[i], c, d, group, L.sw[i], mode, b, cp, kp, WP[i]));
            T.phase("hadamard+quantize+pack W");
            I4T_TRY(gemm_padded(ctx, a, b, prod, n, cp, kp, ws, gws));
            T.phase("int GEMM");
            I4T_TRY(hq_dequantize_impl(ctx, prod, cp, L.sx[i], L.sw[i], nullptr, n, c, y));
            T.phase("dequantize");
            nph = 4;
        } else {
            // the body of int4train_linear_backward (Nonzero), one event per phase
            // (the layer's own workspace layout, plus the unfused check's transformed copies)
            Plan p;
            linear_backward_plan_buffers(p, n, c, d);
            p.add<float>(nd); p.add<float>(cd);
            linear_backward_plan_ops(ctx, p, n, c, d);
            Arena ar;
            I4T_TRY(make_arena(ctx, p, &ar));
            const LinearBackwardBuffers b = linear_backward_take(ar, n, c, d);
            int8_t *high = b.high, *low = b.low, *xq = b.xq;
            float* scales = b.scales;
            double *prob_w = b.prob_w, *prob_x = b.prob_x, *cws = b.cws;
            uint8_t *keep_w = b.keep_w, *keep_x = b.keep_x;
            int32_t *kept_w = b.kept_w, *kept_x = b.kept_x;
            float* xh = ar.take<float>(nd);
            float* wh = ar.take<float>(cd);
            I4T_ARENA_CHECK(ar);
            const uint64_t sd = seed + (uint64_t)i;
            I4T_TRY(bit_split_impl(ctx, ar, L.gy[i], n, c, sd, mode, high, low, scales));
            T.phase("bit split");
            I4T_TRY(unpack_pad(ctx, XP[i], n, d, xq, n, d));
            I4T_TRY(lss_select_impl(ctx, ar, high, low, scales, xq, L.sx[i], n, c, d, 0, sd, prob_w, keep_w, kept_w));
            I4T_TRY(lss_select_impl(ctx, ar, high, low, scales, nullptr, nullptr, n, c, d, 0, sd, prob_x, keep_x, kept_x));
            T.phase("leverage scores+select");
            I4T_TRY(lss_grad_weight_impl(ctx, ar, high, low, XP[i], scales, L.sx[i], keep_w, prob_w, n, c, d, gwo));
            T.phase("LSS dW (pack+GEMM+dequant)");
            I4T_TRY(lss_grad_input_impl(ctx, ar, high, low, WP[i], scales, L.sw[i], keep_x, prob_x, n, c, d, gxo, true));
            T.phase("LSS dX (pack+GEMM+dequant)");
            if (r == -2) {
                // first warm-up (not timed): the fused tail must equal the unfused composition bit for bit
                I4T_CUDA(cudaMemcpyAsync(chk_x, gxo, nd * sizeof(float), cudaMemcpyDeviceToDevice, s));
                I4T_CUDA(cudaMemcpyAsync(chk_w, gwo, cd * sizeof(float), cudaMemcpyDeviceToDevice, s));
                I4T_TRY(hadamard_impl(ctx, L.x[i], xh, nd, group));
                I4T_TRY(hadamard_impl(ctx, L.w[i], wh, cd, group));
                I4T_TRY(lsq_backward_impl(ctx, xh, chk_x, nd, L.sx[i], mode, chk_x, gst + 2, cws));
                I4T_TRY(lsq_backward_impl(ctx, wh, chk_w, cd, L.sw[i], mode, chk_w, gst + 3, cws));
                I4T_TRY(hadamard_impl(ctx, chk_x, chk_x, nd, group));
                I4T_TRY(hadamard_impl(ctx, chk_w, chk_w, cd, group));
            }
            I4T_TRY(hadamard_lsq_backward_impl(ctx, L.x[i], gxo, nd, group, L.sx[i], mode, gxo, gst, cws));
            I4T_TRY(hadamard_lsq_backward_impl(ctx, L.w[i], gwo, cd, group, L.sw[i], mode, gwo, gst + 1, cws));
            T.phase("recompute+LSQ backward+back-transform (fused)");
            if (r == -2) {
                I4T_CUDA(cudaStreamSynchronize(s));
                std::vector<uint32_t> a((size_t)nd), b((size_t)nd), sa(4);
                size_t dx = 0, dw = 0;
                I4T_CUDA(cudaMemcpy(a.data(), gxo, nd * 4, cudaMemcpyDeviceToHost));
                I4T_CUDA(cudaMemcpy(b.data(), chk_x, nd * 4, cudaMemcpyDeviceToHost));
                for (int64_t e = 0; e < nd; ++e) dx += a[e] != b[e];
                a.resize((size_t)cd); b.resize((size_t)cd);
                I4T_CUDA(cudaMemcpy(a.data(), gwo, cd * 4, cudaMemcpyDeviceToHost));
                I4T_CUDA(cudaMemcpy(b.data(), chk_w, cd * 4, cudaMemcpyDeviceToHost));
                for (int64_t e = 0; e < cd; ++e) dw += a[e] != b[e];
                I4T_CUDA(cudaMemcpy(sa.data(), gst, 16, cudaMemcpyDeviceToHost));
                fprintf(stderr, "fused LSQ backward check %dx%dx%d: bits differing from unfused: dX %zu, dW %zu, "
                        "step_x %s, step_w %s\n", n, c, d, dx, dw, sa[0] == sa[2] ? "same" : "DIFFERENT",
                        sa[1] == sa[3] ? "same" : "DIFFERENT");
                if (dx || dw || sa[0] != sa[2] || sa[1] != sa[3])
                    return fail(INT4TRAIN_ERROR_INTERNAL, "bench_phases: fused LSQ backward differs from the unfused path");
                T.begin();
            }
            nph = 5;
        }
    }
    I4T_TRY(T.collect(nph));
    std::string names;
    for (size_t p = 0; p < nph; ++p) {
        if (p) names += ';';
        names += T.names[p];
        if ((int)p < ms_cap && h_ms) h_ms[p] = summarize(T.ms[p]).median;
    }
    if (h_names && names_cap > 0) {
        strncpy(h_names, names.c_str(), (size_t)names_cap - 1);
        h_names[names_cap - 1] = 0;
    }
    *h_count = (int)nph;
    return INT4TRAIN_SUCCESS;
}

INT4TRAIN_API int4train_status int4train_bench_graph(int4train_context ctx, int n, int c, int d, int group, int runs,
                                                     uint64_t seed, int* h_captured, int* h_identical,
                                                     double* h_replay_ms, char* h_msg, int msg_cap) {
    I4T_TRY(enter(ctx));
    I4T_NOTNULL(h_captured);
    I4T_NOTNULL(h_identical);
    I4T_NOTNULL(h_replay_ms);
    *h_captured = 0;
    *h_identical = 0;
    *h_replay_ms = 0;
    if (h_msg && msg_cap > 0) h_msg[0] = 0;
    if (ctx->borrowed_context) return fail(INT4TRAIN_ERROR_NOT_SUPPORTED, "bench_graph: needs an owned context");
    DevMem mem;
    LayerData L;
    I4T_TRY(make_layer_data(ctx, mem, n, c, d, group, 1, seed, true, &L));
    const int64_t nc = (int64_t)n * c, nd = (int64_t)n * d, cd = (int64_t)c * d;
    float* y[2] = {mem.get<float>(nc), mem.get<float>(nc)};
    float* gx[2] = {mem.get<float>(nd), mem.get<float>(nd)};
    float* gw[2] = {mem.get<float>(cd), mem.get<float>(cd)};
    float* gs[2] = {mem.get<float>(2), mem.get<float>(2)};
    float* gb[2] = {mem.get<float>(c), mem.get<float>(c)};
    uint8_t* xp = mem.get<uint8_t>(nd / 2);
    uint8_t* wp = mem.get<uint8_t>(cd / 2);
    double* acc = mem.get<double>(8);
    BENCH_MEM_CHECK(mem);
    cudaStream_t s = ctx->stream;
    auto layer = [&](int o) -> int4train_status {
        I4T_TRY(int4train_hq_forward(ctx, L.x[0], L.w[0], nullptr, L.sx[0], L.sw[0], n, c, d, group, 0, y[o], xp, wp));
        return int4train_linear_backward(ctx, L.gy[0], L.x[0], L.w[0], xp, wp, L.sx[0], L.sw[0], n, c, d, group, 0, 0, seed,
                                         gx[o], gw[o], gs[o], gs[o] + 1, gb[o]);
    };
    I4T_TRY(layer(0));  // eager; also grows the workspace to its final size (no allocation inside the capture)
    I4T_CUDA(cudaStreamSynchronize(s));
    I4T_CUDA(cudaMemsetAsync(y[1], 0xff, sizeof(float) * nc, s));
    I4T_CUDA(cudaMemsetAsync(gx[1], 0xff, sizeof(float) * nd, s));
    I4T_CUDA(cudaMemsetAsync(gw[1], 0xff, sizeof(float) * cd, s));
    I4T_CUDA(cudaStreamSynchronize(s));
    cudaGraph_t graph = nullptr;
    cudaGraphExec_t exec = nullptr;
    cudaError_t e = cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal);
    if (e != cudaSuccess) return fail_cuda(e, "cudaStreamBeginCapture");
    int4train_status inner = layer(1);
    std::string inner_msg = inner == INT4TRAIN_SUCCESS ? "" : int4train_last_error();
    e = cudaStreamEndCapture(s, &graph);
    if (inner != INT4TRAIN_SUCCESS || e != cudaSuccess) {
        (void)cudaGetLastError();
        if (graph) cudaGraphDestroy(graph);
        if (h_msg && msg_cap > 0)
            snprintf(h_msg, (size_t)msg_cap, "capture failed: %s%s%s", inner_msg.c_str(), inner_msg.empty() ? "" : "; ",
                     cudaGetErrorString(e));
        return INT4TRAIN_SUCCESS;
    }
    e = cudaGraphInstantiateWithFlags(&exec, graph, 0);
    size_t nodes = 0;
    cudaGraphGetNodes(graph, nullptr, &nodes);
    cudaGraphDestroy(graph);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        if (h_msg && msg_cap > 0) snprintf(h_msg, (size_t)msg_cap, "instantiate failed: %s", cudaGetErrorString(e));
        return INT4TRAIN_SUCCESS;
    }
    *h_captured = 1;
    Stats st;
    int4train_status ts = time_runs(s, 2, runs, 1, [&](int) -> int4train_status {
        I4T_CUDA(cudaGraphLaunch(exec, s));
        return INT4TRAIN_SUCCESS;
    }, &st);
    cudaGraphExecDestroy(exec);
    I4T_TRY(ts);
    *h_replay_ms = st.median;
    Cmp a, b, cy;
    I4T_TRY(compare_f32(s, y[1], y[0], nc, acc, &cy));
    I4T_TRY(compare_f32(s, gx[1], gx[0], nd, acc, &a));
    I4T_TRY(compare_f32(s, gw[1], gw[0], cd, acc, &b));
    *h_identical = (cy.diffbits == 0 && a.diffbits == 0 && b.diffbits == 0) ? 1 : 0;
    if (h_msg && msg_cap > 0)
        snprintf(h_msg, (size_t)msg_cap, "graph of %zu nodes; bits differing from eager: Y %.0f, dX %.0f, dW %.0f", nodes,
                 cy.diffbits, a.diffbits, b.diffbits);
    return INT4TRAIN_SUCCESS;
}

INT4TRAIN_API int4train_status int4train_bench_gemm_configs(int m, int n, int k, char* h_text, int cap, int* h_count,
                                                            int* h_pick) {
    I4T_NOTNULL(h_count);
    *h_count = 0;
    if (h_pick) *h_pick = -1;
    std::string t;
#if defined(INT4TRAIN_HAS_SM90)
    *h_count = gemm_sm90_config_count();
    for (int i = 0; i < *h_count; ++i) {
        if (i) t += ';';
        t += gemm_sm90_config_name(i);
    }
    int dev = 0, sms = 0;
    if (cudaGetDevice(&dev) == cudaSuccess && cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) == cudaSuccess && h_pick)
        *h_pick = gemm_sm90_pick(m, (int)round_up(n, 4), (int)round_up(k, 32), sms);
    (void)cudaGetLastError();
#else
    (void)m; (void)n; (void)k;
#endif
    if (h_text && cap > 0) {
        strncpy(h_text, t.c_str(), (size_t)cap - 1);
        h_text[cap - 1] = 0;
    }
    return INT4TRAIN_SUCCESS;
}

}  // extern "C"
