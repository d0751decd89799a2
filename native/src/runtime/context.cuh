// context.cuh — the library context behind int4train_context (device, stream, workspace) and entering it.
#pragma once

#include <cuda_runtime.h>
#include <stddef.h>

#include "runtime/status.cuh"

struct int4train_context_s {
    int device = 0;
    int cc = 0;              // compute capability major*10+minor
    int sm_count = 0;
    bool force_fallback_gemm = false;  // env INT4TRAIN_FORCE_FALLBACK_GEMM=1 (testing the portable GEMM on Hopper)
    // env INT4TRAIN_GENERIC_KERNELS=1: skip the specialised fast paths (folded LSS, compacted Bernoulli GEMMs, warp LSQ
    // backward, wide transposes) so tests can check them against the generic kernels bit for bit.
    bool generic_kernels = false;
    char name[256] = {0};
    // Created by int4train_context_create_current: the library runs in whatever CUDA context the caller has made
    // current (ILGPU's CudaAccelerator uses its own cuCtxCreate context, not the primary one) and never switches
    // devices; the workspace uses cudaMalloc because stream-ordered pools belong to the primary context's world.
    bool borrowed_context = false;
    cudaStream_t own = nullptr;
    cudaStream_t stream = nullptr;  // own or borrowed
    void* ws = nullptr;             // growable device workspace (stream-ordered allocation)
    size_t ws_bytes = 0;
    // Optional phase hook (the benchmark's per-phase breakdown): the layer forward and backward call it after each
    // of their phases with the phase's name; null in normal use.
    void (*phase_hook)(void* user, const char* phase) = nullptr;
    void* phase_user = nullptr;
};

namespace i4t {

// The start of every entry point that runs CUDA work on a context, in this order: the handle is not NULL
// (NULL_POINTER) and is a live context (INVALID_ARGUMENT, handles.cuh); no CUDA error is pending from before the
// call (CUDA, check_no_pending_error); ctx's device is current. Messages name `fn` (pass __func__).
int4train_status enter(int4train_context ctx, const char* fn = "libint4train");
// Grows the workspace to at least `bytes` (stream-ordered: no host synchronisation).
int4train_status ensure_workspace(int4train_context ctx, size_t bytes);
// Marks the end of a named phase of a composite operator for the phase hook (a no-op without one).
inline void phase_done(int4train_context ctx, const char* phase) {
    if (ctx->phase_hook) ctx->phase_hook(ctx->phase_user, phase);
}

}  // namespace i4t
