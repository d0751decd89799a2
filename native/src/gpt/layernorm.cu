// layernorm.cu — LayerNorm over the C features of each token row (eps 1e-5, biased variance), one warp per row.
#include "nn.cuh"
#include "device_util.cuh"

namespace i4t::nn {

__global__ void layernorm_forward_kernel(float* __restrict__ out, float* __restrict__ mean, float* __restrict__ rstd,
                                         const float* __restrict__ x, const float* __restrict__ w,
                                         const float* __restrict__ b, int n, int c) {
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= n) return;
    const float* xr = x + (int64_t)row * c;
    float s = 0.0f;
    for (int i = lane; i < c; i += 32) s += xr[i];
    float mu = warp_sum(s) / c;
    float q = 0.0f;
    for (int i = lane; i < c; i += 32) { float d = xr[i] - mu; q += d * d; }
    float rs = rsqrtf(warp_sum(q) / c + 1e-5f);
    float* orow = out + (int64_t)row * c;
    for (int i = lane; i < c; i += 32) orow[i] = (xr[i] - mu) * rs * w[i] + b[i];
    if (lane == 0 && mean) { mean[row] = mu; rstd[row] = rs; }
}

cudaError_t layernorm_forward(cudaStream_t s, float* out, float* mean, float* rstd, const float* x, const float* w,
                              const float* b, int n, int c) {
    layernorm_forward_kernel<<<(n + 7) / 8, 256, 0, s>>>(out, mean, rstd, x, w, b, n, c);
    return cudaGetLastError();
}

constexpr int kLnWarps = 8;

static int ln_blocks(int n) { return n < 8 * 512 ? (n + 7) / 8 : 512; }

size_t layernorm_backward_scratch(int n, int c) { return (size_t)ln_blocks(n) * 2 * c; }

// Each block owns a fixed range of rows; its 8 warps accumulate dw/db partials in shared memory (one array per warp),
// summed in warp order into partial[block] = {dw[C], db[C]}. ∂x is added to dx row by row.
__global__ void layernorm_backward_kernel(float* __restrict__ dx, float* __restrict__ partial,
                                          const float* __restrict__ dout, const float* __restrict__ x,
                                          const float* __restrict__ w, const float* __restrict__ mean,
                                          const float* __restrict__ rstd, int n, int c, int rows_per_block) {
    extern __shared__ float sh[];  // [kLnWarps][2][c]
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    for (int i = threadIdx.x; i < kLnWarps * 2 * c; i += blockDim.x) sh[i] = 0.0f;
    __syncthreads();
    float* sdw = sh + (size_t)warp * 2 * c;
    float* sdb = sdw + c;
    int r0 = blockIdx.x * rows_per_block, r1 = min(n, r0 + rows_per_block);
    for (int row = r0 + warp; row < r1; row += kLnWarps) {
        const float* xr = x + (int64_t)row * c;
        const float* dr = dout + (int64_t)row * c;
        float mu = mean[row], rs = rstd[row];
        float a = 0.0f, bsum = 0.0f;
        for (int i = lane; i < c; i += 32) {
            float xh = (xr[i] - mu) * rs, g = dr[i] * w[i];
            a += g;
            bsum += g * xh;
        }
        a = warp_sum(a) / c;
        bsum = warp_sum(bsum) / c;
        float* dxr = dx + (int64_t)row * c;
        for (int i = lane; i < c; i += 32) {
            float xh = (xr[i] - mu) * rs, d = dr[i];
            dxr[i] += (d * w[i] - a - xh * bsum) * rs;
            sdw[i] += d * xh;
            sdb[i] += d;
        }
    }
    __syncthreads();
    for (int i = threadIdx.x; i < 2 * c; i += blockDim.x) {
        float acc = 0.0f;
        for (int k = 0; k < kLnWarps; ++k) acc += sh[(size_t)k * 2 * c + i];
        partial[(size_t)blockIdx.x * 2 * c + i] = acc;
    }
}

__global__ void layernorm_param_reduce_kernel(float* __restrict__ dw, float* __restrict__ db,
                                              const float* __restrict__ partial, int blocks, int c) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= 2 * c) return;
    float acc = 0.0f;
    for (int k = 0; k < blocks; ++k) acc += partial[(size_t)k * 2 * c + i];
    if (i < c) dw[i] += acc;
    else db[i - c] += acc;
}

cudaError_t layernorm_backward(cudaStream_t s, float* dx, float* dw, float* db, const float* dout, const float* x,
                               const float* w, const float* mean, const float* rstd, int n, int c, float* scratch) {
    int blocks = ln_blocks(n);
    int rows = (n + blocks - 1) / blocks;
    size_t shmem = sizeof(float) * kLnWarps * 2 * (size_t)c;
    if (shmem > 48 * 1024) {
        cudaError_t e = cudaFuncSetAttribute(layernorm_backward_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             (int)shmem);
        if (e != cudaSuccess) return e;
    }
    layernorm_backward_kernel<<<blocks, 32 * kLnWarps, shmem, s>>>(dx, scratch, dout, x, w, mean, rstd, n, c, rows);
    layernorm_param_reduce_kernel<<<(2 * c + 255) / 256, 256, 0, s>>>(dw, db, scratch, blocks, c);
    return cudaGetLastError();
}

}  // namespace i4t::nn
