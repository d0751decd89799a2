// handles.cuh — the registry of live handles (contexts, layers, models): the one place that decides whether a
// handle passed to an entry point may be dereferenced.
//
// Why a registry: a destroyed handle is freed memory, so a magic field inside the object cannot be read safely.
// The registry is a set of the addresses of live handles under a mutex; create adds, destroy removes (a second
// destroy of the same handle is refused instead of freeing twice). Limits, documented in native/README.md
// "Entry-point contract": if the allocator gives a new handle of the same kind the address of a destroyed one, the
// stale handle names the new object; and destroying a handle while another thread is inside a call on it is a race
// the registry does not make safe.
#pragma once

#include "runtime/status.cuh"

namespace i4t {

enum class HandleKind { Context, Layer, Model };

// Adds a freshly created handle (OUT_OF_MEMORY if the registry cannot grow).
int4train_status handle_register(const void* h, HandleKind kind, const char* fn);
// Removes a handle; INVALID_ARGUMENT (nothing removed) when it is not a live handle of that kind.
int4train_status handle_unregister(const void* h, HandleKind kind, const char* fn);
// NULL_POINTER for NULL, INVALID_ARGUMENT when it is not a live handle of that kind (destroyed, never created, or
// a handle of another kind), SUCCESS otherwise. The message names `fn`.
int4train_status handle_check(const void* h, HandleKind kind, const char* fn);

}  // namespace i4t
