// test_compact.cu — the layer's Bernoulli backward runs its GEMMs over the compacted kept rows (lss_compact.cu).
// Dropping rows the masks zero must change no bit: the layer is compared with the uncompacted masked GEMMs over every
// row (a context with INT4TRAIN_GENERIC_KERNELS=1), once eager (GEMMs sized by the kept counts) and once captured into
// a CUDA graph (sized for every row, the lists' tails zero), on gradients with many zero rows. Both run ∇X with one
// folded row per token whose kept parts all have p = 1; that arithmetic itself is checked bit for bit against the host
// (test_lss_grad_input_fold_bits).
#include "selftest.h"

namespace {

struct Grads {
    std::vector<float> gx, gw, steps;  // steps: ∇s_X, ∇s_W
};

// One Bernoulli layer backward on the context's stream: eager, or captured into a graph and replayed.
bool layer_backward(int4train_context ctx, const BackwardInputs& in, int n, int c, int d, int g, int mode,
                    uint64_t seed, bool captured, Grads* out) {
    DBuf<float> gx((size_t)n * d), gw((size_t)c * d), st(2);
    auto run = [&] {
        return int4train_linear_backward(ctx, in.gy.p, in.x.p, in.w.p, in.xp.p, in.wp.p, in.sx.p, in.sw.p, n, c, d, g,
                                         mode, INT4TRAIN_SAMPLING_BERNOULLI, seed, gx.p, gw.p, st.p, st.p + 1, nullptr,
                                         0);
    };
    int4train_status s = INT4TRAIN_SUCCESS;
    if (!captured) {
        s = run();
    } else {
        void* stream = nullptr;
        s = int4train_context_get_stream(ctx, &stream);
        cudaStream_t cs = (cudaStream_t)stream;
        if (!s) {
            // the workspace has grown in the eager call of the same shape: nothing is allocated while capturing
            CUDA_CK(cudaStreamBeginCapture(cs, cudaStreamCaptureModeThreadLocal));
            s = run();
            cudaGraph_t graph = nullptr;
            CUDA_CK(cudaStreamEndCapture(cs, &graph));
            if (!s) {
                cudaGraphExec_t exec = nullptr;
                CUDA_CK(cudaGraphInstantiateWithFlags(&exec, graph, 0));
                CUDA_CK(cudaGraphLaunch(exec, cs));
                CUDA_CK(cudaStreamSynchronize(cs));
                CUDA_CK(cudaGraphExecDestroy(exec));
            }
            CUDA_CK(cudaGraphDestroy(graph));
        }
    }
    if (s) {
        report(false, "compacted Bernoulli backward", fmt("%s layer: %s", captured ? "captured" : "eager",
                                                           int4train_last_error()));
        return false;
    }
    *out = Grads{gx.down(), gw.down(), st.down()};
    return true;
}

// What the case exercises: the ∇W tokens with a part kept at p = 1 (the INT8 GEMM's K) and at p < 1 (the FP32
// product), and the ∇X GEMM's M (one folded row per token whose kept parts all have p = 1, the kept stacked rows of
// the others), from the selection operators on the same inputs.
std::string kept_counts(int4train_context ctx, const BackwardInputs& in, const HostBackwardInputs& h, int n, int c,
                        int d, int mode, uint64_t seed) {
    const size_t nc = (size_t)n * c;
    DBuf<int8_t> hi(nc), lo(nc), xq(h.xq);
    DBuf<float> sc(3);
    DBuf<double> pw(2 * (size_t)n), px(2 * (size_t)n);
    DBuf<uint8_t> kw(2 * (size_t)n), kx(2 * (size_t)n);
    DBuf<int32_t> cw(2), cx(2);
    const int b = INT4TRAIN_SAMPLING_BERNOULLI;
    if (int4train_bit_split(ctx, in.gy.p, n, c, seed, mode, hi.p, lo.p, sc.p) ||
        int4train_lss_select(ctx, hi.p, lo.p, sc.p, xq.p, in.sx.p, n, c, d, b, seed, pw.p, kw.p, cw.p) ||
        int4train_lss_select(ctx, hi.p, lo.p, sc.p, nullptr, nullptr, n, c, d, b, seed, px.p, kx.p, cx.p))
        return fmt("kept counts unavailable: %s", int4train_last_error());
    const auto p = pw.down();
    const auto k = kw.down();
    const auto q = px.down();
    const auto x = kx.down();
    int whole = 0, frac = 0, folded = 0, stacked = 0;
    for (int i = 0; i < n; ++i) {
        whole += (k[i] && p[i] == 1.0) || (k[n + i] && p[n + i] == 1.0);
        frac += (k[i] && p[i] < 1.0) || (k[n + i] && p[n + i] < 1.0);
        if (!x[i] && !x[n + i]) continue;
        if ((!x[i] || q[i] == 1.0) && (!x[n + i] || q[n + i] == 1.0)) ++folded;
        else stacked += x[i] + x[n + i];
    }
    return fmt("∇W tokens at p = 1: %d, at p < 1: %d; ∇X GEMM rows %d of %d (%d folded tokens, %d stacked rows)", whole,
               frac, folded + stacked, 2 * n, folded, stacked);
}

}  // namespace

