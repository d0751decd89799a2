// status.cu — per-thread last-error text and the library-level entry points (version, device count).

#include "runtime/status.cuh"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

namespace i4t {

static thread_local char t_last_error[1024] = {0};

int4train_status fail(int4train_status st, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t_last_error, sizeof t_last_error, fmt, ap);
    va_end(ap);
    return st;
}

int4train_status fail_cuda(cudaError_t e, const char* what) {
    (void)cudaGetLastError();  // clear a non-sticky error so later calls start clean
    int4train_status st = INT4TRAIN_ERROR_CUDA;
    if (e == cudaErrorMemoryAllocation) st = INT4TRAIN_ERROR_OUT_OF_MEMORY;
    else if (e == cudaErrorNoDevice || e == cudaErrorInvalidDevice || e == cudaErrorInsufficientDriver) st = INT4TRAIN_ERROR_NO_DEVICE;
    else if (e == cudaErrorNoKernelImageForDevice || e == cudaErrorUnsupportedPtxVersion) st = INT4TRAIN_ERROR_NOT_SUPPORTED;
    return fail(st, "%s: CUDA error %d (%s): %s%s", what, (int)e, cudaGetErrorName(e), cudaGetErrorString(e),
                is_sticky(e) ? " [sticky: a device-side fault left the CUDA context unusable; every later CUDA call "
                               "fails the same way until the process restarts]"
                             : "");
}

int4train_status fail_cuda(cudaError_t e, const char* fn, const char* what) {
    char both[256];
    snprintf(both, sizeof both, "%s: %s", fn, what);
    return fail_cuda(e, both);
}

bool is_sticky(cudaError_t e) {
    switch (e) {
        case cudaErrorIllegalAddress:
        case cudaErrorLaunchTimeout:
        case cudaErrorAssert:
        case cudaErrorHardwareStackError:
        case cudaErrorIllegalInstruction:
        case cudaErrorMisalignedAddress:
        case cudaErrorInvalidAddressSpace:
        case cudaErrorInvalidPc:
        case cudaErrorLaunchFailure:
        case cudaErrorECCUncorrectable:
        case cudaErrorMpsClientTerminated:
        case cudaErrorExternalDevice:
            return true;
        default:
            return false;
    }
}

int4train_status check_no_pending_error(const char* fn) {
    cudaError_t e = cudaGetLastError();  // reads and (unless sticky) clears
    if (e == cudaSuccess) return INT4TRAIN_SUCCESS;
    char what[256];
    snprintf(what, sizeof what, "%s: a CUDA error was already pending before this call (left by an earlier CUDA call; "
             "nothing was run)", fn);
    return fail_cuda(e, what);
}

}  // namespace i4t

extern "C" {

INT4TRAIN_API const char* int4train_last_error(void) { return i4t::t_last_error; }

INT4TRAIN_API int int4train_version(void) {
    return INT4TRAIN_VERSION_MAJOR * 10000 + INT4TRAIN_VERSION_MINOR * 100 + INT4TRAIN_VERSION_PATCH;
}

INT4TRAIN_API int4train_status int4train_device_count(int* h_count) {
    I4T_NOTNULL(h_count);
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        n = 0;  // no driver or no device: not an error
    }
    *h_count = n;
    return INT4TRAIN_SUCCESS;
}

}  // extern "C"
