// test_errors.cu — self-tests of the error contract: bad arguments give a status and a message, never a crash.
#include "selftest.h"
#include "int4train_layer.h"

// A fresh layer refuses a backward before its first forward (it has no block size yet).
static int4train_status layer_backward_first(int4train_context ctx, const int4train_layer_options& o, float* f,
                                             uint8_t* u) {
    int4train_layer layer = nullptr;
    if (int4train_layer_create(ctx, &o, 8, 4, &layer) != INT4TRAIN_SUCCESS) return INT4TRAIN_ERROR_INTERNAL;
    int4train_status st = int4train_layer_backward(layer, f, f, f, u, u, f, f, 2, f, f, f, f, nullptr, 0);
    int4train_layer_destroy(layer);
    return st;
}

void test_errors(int4train_context ctx) {
    DBuf<float> f(64);
    DBuf<int8_t> q(64);
    DBuf<uint8_t> u(64);
    DBuf<int32_t> i32(64);
    DBuf<double> dd(64);
    struct E { const char* name; int4train_status got, want; };
    int4train_context bad = nullptr;
    int g = 0;
    int4train_layer layer = nullptr;  // stays NULL: every create below fails
    int4train_layer_options lo{INT4TRAIN_PRECISION_INT4_HQ_LSS, 0, 0, 0, 0, -1, 1};
    int4train_layer_options dense = lo, g16 = lo;
    dense.precision = INT4TRAIN_PRECISION_FP32;
    g16.group_size = 16;
    std::vector<E> cases = {
        {"null context", int4train_hadamard(nullptr, f.p, f.p, 1, 8, 8), INT4TRAIN_ERROR_NULL_POINTER},
        {"null input", int4train_hadamard(ctx, nullptr, f.p, 1, 8, 8), INT4TRAIN_ERROR_NULL_POINTER},
        {"group not power of two", int4train_hadamard(ctx, f.p, f.p, 1, 12, 3), INT4TRAIN_ERROR_INVALID_ARGUMENT},
        {"group does not divide", int4train_hadamard(ctx, f.p, f.p, 1, 24, 16), INT4TRAIN_ERROR_INVALID_ARGUMENT},
        {"group 2048", int4train_hadamard(ctx, f.p, f.p, 1, 2048, 2048), INT4TRAIN_ERROR_INVALID_ARGUMENT},
        {"negative rows", int4train_hadamard(ctx, f.p, f.p, -1, 8, 8), INT4TRAIN_ERROR_INVALID_ARGUMENT},
        {"pack odd cols", int4train_pack_int4(ctx, q.p, u.p, 2, 7), INT4TRAIN_ERROR_INVALID_ARGUMENT},
        {"gemm m=0", int4train_gemm_s8(ctx, q.p, q.p, i32.p, 0, 4, 4), INT4TRAIN_ERROR_INVALID_ARGUMENT},
        {"gemm_s4 odd k", int4train_gemm_s4(ctx, u.p, u.p, i32.p, 2, 2, 3), INT4TRAIN_ERROR_INVALID_ARGUMENT},
        {"gemm null c", int4train_gemm_s8(ctx, q.p, q.p, nullptr, 2, 2, 2), INT4TRAIN_ERROR_NULL_POINTER},
        {"quantize bad mode", int4train_lsq_quantize(ctx, f.p, 8, f.p, 5, q.p), INT4TRAIN_ERROR_INVALID_ARGUMENT},
        {"init n=0", int4train_lsq_init_step(ctx, f.p, 0, f.p), INT4TRAIN_ERROR_INVALID_ARGUMENT},
        {"bit_split bad mode", int4train_bit_split(ctx, f.p, 2, 2, 1, 9, q.p, q.p, f.p), INT4TRAIN_ERROR_INVALID_ARGUMENT},
        {"select x codes without step", int4train_lss_select(ctx, q.p, q.p, f.p, q.p, nullptr, 2, 2, 2, 0, 1, dd.p, u.p, i32.p), INT4TRAIN_ERROR_NULL_POINTER},
        {"select bad sampling", int4train_lss_select(ctx, q.p, q.p, f.p, nullptr, nullptr, 2, 2, 2, 3, 1, dd.p, u.p, i32.p), INT4TRAIN_ERROR_INVALID_ARGUMENT},
        {"hq_forward odd d", int4train_hq_forward(ctx, f.p, f.p, nullptr, f.p, f.p, 2, 2, 3, 1, 0, f.p, u.p, u.p), INT4TRAIN_ERROR_INVALID_ARGUMENT},
        {"hq_forward null y", int4train_hq_forward(ctx, f.p, f.p, nullptr, f.p, f.p, 2, 2, 4, 1, 0, nullptr, u.p, u.p), INT4TRAIN_ERROR_NULL_POINTER},
        {"block search null group", int4train_block_size_search(ctx, f.p, f.p, 2, 2, 4, 0, nullptr, nullptr), INT4TRAIN_ERROR_NULL_POINTER},
        {"lss_grad_weight n=0", int4train_lss_grad_weight(ctx, q.p, q.p, u.p, f.p, f.p, u.p, dd.p, 0, 2, 2, f.p), INT4TRAIN_ERROR_INVALID_ARGUMENT},
        {"lss_grad_input null keep", int4train_lss_grad_input(ctx, q.p, q.p, u.p, f.p, f.p, nullptr, dd.p, 2, 2, 2, f.p), INT4TRAIN_ERROR_NULL_POINTER},
        {"backward null grad", int4train_linear_backward(ctx, nullptr, f.p, f.p, u.p, u.p, f.p, f.p, 2, 2, 4, 2, 0, 0, 1, f.p, f.p, f.p, f.p, nullptr, 0), INT4TRAIN_ERROR_NULL_POINTER},
        {"backward bad group", int4train_linear_backward(ctx, f.p, f.p, f.p, u.p, u.p, f.p, f.p, 2, 2, 4, 8, 0, 0, 1, f.p, f.p, f.p, f.p, nullptr, 0), INT4TRAIN_ERROR_INVALID_ARGUMENT},
        {"backward bad sampling", int4train_linear_backward(ctx, f.p, f.p, f.p, u.p, u.p, f.p, f.p, 2, 2, 4, 2, 0, 7, 1, f.p, f.p, f.p, f.p, nullptr, 0), INT4TRAIN_ERROR_INVALID_ARGUMENT},
        {"layer null options", int4train_layer_create(ctx, nullptr, 8, 4, &layer), INT4TRAIN_ERROR_NULL_POINTER},
        {"layer odd in", int4train_layer_create(ctx, &lo, 7, 4, &layer), INT4TRAIN_ERROR_INVALID_ARGUMENT},
        {"layer dense precision", int4train_layer_create(ctx, &dense, 8, 4, &layer), INT4TRAIN_ERROR_INVALID_ARGUMENT},
        {"layer group does not divide", int4train_layer_create(ctx, &g16, 8, 4, &layer), INT4TRAIN_ERROR_INVALID_ARGUMENT},
        {"layer forward null handle", int4train_layer_forward(nullptr, f.p, f.p, nullptr, f.p, f.p, 2, 1, f.p, u.p, u.p), INT4TRAIN_ERROR_NULL_POINTER},
        {"layer backward before forward", layer_backward_first(ctx, lo, f.p, u.p), INT4TRAIN_ERROR_INVALID_ARGUMENT},
        {"context bad device", int4train_context_create(999, &bad), INT4TRAIN_ERROR_NO_DEVICE},
        {"context null out", int4train_context_create(0, nullptr), INT4TRAIN_ERROR_NULL_POINTER},
        {"sync null ctx", int4train_context_synchronize(nullptr), INT4TRAIN_ERROR_NULL_POINTER},
        {"info null ctx", int4train_context_info(nullptr, nullptr, 0, &g, nullptr), INT4TRAIN_ERROR_NULL_POINTER},
    };
    for (auto& e : cases) {
        bool ok = e.got == e.want;
        report(ok, "error path", fmt("%s -> status %d (want %d)", e.name, (int)e.got, (int)e.want));
    }
    // the message is set, and a valid call after errors succeeds
    int4train_status st = int4train_hadamard(ctx, f.p, f.p, 1, 12, 3);
    std::string msg = int4train_last_error();
    report(st == INT4TRAIN_ERROR_INVALID_ARGUMENT && msg.find("group") != std::string::npos, "error message", msg);
    report(int4train_hadamard(ctx, f.p, f.p, 1, 8, 8) == INT4TRAIN_SUCCESS && int4train_context_synchronize(ctx) == INT4TRAIN_SUCCESS,
           "valid call after errors", "");
    report(int4train_context_destroy(nullptr) == INT4TRAIN_SUCCESS, "destroy(NULL) accepted", "");
}

// Informative timings (not checks): the layer's operators next to the bare INT8 GEMM of the same shape.