// int4train_lss_grad_input against its documented arithmetic, bit for bit (conventions.md "Leverage scores and
// selection", ∇X): a token whose kept parts all have p = 1 is one folded GEMM row, float(s_W·(s↓·(14·G↑·[↑] +
// G↓·[↓]))); a token with a part kept at p < 1 keeps float(s_W·(s↑·G↑/p↑ + s↓·G↓/p↓)) over its kept parts; a token
// with nothing kept is 0. The selection is made up so that every combination occurs (token i: case i % 7). The
// products are exact integers and each FP64 expression is a chain of single operations (no multiply feeds an add
// directly, so neither compiler can contract it into an FMA): the host computes the same bits.
void test_lss_grad_input_fold_bits(int4train_context ctx) {
    const int n = 203, c = 80, d = 96;
    std::uniform_real_distribution<double> u(0.05, 1.0);
    std::vector<int8_t> h = rand_codes((size_t)n * c, -7, 7), l = rand_codes((size_t)n * c, -7, 7);
    for (int i = 0; i < n; i += 5) std::fill(h.begin() + (size_t)i * c, h.begin() + (size_t)(i + 1) * c, (int8_t)0);
    const std::vector<int8_t> wq = rand_codes((size_t)c * d);
    const float mx = 0.37f, sw = 0.013f;
    const std::vector<float> scales = {mx, mx / 7.0f, mx / 98.0f};
    std::vector<uint8_t> keep(2 * (size_t)n);
    std::vector<double> p(2 * (size_t)n);
    for (int i = 0; i < n; ++i) {
        // {h kept, h's p, l kept, l's p}; a part that is not kept has a p the epilogue must ignore
        const int k = i % 7;
        const bool ku = k == 0 || k == 1 || k == 3 || k == 4, kd = k == 0 || k == 2 || k == 3 || k == 4 || k == 5;
        keep[i] = ku;
        keep[n + i] = kd;
        p[i] = k == 4 ? u(rng) : k == 5 || k == 6 ? u(rng) : 1.0;
        p[n + i] = k == 3 || k == 4 || k == 5 ? u(rng) : k == 6 || k == 1 ? u(rng) : 1.0;
    }
    DBuf<int8_t> dh(h), dl(l);
    DBuf<float> dsc(scales), dsw(std::vector<float>{sw}), dgx((size_t)n * d);
    DBuf<uint8_t> dwp(cpu_pack(wq)), dk(keep);
    DBuf<double> dp(p);
    if (int4train_lss_grad_input(ctx, dh.p, dl.p, dwp.p, dsc.p, dsw.p, dk.p, dp.p, n, c, d, dgx.p)) {
        report(false, "lss_grad_input folded tokens (bits)", int4train_last_error());
        return;
    }
    const auto got = dgx.down();
    const double sup = scales[1], sdn = scales[2];
    std::vector<float> want((size_t)n * d);
    int folded = 0, stacked = 0;
    for (int i = 0; i < n; ++i) {
        const bool ku = keep[i], kd = keep[n + i];
        const bool fold = (ku || kd) && (!ku || p[i] == 1.0) && (!kd || p[n + i] == 1.0);
        folded += fold;
        stacked += (ku || kd) && !fold;
        for (int j = 0; j < d; ++j) {
            int64_t gu = 0, gd = 0;
            for (int cc = 0; cc < c; ++cc) {
                gu += (int64_t)h[(size_t)i * c + cc] * wq[(size_t)cc * d + j];
                gd += (int64_t)l[(size_t)i * c + cc] * wq[(size_t)cc * d + j];
            }
            double v = 0.0;
            if (fold) {
                v = sdn * (double)((ku ? 14 * gu : 0) + (kd ? gd : 0));
            } else {
                if (ku) v += sup * (double)gu / p[i];
                if (kd) v += sdn * (double)gd / p[n + i];
            }
            want[(size_t)i * d + j] = (ku || kd) ? (float)((double)sw * v) : 0.0f;
        }
    }
    const size_t diff = count_diff(got, want);
    report(diff == 0 && l2(want) > 0 && folded > 0 && stacked > 0, "lss_grad_input folded tokens (bits)",
           fmt("n=%d c=%d d=%d: %d folded tokens, %d with a part at p < 1: %zu of %zu values differ from "
               "the documented arithmetic (|∇X|=%.2e)",
               n, c, d, folded, stacked, diff, want.size(), l2(want)));
}

