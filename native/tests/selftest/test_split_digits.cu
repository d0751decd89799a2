// test_split_digits.cu — the bit split's digit rule as the kernels compute it (numerics/split_digits.cuh: no
// division, floors through a biased add rounded down) against the convention's formula as written (IEEE division
// t/14, round half away, floor; the kernel before issue 11) over every float, on the GPU; and the folded layouts
// of bit_split_fold_impl (interior tiles, edge tiles, the unaligned path) against the CPU reference's 14h + l.
#include "selftest.h"

#include "numerics/philox.cuh"
#include "numerics/rounding.cuh"
#include "numerics/split_digits.cuh"
#include "ops/operators.cuh"

namespace {

// conventions.md "Bit splitting", written as the formula reads (the reference the fast rule must equal bit for bit).
__device__ float ref_high(float t, float L, float& r) {
    const float h = fminf(fmaxf(i4t::round_half_away(__fdiv_rn(t, 14.0f)), -L), L);
    r = __fsub_rn(t, __fmul_rn(14.0f, h));
    return h;
}
__device__ float ref_low(float s, bool paper) {  // s = RN(r + U)
    const float l = paper ? floorf(s) : i4t::round_half_away(__fsub_rn(s, 0.5f));
    return paper ? fminf(fmaxf(l, -7.0f), 7.0f) : fminf(fmaxf(l, -6.0f), 6.0f);
}
__device__ int unbias(float biased) { return (int)(__float_as_uint(biased) - __float_as_uint(i4t::kSplitBias)); }

struct Mismatch {
    unsigned long long count;
    unsigned int first;  // the smallest mismatching bit pattern
};
__device__ void record(Mismatch* m, uint32_t bits) {
    atomicAdd(&m->count, 1ull);
    atomicMin(&m->first, bits);
}
__device__ bool same_or_both_nan(float a, float b) { return __float_as_uint(a) == __float_as_uint(b) || (isnan(a) && isnan(b)); }

// Every bit pattern i·stride < 2^32 as t (k98 = 1, so t = g): h and r of the fast rule and of the IEEE division.
template <bool kPaper>
__global__ void sweep_high(uint64_t stride, float one, Mismatch* m /*[2]: h, r*/) {
    for (uint64_t i = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x; i * stride < (1ull << 32);
         i += (uint64_t)gridDim.x * blockDim.x) {
        const uint32_t bits = (uint32_t)(i * stride);
        const float t = __uint_as_float(bits);
        const i4t::SplitHigh fast = i4t::split_high<kPaper>(t, one);
        float r;
        const float h = ref_high(t, kPaper ? 7.0f : 6.0f, r);
        if (__float_as_uint(fast.h) != __float_as_uint(h)) record(&m[0], bits);
        if (!same_or_both_nan(fast.r, r)) record(&m[1], bits);
    }
}
// Every bit pattern as s = RN(r + U): the low digit of the fast rule and of the formula.
template <bool kPaper>
__global__ void sweep_low(uint64_t stride, Mismatch* m) {
    for (uint64_t i = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x; i * stride < (1ull << 32);
         i += (uint64_t)gridDim.x * blockDim.x) {
        const uint32_t bits = (uint32_t)(i * stride);
        const float s = __uint_as_float(bits);
        if (unbias(i4t::split_low_biased<kPaper>(s)) != (int)ref_low(s, kPaper)) record(m, bits);
    }
}
// Every bit pattern as g with a real scale (k98 = 98/Mx) and a Philox word per element: both digits of
// split_digits against the formula with the reference's U01 / U01Closed (one FMUL, one FADD).
template <bool kPaper>
__global__ void sweep_element(uint64_t stride, float k98, uint64_t seed, Mismatch* m) {
    for (uint64_t i = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x; i * stride < (1ull << 32);
         i += (uint64_t)gridDim.x * blockDim.x) {
        const uint32_t bits = (uint32_t)(i * stride);
        const float g = __uint_as_float(bits);
        const uint32_t x = i4t::philox4(seed, bits / 4, i4t::kStreamBitSplit).x[bits % 4];
        const i4t::SplitDigits d = i4t::split_digits<kPaper>(g, k98, x);
        float r;
        const float h = ref_high(__fmul_rn(g, k98), kPaper ? 7.0f : 6.0f, r);
        const float l = ref_low(__fadd_rn(r, kPaper ? i4t::u01(x) : i4t::u01_closed(x)), kPaper);
        if (unbias(i4t::split_high_biased(d)) != (int)h || unbias(d.low_biased) != (int)l ||
            unbias(i4t::split_folded_biased(d)) != 14 * (int)h + (int)l)
            record(m, bits);
    }
}

std::string mismatch_text(const Mismatch& m) {
    return m.count ? fmt("%llu mismatches, first at bits 0x%08x", m.count, m.first) : std::string("0 mismatches");
}

template <bool kPaper>
void sweep_mode(uint64_t stride) {
    const int mode = kPaper ? 1 : 0;
    const Mismatch clean{0, 0xFFFFFFFFu};
    DBuf<Mismatch> m(std::vector<Mismatch>(4, clean));
    const unsigned grid = 2048, block = 256;
    sweep_high<kPaper><<<grid, block>>>(stride, 1.0f, m.p);
    sweep_low<kPaper><<<grid, block>>>(stride, m.p + 2);
    sweep_element<kPaper><<<grid, block>>>(stride, 98.0f / 0.37f, 0x9E3779B97F4A7C15ull + mode, m.p + 3);
    const cudaError_t e = cudaDeviceSynchronize();
    if (e != cudaSuccess) {
        report(false, "bit split digits: sweeps", cudaGetErrorString(e));
        return;
    }
    const auto r = m.down();
    const char* scope = stride == 1 ? "every float" : "a strided subset of the floats (--quick)";
    report(r[0].count == 0 && r[1].count == 0, "bit split digits: h and r, fast rule vs IEEE division t/14 (bits)",
           fmt("mode=%d, %s as t: h %s; r %s", mode, scope, mismatch_text(r[0]).c_str(), mismatch_text(r[1]).c_str()));
    report(r[2].count == 0, "bit split digits: low digit from s = r + U, fast rule vs formula (bits)",
           fmt("mode=%d, %s as s: %s", mode, scope, mismatch_text(r[2]).c_str()));
    report(r[3].count == 0, "bit split digits: whole element, fast rule vs formula (bits)",
           fmt("mode=%d, %s as g (Mx = 0.37, Philox words): %s", mode, scope, mismatch_text(r[3]).c_str()));
}

// bit_split_fold_impl's two layouts against 14h + l of the CPU reference (zero padding included).
void check_fold_layouts(int4train_context ctx, int n, int c, int mode, int misalign) {
    auto g = randn_outliers(n, c, 1e-3f, 2);
    for (int i = 0; i < n; i += 7) for (int j = 0; j < c; ++j) g[(size_t)i * c + j] = 0.0f;
    std::vector<float> up(g.size() + 1, 0.0f);
    std::copy(g.begin(), g.end(), up.begin() + misalign);
    const uint64_t seed = 0xC0FFEEull + (uint64_t)(n * 31 + c + mode);
    const int cp = (c + 31) / 32 * 32, kp = (n + 31) / 32 * 32;
    DBuf<float> dg(up), dsc(3);
    DBuf<int8_t> dh(g.size()), dl(g.size()), rows((size_t)n * cp), cols((size_t)c * kp);
    CK(int4train_bit_split(ctx, dg.p + misalign, n, c, seed, mode, dh.p, dl.p, dsc.p));  // the scales
    CK(i4t::bit_split_fold_impl(ctx, dg.p + misalign, n, c, dsc.p, i4t::PhiloxKey(seed), mode, rows.p, cp, cols.p, kp));
    CK(int4train_context_synchronize(ctx));
    const Split ref = cpu_bit_split(g, seed, mode);
    const auto gr = rows.down(), gc = cols.down();
    size_t bad_rows = 0, bad_cols = 0;
    for (int i = 0; i < n; ++i)
        for (int j = 0; j < cp; ++j) {
            const int8_t want = j < c ? (int8_t)(14 * ref.h[(size_t)i * c + j] + ref.l[(size_t)i * c + j]) : 0;
            bad_rows += gr[(size_t)i * cp + j] != want;
        }
    for (int j = 0; j < c; ++j)
        for (int i = 0; i < kp; ++i) {
            const int8_t want = i < n ? (int8_t)(14 * ref.h[(size_t)i * c + j] + ref.l[(size_t)i * c + j]) : 0;
            bad_cols += gc[(size_t)j * kp + i] != want;
        }
    report(bad_rows == 0 && bad_cols == 0, "bit_split_fold layouts = 14h + l of the CPU split (bits)",
           fmt("mode=%d n=%d c=%d%s: wrong bytes rows %zu, columns %zu", mode, n, c,
               misalign ? " (unaligned ∇Y)" : (c % 4 ? " (c % 4 != 0)" : ""), bad_rows, bad_cols));
}

}  // namespace

void test_split_digits(int4train_context ctx) {
    const uint64_t stride = g_quick ? 4099 : 1;  // --quick runs under compute-sanitizer: ~1M patterns per sweep
    sweep_mode<false>(stride);
    sweep_mode<true>(stride);
    struct S { int n, c, misalign; };
    const S shapes[] = {{64, 64, 0}, {200, 136, 0}, {1000, 512, 0}, {130, 70, 0}, {200, 136, 1}};
    for (int mode = 0; mode < 2; ++mode)
        for (const S& s : shapes) check_fold_layouts(ctx, s.n, s.c, mode, s.misalign);
}
