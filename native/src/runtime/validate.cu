// validate.cu — the argument checks of validate.cuh.
#include "runtime/validate.cuh"

namespace i4t {

int4train_status check_group(int cols, int group, const char* fn) {
    if (group < 1 || group > 1024 || (group & (group - 1)) != 0)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "%s: group %d is not a power of two in [1, 1024]", fn, group);
    if (cols % group != 0)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "%s: group %d does not divide the row length %d", fn, group, cols);
    return INT4TRAIN_SUCCESS;
}

int4train_status check_dim(const char* fn, const char* name, int64_t value) {
    if (value > kMaxDim)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "%s: %s (%lld) is larger than 2^30, the largest dimension", fn, name,
                    (long long)value);
    return INT4TRAIN_SUCCESS;
}

int4train_status check_mode(int mode, const char* fn) {
    if (mode != INT4TRAIN_MODE_CODE && mode != INT4TRAIN_MODE_PAPER)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "%s: mode %d is not 0 (code) or 1 (paper)", fn, mode);
    return INT4TRAIN_SUCCESS;
}

}  // namespace i4t
