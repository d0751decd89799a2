// context.cu — the context: device, own or borrowed stream, growable stream-ordered workspace.
#include "runtime/context.cuh"
#include "runtime/status.cuh"
#include "runtime/arena.cuh"
#include "runtime/launch.cuh"
#include "runtime/handles.cuh"

#include <new>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

namespace i4t {

int4train_status enter(int4train_context ctx, const char* fn) {
    I4T_TRY(handle_check(ctx, HandleKind::Context, fn));
    I4T_TRY(check_no_pending_error(fn));
    if (ctx->borrowed_context) return INT4TRAIN_SUCCESS;  // the caller keeps its own CUDA context current
    int cur = -1;
    cudaError_t e = cudaGetDevice(&cur);
    if (e != cudaSuccess) (void)cudaGetLastError();  // answered by the cudaSetDevice below; must not stay pending
    if (e != cudaSuccess || cur != ctx->device) {
        e = cudaSetDevice(ctx->device);
        if (e != cudaSuccess) return fail_cuda(e, fn);
    }
    return INT4TRAIN_SUCCESS;
}

int4train_status ensure_workspace(int4train_context ctx, size_t bytes) {
    if (bytes <= ctx->ws_bytes) return INT4TRAIN_SUCCESS;
    size_t grow = ctx->ws_bytes + ctx->ws_bytes / 2;
    if (grow > bytes) bytes = grow;
    bytes = align_up(bytes, (size_t)1 << 20);
    if (ctx->ws) {
        if (ctx->borrowed_context) {
            // Plain allocation: queued work that uses the old buffer must finish first (rare: growth only).
            I4T_CUDA(cudaStreamSynchronize(ctx->stream));
            I4T_CUDA(cudaFree(ctx->ws));
        } else {
            // Stream-ordered: earlier work on this stream that uses the old buffer completes first.
            I4T_CUDA(cudaFreeAsync(ctx->ws, ctx->stream));
        }
        ctx->ws = nullptr;
        ctx->ws_bytes = 0;
    }
    void* p = nullptr;
    cudaError_t e = ctx->borrowed_context ? cudaMalloc(&p, bytes) : cudaMallocAsync(&p, bytes, ctx->stream);
    if (e != cudaSuccess) {
        // Only an allocation failure is OUT_OF_MEMORY; any other error (e.g. a sticky fault from earlier work) keeps
        // its own status and name (fail_cuda).
        char what[96];
        snprintf(what, sizeof what, "workspace allocation of %zu bytes", bytes);
        return fail_cuda(e, what);
    }
    ctx->ws = p;
    ctx->ws_bytes = bytes;
    return INT4TRAIN_SUCCESS;
}

int4train_status make_arena(int4train_context ctx, const Plan& plan, Arena* out) {
    I4T_TRY(ensure_workspace(ctx, plan.bytes));
    out->base = static_cast<char*>(ctx->ws);
    out->cap = ctx->ws_bytes;
    out->used = 0;
    out->overflow = false;
    return INT4TRAIN_SUCCESS;
}

}  // namespace i4t

using namespace i4t;

// The part of context creation shared by the owning and the borrowing constructor: fill in the device facts and
// create the context's own non-blocking stream (in whichever CUDA context is current).
static int4train_status new_context(int device, const cudaDeviceProp& prop, bool borrowed, int4train_context* h_out) {
    auto* ctx = new (std::nothrow) int4train_context_s();
    if (!ctx) return fail(INT4TRAIN_ERROR_OUT_OF_MEMORY, "int4train_context_create: host allocation of the context failed");
    ctx->device = device;
    ctx->borrowed_context = borrowed;
    ctx->cc = prop.major * 10 + prop.minor;
    ctx->sm_count = prop.multiProcessorCount;
    const char* ff = getenv("INT4TRAIN_FORCE_FALLBACK_GEMM");
    ctx->force_fallback_gemm = ff && ff[0] == '1';
    const char* gk = getenv("INT4TRAIN_GENERIC_KERNELS");
    ctx->generic_kernels = gk && gk[0] == '1';
    strncpy(ctx->name, prop.name, sizeof ctx->name - 1);
    cudaError_t e = cudaStreamCreateWithFlags(&ctx->own, cudaStreamNonBlocking);
    if (e != cudaSuccess) {
        delete ctx;
        return fail_cuda(e, "cudaStreamCreateWithFlags");
    }
    ctx->stream = ctx->own;
    int4train_status st = handle_register(ctx, HandleKind::Context, "int4train_context_create");
    if (st != INT4TRAIN_SUCCESS) {
        cudaStreamDestroy(ctx->own);
        delete ctx;
        return st;
    }
    *h_out = ctx;
    return INT4TRAIN_SUCCESS;
}

extern "C" {

INT4TRAIN_API int4train_status int4train_context_create(int device, int4train_context* h_out) {
    I4T_NOTNULL(h_out);
    *h_out = nullptr;
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0) {
        (void)cudaGetLastError();
        return fail(INT4TRAIN_ERROR_NO_DEVICE, "int4train_context_create: no CUDA device available%s%s", e != cudaSuccess ? ": " : "",
                    e != cudaSuccess ? cudaGetErrorString(e) : "");
    }
    if (device < 0 || device >= count)
        return fail(INT4TRAIN_ERROR_NO_DEVICE, "int4train_context_create: device index %d out of range (%d devices)", device, count);
    I4T_CUDA(cudaSetDevice(device));
    cudaDeviceProp prop;
    I4T_CUDA(cudaGetDeviceProperties(&prop, device));
    int pools = 0;
    I4T_CUDA(cudaDeviceGetAttribute(&pools, cudaDevAttrMemoryPoolsSupported, device));
    if (!pools) return fail(INT4TRAIN_ERROR_NOT_SUPPORTED, "int4train_context_create: device %d lacks stream-ordered memory pools", device);
    return new_context(device, prop, /*borrowed=*/false, h_out);
}

