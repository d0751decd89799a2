// bench_support.cuh — what the benchmark's translation units share: device buffers that free themselves, the
// generated inputs (Philox; outlier channels in X, skewed rows in ∇Y), the device-side comparisons every variant is
// checked with before its time counts, and the layer's input sets.
#pragma once
#include <stdint.h>
#include <string.h>

#include <vector>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "runtime/status.cuh"
#include "runtime/context.cuh"
#include "runtime/launch.cuh"
#include "int4train_bench.h"

namespace i4t {
namespace bench {

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

struct Cmp { double rel = 0, nonfinite = 0, diffbits = 0, refnorm = 0; };
struct LayerData {
    int sets = 0;
    std::vector<float*> x, w, gy, sx, sw;
};

__global__ void gen_kernel(float* out, int rows, int cols, uint64_t seed, int kind);
__global__ void gen_codes_kernel(int8_t* out, int64_t n, uint64_t seed);
__global__ void convert_bf16_kernel(const float* in, __nv_bfloat16* out, int64_t n);
__global__ void convert_fp16_kernel(const float* in, __half* out, int64_t n);
__global__ void bf16_to_f32_kernel(const __nv_bfloat16* in, float* out, int64_t n);
__global__ void dequant_codes_kernel(const int8_t* q, int64_t n, const float* s, float* out);
__global__ void dequant_digits_kernel(const int8_t* hi, const int8_t* lo, int64_t n, const float* scales, float* out);
__global__ void ref_dequant_kernel(const int32_t* __restrict__ p, const float* sx, const float* sw,
                                   const float* __restrict__ bias, int n, int c, float* y);
__global__ void cmp_f32_kernel(const float* a, const float* b, int64_t n, double* acc);
__global__ void cmp_i32_kernel(const int32_t* a, const int32_t* b, int64_t n, double* acc);
int4train_status compare_f32(cudaStream_t s, const float* a, const float* b, int64_t n, double* dacc, Cmp* out);
int4train_status compare_i32(cudaStream_t s, const int32_t* a, const int32_t* b, int64_t n, double* dacc,
                             double* mismatches, double* nonzero);
// rows × cols generated values (gen_kernel `kind`, via the FP32 scratch tmp) rounded to BF16 (bf16) or FP16 into out.
int4train_status gen_16bit(cudaStream_t s, float* tmp, void* out, int rows, int cols, uint64_t seed, int kind, bool bf16);
// |a − b| / |b| (Frobenius) of two BF16 arrays, through the FP32 scratch fa, fb (n each).
int4train_status compare_bf16(cudaStream_t s, const __nv_bfloat16* a, const __nv_bfloat16* b, int64_t n, float* fa,
                              float* fb, double* dacc, Cmp* out);
int4train_status make_layer_data(int4train_context ctx, DevMem& mem, int n, int c, int d, int group, int sets,
                                 uint64_t seed, bool need_gy, LayerData* L);

// Packed INT4 codes of X and W for every set of L (allocated in mem); run_forward: fill them with hq_forward (y: an
// n × c scratch output), else leave them allocated only.
int4train_status make_packed_codes(int4train_context ctx, DevMem& mem, const LayerData& L, int n, int c, int d, int group,
                                   bool run_forward, float* y, std::vector<uint8_t*>* xp, std::vector<uint8_t*>* wp);

// The layer's inputs of every set of L rounded to BF16 (what a BF16 layer holds in memory): X [n, d], W [c, d], ∇Y [n, c].
struct Bf16LayerData {
    std::vector<__nv_bfloat16*> x, w, gy;
};
int4train_status make_bf16_layer_data(cudaStream_t s, DevMem& mem, const LayerData& L, int n, int c, int d,
                                      Bf16LayerData* out);

inline bool is_op(const char* a, const char* b) { return strcmp(a, b) == 0; }

int4train_status bench_gemm(int4train_context ctx, const char* op, int m, int n, int k, int warmup, int runs, int sets,
                            uint64_t seed, int4train_bench_result* r);
// lt_fp8 (cuBLASLt FP8 GEMM) and linear_fp8 (the FP8 linear layer with current scaling): bench_fp8.cu.
int4train_status bench_fp8(int4train_context ctx, const char* op, int m, int n, int k, int warmup, int runs, int sets,
                           uint64_t seed, int4train_bench_result* r);
// copy_d2d: cudaMemcpyAsync device to device of an m × n FP32 buffer (the bandwidth the phases are measured against).
int4train_status bench_copy(int4train_context ctx, int m, int n, int warmup, int runs, int4train_bench_result* r);
int4train_status bench_composite(int4train_context ctx, const char* op, int n, int c, int d, int group, int warmup,
                                 int runs, int sets, uint64_t seed, int4train_bench_result* r);

}  // namespace bench
}  // namespace i4t
