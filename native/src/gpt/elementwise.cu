// elementwise.cu — GELU, residual + dropout, dropout backward, bias broadcast and the bias gradient (column sums).
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

}  // namespace i4t::nn