INT4TRAIN_API int4train_status int4train_context_create_current(int4train_context* h_out) {
    I4T_NOTNULL(h_out);
    *h_out = nullptr;
    // cudaGetDevice reports the device of the context current on this thread (the runtime picks up a context
    // made current through the driver API instead of creating its own); no cudaSetDevice, which would switch this
    // thread to the device's primary context.
    int device = -1;
    cudaError_t e = cudaGetDevice(&device);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return fail(INT4TRAIN_ERROR_NO_DEVICE, "int4train_context_create_current: no CUDA context is current on this thread: %s", cudaGetErrorString(e));
    }
    cudaDeviceProp prop;
    I4T_CUDA(cudaGetDeviceProperties(&prop, device));
    return new_context(device, prop, /*borrowed=*/true, h_out);
}

INT4TRAIN_API int4train_status int4train_context_destroy(int4train_context ctx) {
    if (ctx == nullptr) return INT4TRAIN_SUCCESS;
    // Unregistered first: a second destroy of the same handle is refused here instead of freeing twice.
    I4T_TRY(handle_unregister(ctx, HandleKind::Context, "int4train_context_destroy"));
    // A pending error is reported, but the context is still freed (a destroy that fails must not leak).
    int4train_status st = check_no_pending_error("int4train_context_destroy");
    // Each later failure is reported when it is the first, and cleared either way (nothing stays pending).
    auto keep = [&st](cudaError_t e, const char* what) {
        if (e == cudaSuccess) return;
        if (st == INT4TRAIN_SUCCESS) st = fail_cuda(e, "int4train_context_destroy", what);
        else (void)cudaGetLastError();
    };
    if (!ctx->borrowed_context) keep(cudaSetDevice(ctx->device), "cudaSetDevice");
    if (ctx->ws && ctx->borrowed_context) {
        keep(cudaStreamSynchronize(ctx->stream), "cudaStreamSynchronize");
        keep(cudaFree(ctx->ws), "cudaFree(workspace)");
    } else if (ctx->ws) {
        keep(cudaFreeAsync(ctx->ws, ctx->stream), "cudaFreeAsync(workspace)");
        keep(cudaStreamSynchronize(ctx->stream), "cudaStreamSynchronize");
    }
    if (ctx->own) keep(cudaStreamDestroy(ctx->own), "cudaStreamDestroy");
    delete ctx;
    return st;
}

INT4TRAIN_API int4train_status int4train_context_set_stream(int4train_context ctx, void* stream) {
    I4T_TRY(enter(ctx, __func__));
    cudaStream_t next = stream ? static_cast<cudaStream_t>(stream) : ctx->own;
    if (next == ctx->stream) return INT4TRAIN_SUCCESS;
    // Work already queued on the old stream may still use the workspace: the new stream waits for it
    // (an event, not a host synchronisation).
    cudaEvent_t ev;
    I4T_CUDA(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming));
    cudaError_t e = cudaEventRecord(ev, ctx->stream);
    if (e == cudaSuccess) e = cudaStreamWaitEvent(next, ev, 0);
    cudaError_t destroyed = cudaEventDestroy(ev);
    if (e == cudaSuccess) e = destroyed;
    if (e != cudaSuccess) return fail_cuda(e, "int4train_context_set_stream");
    ctx->stream = next;
    return INT4TRAIN_SUCCESS;
}

INT4TRAIN_API int4train_status int4train_context_get_stream(int4train_context ctx, void** h_stream) {
    I4T_TRY(handle_check(ctx, HandleKind::Context, __func__));
    I4T_NOTNULL(h_stream);
    *h_stream = static_cast<void*>(ctx->stream);
    return INT4TRAIN_SUCCESS;
}

INT4TRAIN_API int4train_status int4train_context_synchronize(int4train_context ctx) {
    I4T_TRY(enter(ctx, __func__));
    I4T_CUDA(cudaStreamSynchronize(ctx->stream));
    I4T_CUDA(cudaGetLastError());
    return INT4TRAIN_SUCCESS;
}

INT4TRAIN_API int4train_status int4train_context_info(int4train_context ctx, char* h_name, int name_capacity,
                                                      int* h_compute_capability, size_t* h_workspace_bytes) {
    I4T_TRY(handle_check(ctx, HandleKind::Context, __func__));
    I4T_ALIGNED(h_compute_capability);
    I4T_ALIGNED(h_workspace_bytes);
    if (h_name) {
        if (name_capacity <= 0)
            return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "%s: name_capacity (%d) must be positive", __func__, name_capacity);
        strncpy(h_name, ctx->name, (size_t)name_capacity - 1);
        h_name[name_capacity - 1] = 0;
    }
    if (h_compute_capability) *h_compute_capability = ctx->cc;
    if (h_workspace_bytes) *h_workspace_bytes = ctx->ws_bytes;
    return INT4TRAIN_SUCCESS;
}

}  // extern "C"