void test_compacted_bernoulli_bits(int4train_context ctx) {
    int4train_context generic = create_generic_context("compacted Bernoulli backward");
    if (!generic) return;
    enum Zeros { Half, Random, None, All, OnePartEach, EqualRows };
    struct Case { int n, c, d, g, mode; Zeros zeros; const char* what; };
    const std::vector<Case> cases = {
        {256, 96, 128, 32, 0, Half, "every other row zero (the operator benchmark's gradients)"},
        {333, 80, 64, 16, 1, Random, "odd N, ~40% random rows zero, skewed rows (fractional p)"},
        {77, 50, 98, 2, 0, Half, "odd N, D % 4 != 0"},
        {1, 64, 32, 8, 1, None, "one row"},
        {200, 64, 64, 16, 0, All, "all rows zero"},
        {512, 128, 96, 32, 1, None, "no zero row (most tokens kept, fractional p)"},
        // paper mode: row 0 = (1, 0, …) splits into h = (7, 0, …), l = 0; every other row has |t| in [2, 5], so h = 0
        // and l ≠ 0: exactly N nonzero stacked rows for the budget N, one per token: every token kept
        {96, 64, 64, 16, 1, OnePartEach, "every token kept (one part each)"},
        {95, 64, 64, 16, 0, OnePartEach, "code mode: N + 1 nonzero stacked rows for the budget N"},
        // every row of ∇Y the same vector: the stacked rows score alike, so p < 1 for most (an FP32-heavy ∇W)
        {130, 64, 64, 16, 0, EqualRows, "equal rows (alike scores, p < 1)"},
    };
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (size_t ci = 0; ci < cases.size(); ++ci) {
        const Case& k = cases[ci];
        const int mode = k.mode;
        const uint64_t seed = 0xB3A7ull + 17 * ci;
        HostBackwardInputs h(k.n, k.c, k.d, k.g, mode, k.zeros == Half ? 2 : k.zeros == All ? 1 : k.n + 1);
        if (k.zeros == None || k.zeros == EqualRows) h.gy = randn_outliers(k.n, k.c, 1e-3f, 1);  // row 0 too
        if (k.zeros == OnePartEach)
            for (int i = 0; i < k.n; ++i)
                for (int j = 0; j < k.c; ++j)
                    h.gy[(size_t)i * k.c + j] = i == 0 ? (j == 0 ? 1.0f : 0.0f)
                                                       : (u(rng) < 0.5 ? -1.0f : 1.0f) * (float)(2.0 + 3.0 * u(rng)) / 98.0f;
        if (k.zeros == Random)
            for (int i = 0; i < k.n; ++i) {
                const double r = u(rng);
                const float f = r < 0.4 ? 0.0f : r < 0.5 ? 30.0f : 1.0f;
                for (int j = 0; j < k.c; ++j) h.gy[(size_t)i * k.c + j] *= f;
            }
        if (k.zeros == EqualRows)
            for (int i = 1; i < k.n; ++i) std::copy(h.gy.begin(), h.gy.begin() + k.c, h.gy.begin() + (size_t)i * k.c);
        BackwardInputs in(h);
        Grads ref, eager, captured;
        if (!layer_backward(generic, in, k.n, k.c, k.d, k.g, mode, seed, false, &ref)) continue;
        CUDA_CK(cudaDeviceSynchronize());
        if (!layer_backward(ctx, in, k.n, k.c, k.d, k.g, mode, seed, false, &eager)) continue;
        if (!layer_backward(ctx, in, k.n, k.c, k.d, k.g, mode, seed, true, &captured)) continue;
        const size_t ex = count_diff(eager.gx, ref.gx), ew = count_diff(eager.gw, ref.gw),
                     es = count_diff(eager.steps, ref.steps);
        const size_t cx = count_diff(captured.gx, ref.gx), cw = count_diff(captured.gw, ref.gw),
                     cs = count_diff(captured.steps, ref.steps);
        // an all-zero ∇Y keeps nothing: both gradients exactly 0; otherwise both carry signal (one row may keep
        // nothing by chance)
        const bool signal = k.zeros == All ? l2(ref.gx) == 0 && l2(ref.gw) == 0
                                           : k.n == 1 || (l2(ref.gx) > 0 && l2(ref.gw) > 0);
        report(ex + ew + es + cx + cw + cs == 0 && signal, "compacted Bernoulli backward (bits)",
               fmt("%s, mode=%d n=%d c=%d d=%d G=%d: bits differing from the uncompacted GEMMs: eager ∇X %zu ∇W %zu "
                   "∇s %zu, captured ∇X %zu ∇W %zu ∇s %zu (|∇X|=%.2e |∇W|=%.2e; %s)",
                   k.what, mode, k.n, k.c, k.d, k.g, ex, ew, es, cx, cw, cs, l2(ref.gx), l2(ref.gw),
                   kept_counts(ctx, in, h, k.n, k.c, k.d, mode, seed).c_str()));
    }
    int4train_context_destroy(generic);
}
