// handles.cu — the registry of live handles (handles.cuh).
#include "runtime/handles.cuh"

#include <mutex>
#include <new>
#include <unordered_map>

namespace i4t {

namespace {

const char* kind_name(HandleKind k) {
    switch (k) {
        case HandleKind::Context: return "context";
        case HandleKind::Layer: return "layer";
        default: return "model";
    }
}

// Function-local statics: constructed on first use, so a handle created from another library's static
// initialiser still finds the registry. Never destroyed (a destroy called during process exit still works).
std::mutex& registry_mutex() {
    static std::mutex* m = new std::mutex();
    return *m;
}
std::unordered_map<const void*, HandleKind>& registry() {
    static auto* r = new std::unordered_map<const void*, HandleKind>();
    return *r;
}

}  // namespace

int4train_status handle_register(const void* h, HandleKind kind, const char* fn) {
    std::lock_guard<std::mutex> lock(registry_mutex());
    try {
        registry()[h] = kind;
    } catch (const std::bad_alloc&) {
        return fail(INT4TRAIN_ERROR_OUT_OF_MEMORY, "%s: out of host memory registering the %s handle", fn,
                    kind_name(kind));
    }
    return INT4TRAIN_SUCCESS;
}

int4train_status handle_unregister(const void* h, HandleKind kind, const char* fn) {
    std::lock_guard<std::mutex> lock(registry_mutex());
    auto it = registry().find(h);
    if (it == registry().end() || it->second != kind)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT,
                    "%s: %p is not a live %s handle (already destroyed, or never created)", fn, h, kind_name(kind));
    registry().erase(it);
    return INT4TRAIN_SUCCESS;
}

int4train_status handle_check(const void* h, HandleKind kind, const char* fn) {
    if (h == nullptr) return fail(INT4TRAIN_ERROR_NULL_POINTER, "%s: the %s handle is NULL", fn, kind_name(kind));
    std::lock_guard<std::mutex> lock(registry_mutex());
    auto it = registry().find(h);
    if (it == registry().end() || it->second != kind)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT,
                    "%s: %p is not a live %s handle (destroyed, never created, or a handle of another kind)", fn, h,
                    kind_name(kind));
    return INT4TRAIN_SUCCESS;
}

}  // namespace i4t
