// fp8_cast.cu — per-tensor amax and the scaled (transposing) casts of the FP8 baseline (fp8_cast.cuh). Both are
// memory-bound single passes: 16-byte vector loads of 8 BF16 values, the amax reduced by warp shuffles and one
// atomicMax per block, the cast staged through shared memory so the transposed copy is written with 16-byte stores.
#include "fp8_cast.cuh"
#include "runtime/launch.cuh"

namespace i4t {
namespace bench {

namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ float abs_max8(const uint4& v) {
    const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&v);
    float m = 0.0f;
#pragma unroll
    for (int p = 0; p < 4; ++p) {
        const float2 f = __bfloat1622float2(h[p]);
        m = fmaxf(m, fmaxf(fabsf(f.x), fabsf(f.y)));
    }
    return m;
}

__device__ __forceinline__ float warp_max(float m) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
    return m;
}

// Grid-stride over 8-value vectors (two in flight per iteration), the count % 8 tail by block 0. The block's maximum
// goes to *amax by atomicMax on its bits: for non-negative IEEE floats the unsigned order of the bits is the order of
// the values, and *amax starts at +0.
__global__ void __launch_bounds__(kThreads) amax_bf16_kernel(const __nv_bfloat16* __restrict__ x, int64_t count,
                                                             float* __restrict__ amax) {
    const uint4* v = reinterpret_cast<const uint4*>(x);
    const int64_t vecs = count / 8, stride = (int64_t)gridDim.x * blockDim.x;
    float m = 0.0f;
    int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    for (; i + stride < vecs; i += 2 * stride) {
        const uint4 a = v[i], b = v[i + stride];
        m = fmaxf(m, fmaxf(abs_max8(a), abs_max8(b)));
    }
    if (i < vecs) m = fmaxf(m, abs_max8(v[i]));
    if (blockIdx.x == 0)
        for (int64_t t = vecs * 8 + threadIdx.x; t < count; t += blockDim.x) m = fmaxf(m, fabsf(__bfloat162float(x[t])));
    __shared__ float per_warp[kThreads / 32];
    m = warp_max(m);
    if (threadIdx.x % 32 == 0) per_warp[threadIdx.x / 32] = m;
    __syncthreads();
    if (threadIdx.x < 32) {
        m = warp_max(threadIdx.x < kThreads / 32 ? per_warp[threadIdx.x] : 0.0f);
        if (threadIdx.x == 0) atomicMax(reinterpret_cast<unsigned int*>(amax), __float_as_uint(m));
    }
}

// One block casts a 128-row × 64-column tile. Thread (tx = t % 8, ty = t / 8) loads rows 4·ty .. 4·ty+3 of columns
// 8·tx .. 8·tx+7 (four 16-byte loads; 8 threads read a 128-byte row segment), writes its 4 × 8 FP8 bytes row-major
// (8-byte stores) and keeps them as 8 words, word j = the 4 rows of column 8·tx + j, which is exactly 4 consecutive
// bytes of the transposed output. The words go to shared memory as tile_t[column][row / 4] (33 words a column: the
// word stores are at most 2-way bank-conflicted, the transposed reads conflict-free); the transposed rows (input
// columns) are then written 16 bytes (16 input rows) per thread, 8 threads per 128-byte transposed row segment.
constexpr int kTileRows = 128, kTileCols = 64;

template <__nv_fp8_interpretation_t Kind>
__global__ void __launch_bounds__(kThreads) cast_transpose_kernel(const __nv_bfloat16* __restrict__ x, int rows, int cols,
                                                                  const float* __restrict__ amax, float fp8_max,
                                                                  uint8_t* __restrict__ out, uint8_t* __restrict__ out_t,
                                                                  float* __restrict__ scale_inv) {
    __shared__ uint32_t tile_t[kTileCols][kTileRows / 4 + 1];
    const float a = *amax;
    const float scale = (a > 0.0f && isfinite(a)) ? fp8_max / a : 1.0f;
    if (blockIdx.x == 0 && blockIdx.y == 0 && threadIdx.x == 0) *scale_inv = 1.0f / scale;
    const int tx = threadIdx.x % 8, ty = threadIdx.x / 8;
    const int r0 = blockIdx.y * kTileRows, c0 = blockIdx.x * kTileCols, col = c0 + 8 * tx;
    uint32_t words[8] = {0, 0, 0, 0, 0, 0, 0, 0};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const int row = r0 + 4 * ty + i;
        if (row >= rows || col >= cols) continue;
        const uint4 v = *reinterpret_cast<const uint4*>(x + (int64_t)row * cols + col);
        const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&v);
        uint32_t q[2] = {0, 0};
