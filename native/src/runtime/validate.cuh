// validate.cuh — argument checks shared by the entry points (each returns INVALID_ARGUMENT with a message naming
// the calling function).
#pragma once

#include "runtime/status.cuh"

namespace i4t {

// The Hadamard block size: a power of two in [1, 1024] that divides the row length (§2.2).
int4train_status check_group(int cols, int group, const char* fn);
// Every matrix dimension is at most kMaxDim: the library pads dimensions to multiples of up to 32 in int arithmetic,
// and 2^30 leaves that room (a larger one is refused instead of wrapping around to a negative size).
constexpr int kMaxDim = 1 << 30;
int4train_status check_dim(const char* fn, const char* name, int64_t value);
// The quantization mode: INT4TRAIN_MODE_CODE or INT4TRAIN_MODE_PAPER (§10).
int4train_status check_mode(int mode, const char* fn);

}  // namespace i4t
