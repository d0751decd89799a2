// tool_marks.cuh — tells compute-sanitizer's initcheck which memory a TMA store has written (the SM90 GEMMs here,
// cuBLAS's tensor-core GEMMs in the device GPT: gpt/dense_gemm.cu).
//
// The SM90 GEMMs write their outputs with TMA bulk stores, which initcheck (CUDA 13) does not track: every later read
// of a GEMM output, by a kernel or a cudaMemcpy, is reported as uninitialized although the values are bit-exact
// against the reference. Evidence (H200, 2026-12-01): the self-test under initcheck reports only reads of CUTLASS
// GEMM outputs, and with the portable dp4a GEMM (plain stores; INT4TRAIN_FORCE_FALLBACK_GEMM=1) it reports none.
// After each launch the launcher marks exactly the written ranges through NVTX's memory extension
// (nvtxMemCudaMarkInitialized, ordered on the launch's stream). Without an attached tool an NVTX call is a no-op
// through a null function pointer; where the toolkit's NVTX lacks the extension this compiles to nothing (CMake
// probes it).
#pragma once

#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

#if defined(INT4TRAIN_HAS_NVTX_MEM)  // set by native/CMakeLists.txt when the toolkit's NVTX has the extension
#include <nvtx3/nvToolsExtMemCudaRt.h>
#endif

#include <vector>

namespace i4t {

// Marks `rows` rows of `row_bytes` bytes, `stride_bytes` apart from `base`, as initialized on `stream`.
inline void mark_written_by_tma(const void* base, int64_t rows, size_t row_bytes, size_t stride_bytes,
                                cudaStream_t stream) {
#if defined(INT4TRAIN_HAS_NVTX_MEM)
    if (base == nullptr || rows <= 0 || row_bytes == 0) return;
    static nvtxDomainHandle_t domain = nvtxDomainCreateA("int4train");
    // Contiguous rows (every GEMM but a padded output): one range, nothing allocated on this per-launch path.
    const nvtxMemVirtualRangeDesc_t whole{row_bytes * (size_t)rows, base};
    std::vector<nvtxMemVirtualRangeDesc_t> strided;
    if (stride_bytes != row_bytes) {
        strided.resize((size_t)rows);
        for (int64_t r = 0; r < rows; ++r)
            strided[(size_t)r] = {row_bytes, static_cast<const char*>(base) + (size_t)r * stride_bytes};
    }
    nvtxMemMarkInitializedBatch_t batch{};
    batch.extCompatID = NVTX_EXT_COMPATID_MEM;
    batch.structSize = sizeof(batch);
    batch.regionType = NVTX_MEM_TYPE_VIRTUAL_ADDRESS;
    batch.regionDescCount = strided.empty() ? 1 : strided.size();
    batch.regionDescElementSize = sizeof(nvtxMemVirtualRangeDesc_t);
    batch.regionDescElements = strided.empty() ? &whole : strided.data();
    nvtxMemCudaMarkInitialized(domain, stream, 0, &batch);
#else
    (void)base, (void)rows, (void)row_bytes, (void)stride_bytes, (void)stream;
#endif
}

}  // namespace i4t
