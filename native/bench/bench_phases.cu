// bench_phases.cu — the per-phase breakdown of the layer forward and backward, and the device-to-device copy whose
// bandwidth the harness reports each element-wise phase against.
#include "bench_support.cuh"
#include "cublaslt.cuh"
#include "timing.cuh"
#include "runtime/arena.cuh"
#include "runtime/validate.cuh"
#include "numerics/philox.cuh"
#include "ops/operators.cuh"
#include "gemm/gemm.cuh"

namespace i4t {
namespace bench {

// The bandwidth every element-wise phase is reported against: one cudaMemcpyAsync device to device of an m × n FP32
// buffer (1 GiB at 16384 × 16384, far beyond L2), counted as read + write (r->ops = 8·m·n bytes, so the rate the
// harness prints is TB/s). Checked: the copy equals its source bit for bit.
int4train_status bench_copy(int4train_context ctx, int m, int n, int warmup, int runs, int4train_bench_result* r) {
    cudaStream_t s = ctx->stream;
    DevMem mem;
    const int64_t count = (int64_t)m * n;
    float* src = mem.get<float>(count);
    float* dst = mem.get<float>(count);
    double* acc = mem.get<double>(8);
    BENCH_MEM_CHECK(mem);
    gen_kernel<<<grid_for(count), 256, 0, s>>>(src, m, n, 7, 0);
    I4T_LAUNCH("gen_kernel");
    r->ops = 2.0 * sizeof(float) * (double)count;
    auto run = [&](int) -> int4train_status {
        I4T_CUDA(cudaMemcpyAsync(dst, src, sizeof(float) * (size_t)count, cudaMemcpyDeviceToDevice, s));
        return INT4TRAIN_SUCCESS;
    };
    I4T_TRY(run(0));
    Cmp cm;
    I4T_TRY(compare_f32(s, dst, src, count, acc, &cm));
    r->check_err = cm.diffbits;
    r->check_ok = (cm.diffbits == 0 && cm.refnorm > 0) ? 1 : 0;
    set_text(r, "copy of %.0f bytes: %.0f elements differ", sizeof(float) * (double)count, cm.diffbits);
    Stats st;
    I4T_TRY(time_runs(s, warmup, runs, 1, run, &st));
    put(r, st);
    return INT4TRAIN_SUCCESS;
}

}  // namespace bench
}  // namespace i4t

using namespace i4t;
using namespace i4t::bench;

extern "C" {

INT4TRAIN_API int4train_status int4train_bench_phases(int4train_context ctx, const char* which, int n, int c, int d,
                                                      int group, int runs, uint64_t seed, char* h_names, int names_cap,
                                                      double* h_ms, int ms_cap, int* h_count) {
    I4T_TRY(enter(ctx));
    I4T_NOTNULL(which);
    I4T_NOTNULL(h_count);
    const bool fwd = strcmp(which, "forward") == 0;
    if (!fwd && strcmp(which, "backward") != 0)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "bench_phases: which must be 'forward' or 'backward'");
    if (d % 2 || runs < 1) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "bench_phases: bad arguments");
    I4T_TRY(check_group(d, group, "int4train_bench_phases"));
    const int sets = 3;
    DevMem mem;
    LayerData L;
    I4T_TRY(make_layer_data(ctx, mem, n, c, d, group, sets, seed, !fwd, &L));
    const int64_t nc = (int64_t)n * c, nd = (int64_t)n * d, cd = (int64_t)c * d;
    float* y = mem.get<float>(nc);
    float* gxo = mem.get<float>(nd);
    float* gwo = mem.get<float>(cd);
    float* gst = mem.get<float>(4);
    BENCH_MEM_CHECK(mem);
    std::vector<uint8_t*> XP, WP;
    I4T_TRY(make_packed_codes(ctx, mem, L, n, c, d, group, true, y, &XP, &WP));
    float* gb = mem.get<float>(c);
    BENCH_MEM_CHECK(mem);
    // The real entry points run; the library's phase hook marks each phase with an event (runtime/context.cuh).
    PhaseTimer T{ctx->stream};
    ctx->phase_hook = [](void* user, const char* phase) { static_cast<PhaseTimer*>(user)->phase(phase); };
    ctx->phase_user = &T;
    int4train_status st = INT4TRAIN_SUCCESS;
    for (int r = -2; r < runs && st == INT4TRAIN_SUCCESS; ++r) {
        const int i = (r + 2) % sets;
        T.recording = r >= 0;
        T.begin();
        if (fwd)
            st = int4train_hq_forward(ctx, L.x[i], L.w[i], nullptr, L.sx[i], L.sw[i], n, c, d, group, 0, y, XP[i], WP[i]);
        else
            st = int4train_linear_backward(ctx, L.gy[i], L.x[i], L.w[i], XP[i], WP[i], L.sx[i], L.sw[i], n, c, d, group, 0,
                                           INT4TRAIN_SAMPLING_NONZERO, seed + (uint64_t)i, gxo, gwo, gst, gst + 1, gb, 0);
    }
    ctx->phase_hook = nullptr;
    ctx->phase_user = nullptr;
    I4T_TRY(st);
    const size_t nph = T.names.size();
    I4T_TRY(T.collect(nph));
    std::string names;
    for (size_t p = 0; p < nph; ++p) {
        if (p) names += ';';
        names += T.names[p];
        if ((int)p < ms_cap && h_ms) h_ms[p] = summarize(T.ms[p]).median;
    }
    if (h_names && names_cap > 0) {
        strncpy(h_names, names.c_str(), (size_t)names_cap - 1);
        h_names[names_cap - 1] = 0;
    }
    *h_count = (int)nph;
    return INT4TRAIN_SUCCESS;
}

}  // extern "C"
