// pack.cu — INT4 packing (method.md §2.3 step 3): byte j of a row = (q[2j+1] << 4) | (q[2j] & 0xF).
#include "runtime/status.cuh"
#include "runtime/context.cuh"
#include "runtime/launch.cuh"
#include "ops/operators.cuh"

namespace i4t {

__device__ __forceinline__ int lo_nibble(uint8_t b) { return ((int)(b & 0xF) ^ 8) - 8; }   // sign-extend 4 bits
__device__ __forceinline__ int hi_nibble(uint8_t b) { return ((int)(b >> 4) ^ 8) - 8; }

__global__ void pack_kernel(const int8_t* __restrict__ q, uint8_t* packed, int64_t nbytes) {
    for (int64_t j = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; j < nbytes; j += (int64_t)gridDim.x * blockDim.x)
        packed[j] = (uint8_t)(((int)q[2 * j + 1] << 4) | ((int)q[2 * j] & 0xF));
}

__global__ void unpack_kernel(const uint8_t* __restrict__ packed, int8_t* q, int64_t nbytes) {
    for (int64_t j = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; j < nbytes; j += (int64_t)gridDim.x * blockDim.x) {
        uint8_t b = packed[j];
        q[2 * j] = (int8_t)lo_nibble(b);
        q[2 * j + 1] = (int8_t)hi_nibble(b);
    }
}

// out (rows_pad × ld): out[r, c] = code (r < rows, c < cols), else 0. One thread per output pair, row-strided
// (row_grid(ld / 2, rows_pad)).
__global__ void unpack_pad_kernel(const uint8_t* __restrict__ packed, int rows, int cols, int8_t* out, int rows_pad,
                                  int ld) {
    const int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= ld / 2) return;
    for (int r = blockIdx.y; r < rows_pad; r += gridDim.y) {
        char2 v;
        v.x = 0;
        v.y = 0;
        if (r < rows && 2 * j + 1 < cols) {
            uint8_t b = packed[(int64_t)r * (cols / 2) + j];
            v.x = (char)lo_nibble(b);
            v.y = (char)hi_nibble(b);
        }
        *reinterpret_cast<char2*>(out + (int64_t)r * ld + 2 * j) = v;
    }
}

// out (cols_pad × ld_rows): out[c, r] = code[r, c] for r < rows, c < cols; zero elsewhere (32×32 smem tiles).
__global__ void unpack_transpose_pad_kernel(const uint8_t* __restrict__ packed, int rows, int cols, int8_t* out,
                                            int cols_pad, int ld_rows) {
    __shared__ int8_t tile[32][33];
    int r0 = blockIdx.y * 32, c0 = blockIdx.x * 32;
    int tx = threadIdx.x, ty = threadIdx.y;  // 32 × 8
    for (int k = ty; k < 32; k += 8) {
        int r = r0 + k, c = c0 + tx;
        int8_t v = 0;
        if (r < rows && c < cols) {
            uint8_t b = packed[(int64_t)r * (cols / 2) + (c >> 1)];
            v = (int8_t)((c & 1) ? hi_nibble(b) : lo_nibble(b));
        }
        tile[k][tx] = v;
    }
    __syncthreads();
    for (int k = ty; k < 32; k += 8) {
        int c = c0 + k, r = r0 + tx;
        if (c < cols_pad && r < ld_rows) out[(int64_t)c * ld_rows + r] = tile[tx][k];
    }
}

// The same transpose with 64 × 64 tiles for the LSS GEMM operands (d % 8 == 0, ld_rows % 16 == 0, out 16-byte
// aligned): each thread loads two 4-byte words (8 codes) of a packed row, the tile is transposed in shared memory,
// and each thread stores 16 consecutive tokens of one column as one 16-byte store.
constexpr int kTransTile = 64;
__global__ void __launch_bounds__(256) unpack_transpose_wide_kernel(const uint8_t* __restrict__ packed, int rows,
                                                                    int cols, int8_t* out, int cols_pad, int ld_rows) {
    __shared__ __align__(16) int8_t tile[kTransTile][kTransTile + 16];  // [column][row]
    const int r0 = blockIdx.y * kTransTile, c0 = blockIdx.x * kTransTile;
    const int words = cols / 8;  // 4-byte words per packed row
#pragma unroll
    for (int q = 0; q < 2; ++q) {
        const int e = threadIdx.x + 256 * q;  // 512 words: 64 rows × 8 words
        const int tr = e / 8, wi = e % 8;
        const int r = r0 + tr, w = c0 / 8 + wi;
        uint32_t v = 0;
        if (r < rows && w < words) v = reinterpret_cast<const uint32_t*>(packed + (int64_t)r * (cols / 2))[w];
#pragma unroll
        for (int k = 0; k < 8; ++k) {
            const uint8_t b = (uint8_t)(v >> (4 * (k & ~1)));  // byte k/2 of the word
            tile[8 * wi + k][tr] = (int8_t)((k & 1) ? hi_nibble(b) : lo_nibble(b));
        }
    }
    __syncthreads();
    const int tc = threadIdx.x / 4, chunk = 16 * (threadIdx.x % 4);
    const int c = c0 + tc, r = r0 + chunk;
    if (c < cols_pad && r < ld_rows)
        *reinterpret_cast<int4*>(out + (int64_t)c * ld_rows + r) = *reinterpret_cast<const int4*>(&tile[tc][chunk]);
}

