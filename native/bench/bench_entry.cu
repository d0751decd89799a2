// bench_entry.cu — benchmark entry points of libint4train_bench (include/int4train_bench.h, issue 5): timing with CUDA
// events over rotated input sets, device-generated data with outliers and skewed gradient rows, checks of every
// variant before its time is reported, cuBLASLt baselines (BF16, FP16, INT8 IMMA, FP8 and an FP8 layer), a
// device-to-device copy (the bandwidth reference), per-phase breakdowns and a CUDA-graph capture of the whole layer.
#include "bench_support.cuh"
#include "cublaslt.cuh"
#include "timing.cuh"
#include "runtime/arena.cuh"
#include "runtime/validate.cuh"
#include "numerics/philox.cuh"
#include "ops/operators.cuh"
#include "gemm/gemm.cuh"

using namespace i4t;
using namespace i4t::bench;

extern "C" {

INT4TRAIN_API int4train_status int4train_bench_run(int4train_context ctx, const char* op, int m, int n, int k, int group,
                                                   int warmup, int runs, int sets, uint64_t seed,
                                                   int4train_bench_result* h_out) {
    I4T_TRY(enter(ctx));
    I4T_NOTNULL(op);
    I4T_NOTNULL(h_out);
    memset(h_out, 0, sizeof *h_out);
    if (m <= 0 || n <= 0 || k <= 0 || runs < 1 || sets < 1 || warmup < 0)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "bench: bad arguments");
    int4train_status st;
    if (is_op(op, "lt_fp8") || is_op(op, "linear_fp8"))
        st = bench_fp8(ctx, op, m, n, k, warmup, runs, sets, seed, h_out);
    else if (is_op(op, "copy_d2d"))
        st = bench_copy(ctx, m, n, warmup, runs, h_out);
    else if (strncmp(op, "gemm_", 5) == 0 || strncmp(op, "lt_", 3) == 0)
        st = bench_gemm(ctx, op, m, n, k, warmup, runs, sets, seed, h_out);
    else
        st = bench_composite(ctx, op, m, n, k, group, warmup, runs, sets, seed, h_out);
    if (st == INT4TRAIN_SUCCESS) {
        cudaError_t e = cudaStreamSynchronize(ctx->stream);
        if (e != cudaSuccess) return fail_cuda(e, "bench: stream");
    }
    return st;
}

