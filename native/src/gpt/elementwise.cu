// elementwise.cu — GELU, residual + dropout, dropout backward, bias broadcast, the bias gradient (column sums) and the
// FP32 → BF16 cast.
#include "nn.cuh"
#include "device_util.cuh"

namespace i4t::nn {

#define I4T_GRID_STRIDE(e, count) \
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < (count); e += (int64_t)gridDim.x * blockDim.x)

constexpr float kGeluK = 0.7978845608f;  // √(2/π)

// GELU(x) = ½x(1 + tanh(√(2/π)(x + 0.044715x³)))  (GPT-2's form; the host GptOps.GeluForward)
__global__ void gelu_forward_kernel(float* __restrict__ out, const float* __restrict__ x, int64_t count) {
    I4T_GRID_STRIDE(e, count) {
        float v = x[e];
        out[e] = 0.5f * v * (1.0f + tanhf(kGeluK * (v + 0.044715f * v * v * v)));
    }
}

__global__ void gelu_backward_kernel(float* dx, const float* dout, const float* __restrict__ x, int64_t count) {
    I4T_GRID_STRIDE(e, count) {
        float v = x[e], th = tanhf(kGeluK * (v + 0.044715f * v * v * v));
        float local = 0.5f * (1.0f + th) + 0.5f * v * (1.0f - th * th) * kGeluK * (1.0f + 3.0f * 0.044715f * v * v);
        dx[e] = dout[e] * local;
    }
}

__global__ void residual_dropout_kernel(float* out, const float* x, const float* a, int64_t count, float p,
                                        float keep_scale, DropoutKey dk) {
    const uint64_t key = site_key(dk);
    I4T_GRID_STRIDE(e, count) out[e] = x[e] + a[e] * dropout_mask(key, e, p, keep_scale);
}

__global__ void dropout_kernel(float* out, const float* g, int64_t count, float p, float keep_scale, DropoutKey dk) {
    const uint64_t key = site_key(dk);
    I4T_GRID_STRIDE(e, count) out[e] = g[e] * dropout_mask(key, e, p, keep_scale);
}

__global__ void broadcast_rows_kernel(float* __restrict__ y, const float* __restrict__ bias, int64_t count, int c) {
    I4T_GRID_STRIDE(e, count) y[e] = bias[e % c];
}

static float keep_scale(float p) { return p > 0 ? 1.0f / (1.0f - p) : 1.0f; }

cudaError_t gelu_forward(cudaStream_t s, float* out, const float* x, int64_t count) {
    gelu_forward_kernel<<<grid_for(count, 256), 256, 0, s>>>(out, x, count);
    return cudaGetLastError();
}
cudaError_t gelu_backward(cudaStream_t s, float* dx, const float* dout, const float* x, int64_t count) {
    gelu_backward_kernel<<<grid_for(count, 256), 256, 0, s>>>(dx, dout, x, count);
    return cudaGetLastError();
}
cudaError_t residual_dropout(cudaStream_t s, float* out, const float* x, const float* a, int64_t count, float p,
                             DropoutKey key) {
    residual_dropout_kernel<<<grid_for(count, 256), 256, 0, s>>>(out, x, a, count, p, keep_scale(p), key);
    return cudaGetLastError();
}
cudaError_t dropout_backward(cudaStream_t s, float* out, const float* g, int64_t count, float p, DropoutKey key) {
    dropout_kernel<<<grid_for(count, 256), 256, 0, s>>>(out, g, count, p, keep_scale(p), key);
    return cudaGetLastError();
}
__global__ void fill_u64_kernel(uint64_t* dst, uint64_t value) { *dst = value; }

cudaError_t fill_u64(cudaStream_t s, uint64_t* dst, uint64_t value) {
    fill_u64_kernel<<<1, 1, 0, s>>>(dst, value);
    return cudaGetLastError();
}
cudaError_t broadcast_rows(cudaStream_t s, float* y, const float* bias, int n, int c) {
    int64_t count = (int64_t)n * c;
    broadcast_rows_kernel<<<grid_for(count, 256), 256, 0, s>>>(y, bias, count, c);
    return cudaGetLastError();
}

