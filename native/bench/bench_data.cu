// bench_data.cu — the benchmark's generated inputs, reference dequantizations and device-side comparisons.
#include "bench_support.cuh"
#include "numerics/philox.cuh"

namespace i4t {
namespace bench {

// ---- data generation (Philox, fixed seeds) -----------------------------------------------------------------
static __device__ __forceinline__ float normal_at(uint64_t seed, uint64_t i, uint32_t stream) {
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
__global__ void convert_bf16_kernel(const float* in, __nv_bfloat16* out, int64_t n) {
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < n; t += (int64_t)gridDim.x * blockDim.x)
        out[t] = __float2bfloat16(in[t]);
}
__global__ void convert_fp16_kernel(const float* in, __half* out, int64_t n) {
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < n; t += (int64_t)gridDim.x * blockDim.x)
        out[t] = __float2half(in[t]);
}
__global__ void bf16_to_f32_kernel(const __nv_bfloat16* in, float* out, int64_t n) {
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < n; t += (int64_t)gridDim.x * blockDim.x)
        out[t] = __bfloat162float(in[t]);
}
int4train_status gen_16bit(cudaStream_t s, float* tmp, void* out, int rows, int cols, uint64_t seed, int kind, bool bf16) {
    const int64_t n = (int64_t)rows * cols;
    gen_kernel<<<grid_for(n), 256, 0, s>>>(tmp, rows, cols, seed, kind);
    if (bf16) convert_bf16_kernel<<<grid_for(n), 256, 0, s>>>(tmp, (__nv_bfloat16*)out, n);
    else convert_fp16_kernel<<<grid_for(n), 256, 0, s>>>(tmp, (__half*)out, n);
    I4T_LAUNCH("gen_16bit");
    return INT4TRAIN_SUCCESS;
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
int4train_status compare_bf16(cudaStream_t s, const __nv_bfloat16* a, const __nv_bfloat16* b, int64_t n, float* fa,
                              float* fb, double* dacc, Cmp* out) {
    bf16_to_f32_kernel<<<grid_for(n), 256, 0, s>>>(a, fa, n);
    bf16_to_f32_kernel<<<grid_for(n), 256, 0, s>>>(b, fb, n);
    I4T_LAUNCH("bf16_to_f32_kernel");
    return compare_f32(s, fa, fb, n, dacc, out);
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

// ---- the layer's inputs --------------------------------------------------------------------------------------------
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

int4train_status make_bf16_layer_data(cudaStream_t s, DevMem& mem, const LayerData& L, int n, int c, int d,
                                      Bf16LayerData* out) {
    const int64_t nc = (int64_t)n * c, nd = (int64_t)n * d, cd = (int64_t)c * d;
    for (int i = 0; i < L.sets; ++i) {
        out->x.push_back(mem.get<__nv_bfloat16>(nd));
        out->w.push_back(mem.get<__nv_bfloat16>(cd));
        out->gy.push_back(mem.get<__nv_bfloat16>(nc));
        BENCH_MEM_CHECK(mem);
        convert_bf16_kernel<<<grid_for(nd), 256, 0, s>>>(L.x[i], out->x[i], nd);
        convert_bf16_kernel<<<grid_for(cd), 256, 0, s>>>(L.w[i], out->w[i], cd);
        convert_bf16_kernel<<<grid_for(nc), 256, 0, s>>>(L.gy[i], out->gy[i], nc);
        I4T_LAUNCH("convert_bf16_kernel");
    }
    return INT4TRAIN_SUCCESS;
}

int4train_status make_packed_codes(int4train_context ctx, DevMem& mem, const LayerData& L, int n, int c, int d, int group,
                                   bool run_forward, float* y, std::vector<uint8_t*>* xp, std::vector<uint8_t*>* wp) {
    for (int i = 0; i < L.sets; ++i) {
        xp->push_back(mem.get<uint8_t>((int64_t)n * d / 2));
        wp->push_back(mem.get<uint8_t>((int64_t)c * d / 2));
        BENCH_MEM_CHECK(mem);
        if (run_forward)
            I4T_TRY(int4train_hq_forward(ctx, L.x[i], L.w[i], nullptr, L.sx[i], L.sw[i], n, c, d, group, 0, y, (*xp)[i],
                                         (*wp)[i]));
    }
    return INT4TRAIN_SUCCESS;
}

}  // namespace bench
}  // namespace i4t
