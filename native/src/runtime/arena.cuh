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
// ensure_workspace(plan.bytes) then an arena over it.
int4train_status make_arena(int4train_context ctx, const Plan& plan, Arena* out);
#define I4T_ARENA_CHECK(ar)                                                              \
    do {                                                                                 \
        if ((ar).overflow) return ::i4t::fail(INT4TRAIN_ERROR_INTERNAL, "%s: workspace plan too small", __func__); \
    } while (0)

}  // namespace i4t