// out row j = packed row rows[j] for j < *count, zeros for the rest (the compacted ∇W's X rows, lss_compact.cu).
__global__ void gather_rows_kernel(const uint8_t* __restrict__ packed, int row_bytes, const int32_t* __restrict__ rows,
                                   const int32_t* count, uint8_t* out, int out_rows) {
    const int b = blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= row_bytes) return;
    const int kept = *count;
    for (int64_t j = blockIdx.y; j < out_rows; j += gridDim.y)
        out[j * row_bytes + b] = j < kept ? packed[(int64_t)rows[j] * row_bytes + b] : (uint8_t)0;
}

int4train_status gather_rows(int4train_context ctx, const uint8_t* packed, int row_bytes, const int32_t* rows,
                             const int32_t* count, uint8_t* out, int out_rows) {
    gather_rows_kernel<<<row_grid(row_bytes, out_rows), 256, 0, ctx->stream>>>(packed, row_bytes, rows, count, out,
                                                                               out_rows);
    I4T_LAUNCH("gather_rows_kernel");
    return INT4TRAIN_SUCCESS;
}

int4train_status unpack_pad(int4train_context ctx, const uint8_t* packed, int rows, int cols, int8_t* out,
                            int rows_pad, int ld) {
    if (ld % 2 != 0 || ld < cols || rows_pad < rows) return fail(INT4TRAIN_ERROR_INTERNAL, "unpack_pad: bad padding");
    unpack_pad_kernel<<<row_grid(ld / 2, rows_pad), 256, 0, ctx->stream>>>(packed, rows, cols, out, rows_pad, ld);
    I4T_LAUNCH("unpack_pad_kernel");
    return INT4TRAIN_SUCCESS;
}

int4train_status unpack_transpose_pad(int4train_context ctx, const uint8_t* packed, int rows, int cols, int8_t* out,
                                      int cols_pad, int ld_rows) {
    if (cols_pad < cols || ld_rows < rows) return fail(INT4TRAIN_ERROR_INTERNAL, "unpack_transpose_pad: bad padding");
    if (!ctx->generic_kernels && cols % 8 == 0 && ld_rows % 16 == 0 && (uintptr_t)out % 16 == 0 && (uintptr_t)packed % 4 == 0) {
        dim3 grid((unsigned)ceil_div(cols_pad, kTransTile), (unsigned)ceil_div(ld_rows, kTransTile));
        if (grid.y > 65535) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "unpack_transpose_pad: too many rows");
        unpack_transpose_wide_kernel<<<grid, 256, 0, ctx->stream>>>(packed, rows, cols, out, cols_pad, ld_rows);
        I4T_LAUNCH("unpack_transpose_wide_kernel");
        return INT4TRAIN_SUCCESS;
    }
    dim3 grid((unsigned)ceil_div(cols_pad, 32), (unsigned)ceil_div(ld_rows, 32));
    if (grid.y > 65535) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "unpack_transpose_pad: too many rows");
    unpack_transpose_pad_kernel<<<grid, dim3(32, 8), 0, ctx->stream>>>(packed, rows, cols, out, cols_pad, ld_rows);
    I4T_LAUNCH("unpack_transpose_pad_kernel");
    return INT4TRAIN_SUCCESS;
}

}  // namespace i4t

using namespace i4t;

extern "C" {

INT4TRAIN_API int4train_status int4train_pack_int4(int4train_context ctx, const int8_t* d_codes, uint8_t* d_packed,
                                                   int rows, int cols) {
    I4T_TRY(enter(ctx, __func__));
    I4T_NOTNULL(d_codes);
    I4T_NOTNULL(d_packed);
    if (rows <= 0 || cols <= 0 || cols % 2 != 0)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT,
                    "int4train_pack_int4: rows (%d) and cols (%d) must be positive and cols even", rows, cols);
    int64_t nbytes = (int64_t)rows * cols / 2;
    pack_kernel<<<grid_for(nbytes), 256, 0, ctx->stream>>>(d_codes, d_packed, nbytes);
    I4T_LAUNCH("pack_kernel");
    return INT4TRAIN_SUCCESS;
}

INT4TRAIN_API int4train_status int4train_unpack_int4(int4train_context ctx, const uint8_t* d_packed, int8_t* d_codes,
                                                     int rows, int cols) {
    I4T_TRY(enter(ctx, __func__));
    I4T_NOTNULL(d_packed);
    I4T_NOTNULL(d_codes);
    if (rows <= 0 || cols <= 0 || cols % 2 != 0)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT,
                    "int4train_unpack_int4: rows (%d) and cols (%d) must be positive and cols even", rows, cols);
    int64_t nbytes = (int64_t)rows * cols / 2;
    unpack_kernel<<<grid_for(nbytes), 256, 0, ctx->stream>>>(d_packed, d_codes, nbytes);
    I4T_LAUNCH("unpack_kernel");
    return INT4TRAIN_SUCCESS;
}

}  // extern "C"
