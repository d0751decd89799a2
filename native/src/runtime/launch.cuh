// launch.cuh — integer size helpers and the two launch shapes of the kernels (grid-stride and row-strided).
#pragma once

#include <cuda_runtime.h>
#include <stdint.h>
#include <stddef.h>

namespace i4t {

__host__ __device__ inline size_t align_up(size_t x, size_t a) { return (x + a - 1) / a * a; }
__host__ __device__ inline int64_t round_up(int64_t x, int64_t a) { return (x + a - 1) / a * a; }
__host__ __device__ inline int64_t ceil_div(int64_t x, int64_t a) { return (x + a - 1) / a; }

#if defined(__CUDACC__)
// Row-strided launch shape (256-thread CTAs): x covers `cols_threads` threads of a row, y up to 65535 rows at a time
// (each CTA then loops over rows with stride gridDim.y). Kernels launched this way index (row, column) directly
// instead of dividing a flat 64-bit index per element (a 64-bit division costs ~70 instructions and made such
// grid-stride passes compute-bound: ncu 2026-11-23).
inline dim3 row_grid(int64_t cols_threads, int64_t rows) {
    const int64_t gx = ceil_div(cols_threads, 256);
    int64_t gy = rows < 1 ? 1 : rows;
    const int64_t cap = ceil_div((int64_t)65535 * 16, gx < 1 ? 1 : gx);  // the same block budget as grid_for
    if (gy > cap) gy = cap;
    if (gy > 65535) gy = 65535;
    if (gy < 1) gy = 1;
    return dim3((unsigned)gx, (unsigned)gy);
}
#endif

// Grid-stride launch helper.
inline unsigned grid_for(int64_t n, int threads = 256, int64_t max_blocks = 65535LL * 16) {
    int64_t b = ceil_div(n, threads);
    if (b < 1) b = 1;
    if (b > max_blocks) b = max_blocks;
    return (unsigned)b;
}

}  // namespace i4t
