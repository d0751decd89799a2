// timing.cuh — CUDA-event timing over rotated input sets (median of many runs) and the per-phase timer the
// library's phase hook drives (runtime/context.cuh).
#pragma once
#include <stdio.h>

#include <algorithm>
#include <string>
#include <vector>

#include "runtime/status.cuh"
#include "int4train_bench.h"

namespace i4t {
namespace bench {

// ---- timing ----------------------------------------------------------------------------------------------------
struct Stats { double median = 0, min = 0, p90 = 0, mean = 0; int runs = 0; };
// The result fields of one timed operation.
inline void put(int4train_bench_result* r, const Stats& st) {
    r->median_ms = st.median; r->min_ms = st.min; r->p90_ms = st.p90; r->mean_ms = st.mean; r->runs = st.runs;
}
inline Stats summarize(std::vector<float> v) {
    Stats st;
    if (v.empty()) return st;
    std::sort(v.begin(), v.end());
    st.runs = (int)v.size();
    st.min = v.front();
    st.median = v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
    st.p90 = v[std::min(v.size() - 1, (size_t)(0.9 * (double)v.size()))];
    double s = 0;
    for (float x : v) s += x;
    st.mean = s / (double)v.size();
    return st;
}

// f(set) enqueues one run on `s`. warmup untimed runs, then `runs` timed ones, set = run % sets.
template <class F>
int4train_status time_runs(cudaStream_t s, int warmup, int runs, int sets, F&& f, Stats* out) {
    for (int r = 0; r < warmup; ++r) I4T_TRY(f(r % sets));
    std::vector<cudaEvent_t> ev(2 * (size_t)runs);
    for (auto& e : ev) I4T_CUDA(cudaEventCreate(&e));
    int4train_status st = INT4TRAIN_SUCCESS;
    for (int r = 0; r < runs && st == INT4TRAIN_SUCCESS; ++r) {
        cudaEventRecord(ev[2 * r], s);
        st = f(r % sets);
        cudaEventRecord(ev[2 * r + 1], s);
    }
    cudaError_t e = cudaStreamSynchronize(s);
    std::vector<float> ms;
    if (st == INT4TRAIN_SUCCESS && e == cudaSuccess)
        for (int r = 0; r < runs; ++r) {
            float t = 0;
            cudaEventElapsedTime(&t, ev[2 * r], ev[2 * r + 1]);
            ms.push_back(t);
        }
    for (auto& x : ev) cudaEventDestroy(x);
    I4T_TRY(st);
    I4T_CUDA(e);
    *out = summarize(ms);
    return INT4TRAIN_SUCCESS;
}

inline void set_text(int4train_bench_result* r, const char* fmt, double a = 0, double b = 0) {
    snprintf(r->check_text, sizeof r->check_text, fmt, a, b);
}

// ---- per-phase breakdowns -------------------------------------------------------------------------------------------
struct PhaseTimer {
    cudaStream_t s;
    std::vector<std::string> names;
    std::vector<std::vector<float>> ms;
    std::vector<cudaEvent_t> ev;
    size_t k = 0;
    bool recording = false;
    void begin() { k = 0; mark(); }
    void mark() {
        if (!recording) return;
        cudaEvent_t e;
        cudaEventCreate(&e);
        cudaEventRecord(e, s);
        ev.push_back(e);
    }
    void phase(const char* name) {
        if (!recording) return;
        if (names.size() <= k) names.push_back(name);
        mark();
        ++k;
    }
    int4train_status collect(size_t nphases) {
        I4T_CUDA(cudaStreamSynchronize(s));
        ms.assign(nphases, {});
        size_t per = nphases + 1;
        for (size_t r = 0; r + per <= ev.size(); r += per)
            for (size_t p = 0; p < nphases; ++p) {
                float t = 0;
                cudaEventElapsedTime(&t, ev[r + p], ev[r + p + 1]);
                ms[p].push_back(t);
            }
        for (auto e : ev) cudaEventDestroy(e);
        ev.clear();
        return INT4TRAIN_SUCCESS;
    }
};

}  // namespace bench
}  // namespace i4t
