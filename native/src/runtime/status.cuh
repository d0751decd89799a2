// status.cuh — error reporting of libint4train: the per-thread last-error text behind every status code the C ABI
// returns, the mapping of CUDA errors to statuses, and the early-return macros every entry point uses.
#pragma once

#include <cuda_runtime.h>
#include <stdint.h>

#include "int4train.h"

namespace i4t {

// ---- errors ------------------------------------------------------------------------------------------------
// Sets the thread's last-error text (printf-style) and returns `st`.
int4train_status fail(int4train_status st, const char* fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
// Maps a CUDA error to INT4TRAIN_ERROR_CUDA (or OUT_OF_MEMORY / NO_DEVICE) with cudaGetErrorString; clears
// the sticky-free error state with cudaGetLastError.
int4train_status fail_cuda(cudaError_t e, const char* what);

#define I4T_CUDA(call)                                                                  \
    do {                                                                                \
        cudaError_t i4t_e_ = (call);                                                    \
        if (i4t_e_ != cudaSuccess) return ::i4t::fail_cuda(i4t_e_, #call);              \
    } while (0)
// After a kernel launch: reports launch-configuration errors (asynchronous faults surface later).
#define I4T_LAUNCH(what)                                                                \
    do {                                                                                \
        cudaError_t i4t_e_ = cudaGetLastError();                                        \
        if (i4t_e_ != cudaSuccess) return ::i4t::fail_cuda(i4t_e_, what);               \
    } while (0)
#define I4T_TRY(expr)                                                                   \
    do {                                                                                \
        int4train_status i4t_s_ = (expr);                                               \
        if (i4t_s_ != INT4TRAIN_SUCCESS) return i4t_s_;                                 \
    } while (0)
#define I4T_NOTNULL(p)                                                                  \
    do {                                                                                \
        if ((p) == nullptr) return ::i4t::fail(INT4TRAIN_ERROR_NULL_POINTER, "%s: %s is NULL", __func__, #p); \
    } while (0)

}  // namespace i4t