#pragma unroll
        for (int p = 0; p < 4; ++p) {
            float2 f = __bfloat1622float2(h[p]);
            f.x *= scale;
            f.y *= scale;
            // low byte = f.x (column 8·tx + 2p), high byte = f.y (column 8·tx + 2p + 1)
            const uint32_t two = __nv_cvt_float2_to_fp8x2(f, __NV_SATFINITE, Kind);
            q[p / 2] |= two << (16 * (p % 2));
            words[2 * p] |= (two & 0xffu) << (8 * i);
            words[2 * p + 1] |= (two >> 8) << (8 * i);
        }
        *reinterpret_cast<uint2*>(out + (int64_t)row * cols + col) = make_uint2(q[0], q[1]);
    }
    if (out_t == nullptr) return;  // the same for every thread of the launch
#pragma unroll
    for (int j = 0; j < 8; ++j) tile_t[8 * tx + j][ty] = words[j];
    __syncthreads();
#pragma unroll
    for (int pass = 0; pass < 2; ++pass) {
        const int cc = threadIdx.x / 8 + 32 * pass, seg = threadIdx.x % 8;
        const int c = c0 + cc, r = r0 + 16 * seg;
        if (c >= cols || r >= rows) continue;  // rows % 16 == 0: a 16-row segment is all in or all out
        const uint32_t* w = tile_t[cc] + 4 * seg;
        *reinterpret_cast<uint4*>(out_t + (int64_t)c * rows + r) = make_uint4(w[0], w[1], w[2], w[3]);
    }
}

}  // namespace

int4train_status fp8_amax(cudaStream_t s, int sm_count, const __nv_bfloat16* x, int64_t count, float* d_amax) {
    if (count <= 0 || (uintptr_t)x % 16) return fail(INT4TRAIN_ERROR_INTERNAL, "fp8_amax: empty or unaligned input");
    const int64_t vecs = count / 8;
    int64_t blocks = ceil_div(vecs > 0 ? vecs : 1, (int64_t)kThreads);
    const int64_t cap = (int64_t)(sm_count > 0 ? sm_count : 132) * 8;  // 8 resident blocks of 256 per SM
    if (blocks > cap) blocks = cap;
    amax_bf16_kernel<<<(unsigned)blocks, kThreads, 0, s>>>(x, count, d_amax);
    I4T_LAUNCH("amax_bf16_kernel");
    return INT4TRAIN_SUCCESS;
}

int4train_status fp8_cast_transpose(cudaStream_t s, const __nv_bfloat16* x, int rows, int cols,
                                    __nv_fp8_interpretation_t kind, const float* d_amax, uint8_t* out, uint8_t* out_t,
                                    float* d_scale_inv) {
    if (rows <= 0 || cols <= 0 || rows % 16 || cols % 16)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "fp8 cast: %d x %d is not a multiple of 16 both ways", rows, cols);
    if ((uintptr_t)x % 16 || (uintptr_t)out % 16 || (uintptr_t)out_t % 16)
        return fail(INT4TRAIN_ERROR_INTERNAL, "fp8 cast: unaligned buffers");
    const int64_t ty = ceil_div((int64_t)rows, (int64_t)kTileRows);
    if (ty > 65535) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "fp8 cast: %d rows are too many", rows);
    const dim3 grid((unsigned)ceil_div((int64_t)cols, (int64_t)kTileCols), (unsigned)ty);
    if (kind == __NV_E4M3)
        cast_transpose_kernel<__NV_E4M3><<<grid, kThreads, 0, s>>>(x, rows, cols, d_amax, kE4m3Max, out, out_t, d_scale_inv);
    else
        cast_transpose_kernel<__NV_E5M2><<<grid, kThreads, 0, s>>>(x, rows, cols, d_amax, kE5m2Max, out, out_t, d_scale_inv);
    I4T_LAUNCH("cast_transpose_kernel");
    return INT4TRAIN_SUCCESS;
}

}  // namespace bench
}  // namespace i4t
