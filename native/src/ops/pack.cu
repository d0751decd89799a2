// pack.cu — INT4 packing (method.md §2.3 step 3): byte j of a row = (q[2j+1] << 4) | (q[2j] & 0xF); unpacking,
// padded, and gathering packed rows. The transposing unpack of the LSS GEMM operands: transpose_codes.cu.
#include "runtime/status.cuh"
#include "runtime/context.cuh"
#include "runtime/launch.cuh"
#include "ops/operators.cuh"
#include "ops/int4_nibbles.cuh"

namespace i4t {

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