// Column sums in two fixed-order stages: block (column tile of 32, row chunk) → partial[chunk][col], then per column.
static int column_chunks(int n) { int k = (n + 255) / 256; return k > 128 ? 128 : (k < 1 ? 1 : k); }

size_t column_sum_scratch(int n, int c) { return (size_t)column_chunks(n) * c; }

__global__ void column_sum_partial_kernel(float* __restrict__ partial, const float* __restrict__ y, int n, int c,
                                          int chunk_rows) {
    __shared__ float sh[8][33];
    int col = blockIdx.x * 32 + threadIdx.x;
    int r0 = blockIdx.y * chunk_rows, r1 = min(n, r0 + chunk_rows);
    float acc = 0.0f;
    if (col < c)
        for (int r = r0 + threadIdx.y; r < r1; r += 8) acc += y[(int64_t)r * c + col];
    sh[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && col < c) {
        float t = 0.0f;
        for (int k = 0; k < 8; ++k) t += sh[k][threadIdx.x];
        partial[(int64_t)blockIdx.y * c + col] = t;
    }
}

__global__ void column_sum_reduce_kernel(float* __restrict__ db, const float* __restrict__ partial, int chunks, int c) {
    int col = blockIdx.x * blockDim.x + threadIdx.x;
    if (col >= c) return;
    float acc = 0.0f;
    for (int k = 0; k < chunks; ++k) acc += partial[(int64_t)k * c + col];
    db[col] += acc;
}

cudaError_t column_sum_accumulate(cudaStream_t s, float* db, const float* dy, int n, int c, float* scratch) {
    int chunks = column_chunks(n), rows = (n + chunks - 1) / chunks;
    column_sum_partial_kernel<<<dim3((c + 31) / 32, chunks), dim3(32, 8), 0, s>>>(scratch, dy, n, c, rows);
    column_sum_reduce_kernel<<<(c + 255) / 256, 256, 0, s>>>(db, scratch, chunks, c);
    return cudaGetLastError();
}

// Four BF16 values: the 8-byte store of one float4's cast.
struct alignas(8) Bf16x4 {
    __nv_bfloat162 lo, hi;
};

// dst[i] = BF16(src[i]), round to nearest even (torch's .to(torch.bfloat16)). vec (the caller checked src is 16-
// and dst 8-byte aligned): each thread casts a float4 into one 8-byte store, memory-bound as a cast is; the last
// count mod 4 elements, or all of them when not vec, one by one.
__global__ void cast_to_bf16_kernel(__nv_bfloat16* __restrict__ dst, const float* __restrict__ src, int64_t count,
                                    bool vec) {
    const int64_t first = blockIdx.x * (int64_t)blockDim.x + threadIdx.x, stride = (int64_t)gridDim.x * blockDim.x;
    const int64_t quads = vec ? count / 4 : 0;
    for (int64_t q = first; q < quads; q += stride) {
        const float4 v = reinterpret_cast<const float4*>(src)[q];
        Bf16x4 out;
        out.lo = __floats2bfloat162_rn(v.x, v.y);  // .x ← first argument: element order is kept
        out.hi = __floats2bfloat162_rn(v.z, v.w);
        reinterpret_cast<Bf16x4*>(dst)[q] = out;
    }
    for (int64_t e = 4 * quads + first; e < count; e += stride) dst[e] = __float2bfloat16_rn(src[e]);
}

cudaError_t cast_to_bf16(cudaStream_t s, __nv_bfloat16* dst, const float* src, int64_t count) {
    if (count <= 0) return cudaSuccess;
    const bool vec = (reinterpret_cast<uintptr_t>(src) % 16 == 0) && (reinterpret_cast<uintptr_t>(dst) % 8 == 0);
    cast_to_bf16_kernel<<<grid_for(vec ? (count + 3) / 4 : count, 256), 256, 0, s>>>(dst, src, count, vec);
    return cudaGetLastError();
}

}  // namespace i4t::nn
