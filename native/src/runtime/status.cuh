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
// the sticky-free error state with cudaGetLastError. A sticky error (a device-side fault) says so in the message.
int4train_status fail_cuda(cudaError_t e, const char* what);
// The same, the message starting "fn: what" (the macros below pass the enclosing function's name).
int4train_status fail_cuda(cudaError_t e, const char* fn, const char* what);
// True for the errors after which the CUDA context is unusable ("the process must be terminated and relaunched").
bool is_sticky(cudaError_t e);
// INT4TRAIN_ERROR_CUDA when a CUDA error was already pending on this thread before `fn` started (left by an earlier
// call, or by the caller's own CUDA work in the same runtime): reported as such, and cleared when it is not sticky,
// so it is neither attributed to `fn`'s own launches nor silently dropped. Every entry that uses CUDA runs it first
// (through enter(), context.cuh).
int4train_status check_no_pending_error(const char* fn);

// A pointer's address is a multiple of its element's alignment (float, int32: 4; double: 8; bytes: 1). The
// kernels need no more than that: their 16-byte vector paths check the address and fall back (docs in
// native/README.md "Entry-point contract"). void pointers carry no requirement.
template <class T>
inline bool misaligned(const T* p) { return ((uintptr_t)p % alignof(T)) != 0; }
inline bool misaligned(const void*) { return false; }
template <class T>
inline size_t alignment_of(const T*) { return alignof(T); }
inline size_t alignment_of(const void*) { return 1; }

#define I4T_CUDA(call)                                                                  \
    do {                                                                                \
        cudaError_t i4t_e_ = (call);                                                    \
        if (i4t_e_ != cudaSuccess) return ::i4t::fail_cuda(i4t_e_, __func__, #call);    \
    } while (0)
// After a kernel launch: reports launch-configuration errors (asynchronous faults surface later).
#define I4T_LAUNCH(what)                                                                \
    do {                                                                                \
        cudaError_t i4t_e_ = cudaGetLastError();                                        \
        if (i4t_e_ != cudaSuccess) return ::i4t::fail_cuda(i4t_e_, __func__, what);     \
    } while (0)
#define I4T_TRY(expr)                                                                   \
    do {                                                                                \
        int4train_status i4t_s_ = (expr);                                               \
        if (i4t_s_ != INT4TRAIN_SUCCESS) return i4t_s_;                                 \
    } while (0)
// A required pointer: not NULL, and aligned to its element type. The _IN forms name the entry point `fn` in the
// message (for an internal function that checks on behalf of a public one); the plain forms name the enclosing one.
#define I4T_NOTNULL_IN(fn, p)                                                           \
    do {                                                                                \
        if ((p) == nullptr) return ::i4t::fail(INT4TRAIN_ERROR_NULL_POINTER, "%s: %s is NULL", fn, #p); \
        I4T_ALIGNED_IN(fn, p);                                                          \
    } while (0)
// An optional pointer (NULL allowed): aligned to its element type when given.
#define I4T_ALIGNED_IN(fn, p)                                                           \
    do {                                                                                \
        if (::i4t::misaligned(p))                                                       \
            return ::i4t::fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "%s: %s (%p) is misaligned: it must be a multiple of %zu bytes", \
                               fn, #p, (const void*)(p), ::i4t::alignment_of(p)); \
    } while (0)
#define I4T_NOTNULL(p) I4T_NOTNULL_IN(__func__, p)
#define I4T_ALIGNED(p) I4T_ALIGNED_IN(__func__, p)

}  // namespace i4t
