// arena.cuh — the workspace plan/arena: each operator sizes its temporaries up front (Plan), the context
// workspace grows once, then the buffers are carved in the same order (Arena).
#pragma once

#include "runtime/context.cuh"
#include "runtime/launch.cuh"

namespace i4t {

// Bump allocator over the context workspace. Sizes are computed up front by each operator (Plan), so the
// workspace is grown once per call before anything is carved; Arena::take fails (INTERNAL) on overflow.
struct Plan {
    size_t bytes = 0;
    template <class T> void add(int64_t count) { bytes += align_up(sizeof(T) * (size_t)(count > 0 ? count : 1), 256); }
};
struct Arena {
    char* base = nullptr;
    size_t cap = 0, used = 0;
    bool overflow = false;
    template <class T> T* take(int64_t count) {
        size_t b = align_up(sizeof(T) * (size_t)(count > 0 ? count : 1), 256);
        if (used + b > cap) { overflow = true; return nullptr; }
        T* p = reinterpret_cast<T*>(base + used);
        used += b;
        return p;
    }
};
// FP32 device memory an owner lends an operator for its largest temporaries instead of the context workspace: two
// buffers of `count` floats each (none: nullptr, 0), idle whenever the operator runs. The operator takes them only
// when they are large enough, else plans its own as before; the arithmetic is the same either way. The device GPT
// lends its INT4 layers' policy (block-size search, step-size initialisation, both in a forward) the two backward
// gradient buffers, which no forward reads (gpt/model_build.cu), so the workspace need not grow to 2·N·4C floats.
struct LentScratch {
    float* a = nullptr;
    float* b = nullptr;
    int64_t count = 0;
    bool fits(int64_t need, bool both) const { return a != nullptr && (!both || b != nullptr) && count >= need; }
};

// ensure_workspace(plan.bytes) then an arena over it.
int4train_status make_arena(int4train_context ctx, const Plan& plan, Arena* out);
#define I4T_ARENA_CHECK(ar)                                                              \
    do {                                                                                 \
        if ((ar).overflow) return ::i4t::fail(INT4TRAIN_ERROR_INTERNAL, "%s: workspace plan too small", __func__); \
    } while (0)

}  // namespace i4t
