// gemm_s8_fallback.cu — portable int8 TN GEMM (c[m,n] = Σ_k a[m,k]·b[n,k], INT32) for devices or builds without
// the SM90 CUTLASS kernel (sm_80/86/89 builds). Simple shared-memory tiling with __dp4a; exact in INT32.
#include "runtime/status.cuh"
#include "runtime/launch.cuh"
#include "gemm/gemm.cuh"

namespace i4t {

constexpr int kFbTile = 32;   // 32×32 outputs per CTA
constexpr int kFbK = 32;      // k step (bytes)

__global__ void __launch_bounds__(256) gemm_fallback_kernel(const int8_t* __restrict__ a, const int8_t* __restrict__ b,
                                                            int32_t* c, int m, int n, int k) {
    __shared__ int sa[kFbTile][kFbK / 4 + 1];
    __shared__ int sb[kFbTile][kFbK / 4 + 1];
    int tx = threadIdx.x % 32, ty = threadIdx.x / 32;  // 32 × 8
    int m0 = blockIdx.y * kFbTile, n0 = blockIdx.x * kFbTile;
    int acc[4] = {0, 0, 0, 0};
    for (int k0 = 0; k0 < k; k0 += kFbK) {
        // load 32 rows × 8 words of a and of b
        for (int idx = threadIdx.x; idx < kFbTile * (kFbK / 4); idx += 256) {
            int r = idx / (kFbK / 4), w = idx % (kFbK / 4);
            int ra = m0 + r, rb = n0 + r;
            sa[r][w] = ra < m ? *reinterpret_cast<const int*>(a + (int64_t)ra * k + k0 + 4 * w) : 0;
            sb[r][w] = rb < n ? *reinterpret_cast<const int*>(b + (int64_t)rb * k + k0 + 4 * w) : 0;
        }
        __syncthreads();
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            int row = ty + 8 * i;
#pragma unroll
            for (int w = 0; w < kFbK / 4; ++w) acc[i] = __dp4a(sa[row][w], sb[tx][w], acc[i]);
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        int row = m0 + ty + 8 * i, col = n0 + tx;
        if (row < m && col < n) c[(int64_t)row * n + col] = acc[i];
    }
}

int4train_status gemm_fallback(cudaStream_t stream, const int8_t* a, const int8_t* b, int32_t* c, int m, int n, int k) {
    dim3 grid((unsigned)ceil_div(n, kFbTile), (unsigned)ceil_div(m, kFbTile));
    if (grid.y > 65535) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "fallback GEMM: m too large");
    gemm_fallback_kernel<<<grid, 256, 0, stream>>>(a, b, c, m, n, k);
    I4T_LAUNCH("gemm_fallback_kernel");
    return INT4TRAIN_SUCCESS;
}

}  // namespace i4t
