// selftest.h — checks every operator of libint4train against plain CPU C++ implementations of docs/conventions.md
// on random data with outliers: integer outputs bit-exact, floating outputs within tolerances; then error paths.
// Usage: int4train_selftest [--quick] [--robustness] [--sticky-fault] (main.cu)
// Last line: "N passed, M failed".
// selftest.h — the self-test's shared parts: the pass/fail harness, device buffers, the CPU reference of
// docs/conventions.md the operators are checked against, and random data with outliers.
#pragma once
#include <cuda_runtime.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "int4train.h"

// ---- harness ----
extern int g_pass, g_fail;
extern bool g_quick;

void report(bool ok, const char* name, const std::string& detail);
std::string fmt(const char* f, ...);

#define CK(call)                                                                                     \
    do {                                                                                             \
        int4train_status s_ = (call);                                                                \
        if (s_ != INT4TRAIN_SUCCESS) {                                                               \
            report(false, #call, fmt("status %d: %s", (int)s_, int4train_last_error()));             \
            return;                                                                                  \
        }                                                                                            \
    } while (0)
#define CUDA_CK(call)                                                                                \
    do {                                                                                             \
        cudaError_t e_ = (call);                                                                     \
        if (e_ != cudaSuccess) {                                                                     \
            printf("CUDA error %s at %s:%d\n", cudaGetErrorString(e_), __FILE__, __LINE__);          \
            exit(2);                                                                                 \
        }                                                                                            \
    } while (0)

template <class T>
struct DBuf {
    T* p = nullptr;
    size_t n = 0;
    explicit DBuf(size_t count) : n(count) {
        CUDA_CK(cudaMalloc(&p, sizeof(T) * (count ? count : 1)));
        CUDA_CK(cudaMemset(p, 0xA5, sizeof(T) * (count ? count : 1)));  // poison
        // The library runs on its context's non-blocking stream, which the legacy stream's memset and copies do not
        // order against: wait here, or a kernel may read poison or have its output poisoned after it ran (seen on
        // the H200 when other processes loaded the GPU).
        CUDA_CK(cudaDeviceSynchronize());
    }
    DBuf(const std::vector<T>& h) : DBuf(h.size()) { up(h); }
    ~DBuf() { cudaFree(p); }
    void up(const std::vector<T>& h) {
        CUDA_CK(cudaMemcpy(p, h.data(), sizeof(T) * n, cudaMemcpyHostToDevice));
        CUDA_CK(cudaDeviceSynchronize());  // a pageable copy may return before its DMA lands (see above)
    }
    std::vector<T> down() const {
        std::vector<T> h(n);
        CUDA_CK(cudaDeviceSynchronize());
        CUDA_CK(cudaMemcpy(h.data(), p, sizeof(T) * n, cudaMemcpyDeviceToHost));
        return h;
    }
    DBuf(const DBuf&) = delete;
    DBuf& operator=(const DBuf&) = delete;
};

// ---- CPU reference (docs/conventions.md) ----
struct Ph { uint32_t x0, x1; };
struct Ph4 { uint32_t x[4]; };
struct Split { std::vector<int8_t> h, l; float mx, sup, sdn; };
struct Sel { std::vector<double> p; std::vector<uint8_t> keep; int kept[2]; };
float rha(float x);
double canon_chunk(const double* x, size_t n);
double canon_sum(const std::vector<double>& v);
Ph philox(uint64_t seed, uint64_t index, uint32_t stream);
Ph4 philox4(uint64_t seed, uint64_t index, uint32_t stream);
float u01(uint32_t x);
float u01c(uint32_t x);
double u01d(uint32_t a, uint32_t b);
std::vector<float> cpu_hadamard(const std::vector<float>& x, int g);
float cpu_init_step(const std::vector<float>& v);
int qn_of(int mode);
std::vector<int8_t> cpu_quant(const std::vector<float>& v, float s, int mode);
std::vector<uint8_t> cpu_pack(const std::vector<int8_t>& q);
std::vector<int32_t> cpu_gemm(const std::vector<int8_t>& a, const std::vector<int8_t>& b, int m, int n, int k);
Split cpu_bit_split(const std::vector<float>& g, uint64_t seed, int mode);
Sel cpu_select(const Split& s, const int8_t* xq, float sx, int n, int c, int d, int sampling, uint64_t seed);
std::vector<double> cpu_grad_wh(const Split& s, const Sel& sel, const std::vector<int8_t>& xq, float sx, int n, int c, int d);
std::vector<double> cpu_grad_xh(const Split& s, const Sel& sel, const std::vector<int8_t>& wq, float sw, int n, int c, int d);

// ---- random data and error measures ----
extern std::mt19937_64 rng;
std::vector<float> randn_outliers(int rows, int cols, float scale = 1.0f, int outlier_cols = 3);
std::vector<int8_t> rand_codes(size_t n, int lo = -8, int hi = 7);
template <class T>
inline size_t count_diff(const std::vector<T>& a, const std::vector<T>& b) {
    size_t k = 0;
    for (size_t i = 0; i < a.size(); ++i) if (memcmp(&a[i], &b[i], sizeof(T)) != 0) ++k;
    return k;
}
template <class A>
inline double l2(const std::vector<A>& v) {
    double s = 0;
    for (auto x : v) s += (double)x * (double)x;
    return sqrt(s);
}
template <class A, class B>
inline double rel_err(const std::vector<A>& got, const std::vector<B>& ref) {
    double num = 0, den = 0;
    for (size_t i = 0; i < got.size(); ++i) {
        double d = (double)got[i] - (double)ref[i];
        if (std::isnan((double)got[i])) return INFINITY;
        num += d * d;
        den += (double)ref[i] * (double)ref[i];
    }
    return den == 0 ? sqrt(num) : sqrt(num / den);
}

// The device inputs of one layer backward: X and W with outlier channels, ∇Y with every `zero_every`-th row zero, the
// steps at 0.7× their initial value (some clipping), and the packed codes the forward would have saved.
struct HostBackwardInputs {
    std::vector<float> x, w, gy;
    float sx, sw;
    std::vector<int8_t> xq, wq;
    HostBackwardInputs(int n, int c, int d, int g, int mode, int zero_every)
        : x(randn_outliers(n, d)), w(randn_outliers(c, d, 0.05f)), gy(randn_outliers(n, c, 1e-3f, 1)) {
        for (int i = 0; i < n; i += zero_every) for (int j = 0; j < c; ++j) gy[(size_t)i * c + j] = 0.0f;
        auto xh = cpu_hadamard(x, g), wh = cpu_hadamard(w, g);
        sx = cpu_init_step(xh) * 0.7f;
        sw = cpu_init_step(wh) * 0.7f;
        xq = cpu_quant(xh, sx, mode);
        wq = cpu_quant(wh, sw, mode);
    }
};
struct BackwardInputs {
    DBuf<float> gy, x, w, sx, sw;
    DBuf<uint8_t> xp, wp;
    explicit BackwardInputs(const HostBackwardInputs& h)
        : gy(h.gy), x(h.x), w(h.w), sx(std::vector<float>{h.sx}), sw(std::vector<float>{h.sw}), xp(cpu_pack(h.xq)),
          wp(cpu_pack(h.wq)) {}
};

// ---- the test groups ----
void test_canonical_and_init(int4train_context ctx);
void test_hadamard(int4train_context ctx);
void test_lsq(int4train_context ctx);
void test_pack(int4train_context ctx);
void test_gemm(int4train_context ctx);
void test_hq_forward(int4train_context ctx);
void test_block_search(int4train_context ctx);
void test_bit_split_select_lss(int4train_context ctx);
// test_split_digits.cu: the split's fast digit rule vs the formula over every float; the folded layouts vs the CPU.
void test_split_digits(int4train_context ctx);
// test_transpose_codes.cu: the LSS operands' transposing unpack (ops/transpose_codes.cu) vs a host loop, every kernel.
void test_transpose_codes(int4train_context ctx);
void test_linear_backward(int4train_context ctx);
void test_folded_backward_bits(int4train_context ctx);
void test_fast_paths_bits(int4train_context ctx);
// test_lsq_fast.cu: the register kernels of issue 11 and numerics/lsq_fast.cuh
void test_lsq_fast_rules();
void test_hadamard_quant_fast_bits(int4train_context ctx);
void test_lsq_back_fast_special_bits(int4train_context ctx);
// ∇b and the split scales from one read of ∇Y: with vs without ∇b the same bits, ∇b = the CPU strip sums bit for bit.
void test_bias_one_read_bits(int4train_context ctx);
// A second context on device 0 created with INT4TRAIN_GENERIC_KERNELS=1 (every fast path off); NULL after a failed
// report naming `test`.
int4train_context create_generic_context(const char* test);
// test_compact.cu: the ∇X arithmetic of folded and stacked tokens bit for bit against the host, and the compacted
// Bernoulli backward against the uncompacted operators, eager and captured.
void test_lss_grad_input_fold_bits(int4train_context ctx);
void test_compacted_bernoulli_bits(int4train_context ctx);
// test_bf16_activations.cu: BF16 ∇Y, X (digits, the whole backward) = the FP32 path on the widened tensors, BF16 ∇X =
// RN_bf16 of the FP32 ∇X, bit for bit.
void test_bf16_grad_y_bits(int4train_context ctx);
void test_bf16_forward_bits(int4train_context ctx);
void test_errors(int4train_context ctx);
void test_flash_attention();  // test_attention.cu: the GPT's fused attention (internal kernels, not the C ABI)
void test_gpt_elementwise();  // test_gpt_elementwise.cu: the GPT's element-wise passes, float4 vs scalar path
// entry_robustness.cu: the table of entry points × bad handles, pointers, values and a pending CUDA error; the
// sticky device fault in a child process (this executable with --sticky-fault).
void test_entry_robustness(int4train_context ctx);
void test_sticky_fault_in_child();
int run_sticky_fault_child();