INT4TRAIN_API int4train_status int4train_bench_graph(int4train_context ctx, int n, int c, int d, int group, int runs,
                                                     uint64_t seed, int* h_captured, int* h_identical,
                                                     double* h_replay_ms, char* h_msg, int msg_cap) {
    I4T_TRY(enter(ctx));
    I4T_NOTNULL(h_captured);
    I4T_NOTNULL(h_identical);
    I4T_NOTNULL(h_replay_ms);
    *h_captured = 0;
    *h_identical = 0;
    *h_replay_ms = 0;
    if (h_msg && msg_cap > 0) h_msg[0] = 0;
    if (ctx->borrowed_context) return fail(INT4TRAIN_ERROR_NOT_SUPPORTED, "bench_graph: needs an owned context");
    DevMem mem;
    LayerData L;
    I4T_TRY(make_layer_data(ctx, mem, n, c, d, group, 1, seed, true, &L));
    const int64_t nc = (int64_t)n * c, nd = (int64_t)n * d, cd = (int64_t)c * d;
    float* y[2] = {mem.get<float>(nc), mem.get<float>(nc)};
    float* gx[2] = {mem.get<float>(nd), mem.get<float>(nd)};
    float* gw[2] = {mem.get<float>(cd), mem.get<float>(cd)};
    float* gs[2] = {mem.get<float>(2), mem.get<float>(2)};
    float* gb[2] = {mem.get<float>(c), mem.get<float>(c)};
    uint8_t* xp = mem.get<uint8_t>(nd / 2);
    uint8_t* wp = mem.get<uint8_t>(cd / 2);
    double* acc = mem.get<double>(8);
    BENCH_MEM_CHECK(mem);
    cudaStream_t s = ctx->stream;
    auto layer = [&](int o) -> int4train_status {
        I4T_TRY(int4train_hq_forward(ctx, L.x[0], L.w[0], nullptr, L.sx[0], L.sw[0], n, c, d, group, 0, y[o], xp, wp));
        return int4train_linear_backward(ctx, L.gy[0], L.x[0], L.w[0], xp, wp, L.sx[0], L.sw[0], n, c, d, group, 0, 0, seed,
                                         gx[o], gw[o], gs[o], gs[o] + 1, gb[o], 0);
    };
    I4T_TRY(layer(0));  // eager; also grows the workspace to its final size (no allocation inside the capture)
    I4T_CUDA(cudaStreamSynchronize(s));
    I4T_CUDA(cudaMemsetAsync(y[1], 0xff, sizeof(float) * nc, s));
    I4T_CUDA(cudaMemsetAsync(gx[1], 0xff, sizeof(float) * nd, s));
    I4T_CUDA(cudaMemsetAsync(gw[1], 0xff, sizeof(float) * cd, s));
    I4T_CUDA(cudaStreamSynchronize(s));
    cudaGraph_t graph = nullptr;
    cudaGraphExec_t exec = nullptr;
    cudaError_t e = cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal);
    if (e != cudaSuccess) return fail_cuda(e, "cudaStreamBeginCapture");
    int4train_status inner = layer(1);
    std::string inner_msg = inner == INT4TRAIN_SUCCESS ? "" : int4train_last_error();
    e = cudaStreamEndCapture(s, &graph);
    if (inner != INT4TRAIN_SUCCESS || e != cudaSuccess) {
        (void)cudaGetLastError();
        if (graph) cudaGraphDestroy(graph);
        if (h_msg && msg_cap > 0)
            snprintf(h_msg, (size_t)msg_cap, "capture failed: %s%s%s", inner_msg.c_str(), inner_msg.empty() ? "" : "; ",
                     cudaGetErrorString(e));
        return INT4TRAIN_SUCCESS;
    }
    e = cudaGraphInstantiateWithFlags(&exec, graph, 0);
    size_t nodes = 0;
    cudaGraphGetNodes(graph, nullptr, &nodes);
    cudaGraphDestroy(graph);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        if (h_msg && msg_cap > 0) snprintf(h_msg, (size_t)msg_cap, "instantiate failed: %s", cudaGetErrorString(e));
        return INT4TRAIN_SUCCESS;
    }
    *h_captured = 1;
    Stats st;
    int4train_status ts = time_runs(s, 2, runs, 1, [&](int) -> int4train_status {
        I4T_CUDA(cudaGraphLaunch(exec, s));
        return INT4TRAIN_SUCCESS;
    }, &st);
    cudaGraphExecDestroy(exec);
    I4T_TRY(ts);
    *h_replay_ms = st.median;
    Cmp a, b, cy;
    I4T_TRY(compare_f32(s, y[1], y[0], nc, acc, &cy));
    I4T_TRY(compare_f32(s, gx[1], gx[0], nd, acc, &a));
    I4T_TRY(compare_f32(s, gw[1], gw[0], cd, acc, &b));
    *h_identical = (cy.diffbits == 0 && a.diffbits == 0 && b.diffbits == 0) ? 1 : 0;
    if (h_msg && msg_cap > 0)
        snprintf(h_msg, (size_t)msg_cap, "graph of %zu nodes; bits differing from eager: Y %.0f, dX %.0f, dW %.0f", nodes,
                 cy.diffbits, a.diffbits, b.diffbits);
    return INT4TRAIN_SUCCESS;
}

INT4TRAIN_API int4train_status int4train_bench_gemm_configs(int m, int n, int k, char* h_text, int cap, int* h_count,
                                                            int* h_pick) {
    I4T_NOTNULL(h_count);
    *h_count = 0;
    if (h_pick) *h_pick = -1;
    std::string t;
#if defined(INT4TRAIN_HAS_SM90)
    *h_count = gemm_sm90_config_count();
    for (int i = 0; i < *h_count; ++i) {
        if (i) t += ';';
        t += gemm_sm90_config_name(i);
    }
    int dev = 0, sms = 0;
    if (cudaGetDevice(&dev) == cudaSuccess && cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) == cudaSuccess && h_pick)
        *h_pick = gemm_sm90_pick(m, (int)round_up(n, 4), (int)round_up(k, 32), sms);
    (void)cudaGetLastError();
#else
    (void)m; (void)n; (void)k;
#endif
    if (h_text && cap > 0) {
        strncpy(h_text, t.c_str(), (size_t)cap - 1);
        h_text[cap - 1] = 0;
    }
    return INT4TRAIN_SUCCESS;
}

}  // extern "C"
