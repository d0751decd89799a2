// main.cu (int4train_selftest) — checks every operator of libint4train against plain CPU C++ implementations of docs/conventions.md
// on random data with outliers: integer outputs bit-exact, floating outputs within tolerances; then error paths.
// Usage: int4train_selftest [--quick] [--robustness] [--sticky-fault] [--only GROUP[,GROUP...]]
//   --quick: smaller sizes, no timing, no deliberately failing CUDA calls (for compute-sanitizer)
//   --only: just these test groups (names in kGroups below, e.g. attention), no timing: compute-sanitizer's slow tools
//     (racecheck) finish one group inside a device call where the whole self-test does not
//   --robustness: only the entry-point robustness table (entry_robustness.cu) and, unless --quick, the sticky fault
//   --sticky-fault: the child process of the sticky-fault case (a device-side fault, then every entry point reports it)
// Last line: "N passed, M failed".
#include "selftest.h"

static void bench_layer(int4train_context ctx, int n, int c, int d, int g, int sampling, int reps) {
    auto x = randn_outliers(n, d), w = randn_outliers(c, d, 0.05f);
    auto gy = randn_outliers(n, c, 1e-3f, 1);
    for (int i = 0; i < n; i += 2) for (int j = 0; j < c; ++j) gy[(size_t)i * c + j] = 0.0f;  // half the tokens silent
    DBuf<float> dx(x), dw(w), dgy(gy), dsx(1), dsw(1), dy((size_t)n * c), dgx((size_t)n * d), dgw((size_t)c * d), dgs(2), dgb(c);
    DBuf<uint8_t> dxp((size_t)n * d / 2), dwp((size_t)c * d / 2);
    DBuf<int8_t> da((size_t)n * d), db((size_t)c * d);
    DBuf<int32_t> dc((size_t)n * c);
    CK(int4train_hadamard(ctx, dx.p, dgx.p, n, d, g));
    CK(int4train_lsq_init_step(ctx, dgx.p, (int64_t)n * d, dsx.p));
    CK(int4train_hadamard(ctx, dw.p, dgw.p, c, d, g));
    CK(int4train_lsq_init_step(ctx, dgw.p, (int64_t)c * d, dsw.p));
    void* st = nullptr;
    CK(int4train_context_get_stream(ctx, &st));
    cudaEvent_t e0, e1;
    cudaEventCreate(&e0);
    cudaEventCreate(&e1);
    float t[3] = {0, 0, 0};
    for (int which = 0; which < 3; ++which) {
        for (int r = -1; r < reps; ++r) {
            if (r == 0) cudaEventRecord(e0, (cudaStream_t)st);
            if (which == 0) CK(int4train_gemm_s8(ctx, da.p, db.p, dc.p, n, c, d));
            if (which == 1) CK(int4train_hq_forward(ctx, dx.p, dw.p, nullptr, dsx.p, dsw.p, n, c, d, g, 0, dy.p, dxp.p, dwp.p));
            if (which == 2) CK(int4train_linear_backward(ctx, dgy.p, dx.p, dw.p, dxp.p, dwp.p, dsx.p, dsw.p, n, c, d, g, 0, sampling, 7,
                                                         dgx.p, dgw.p, dgs.p, dgs.p + 1, dgb.p, 0));
        }
        cudaEventRecord(e1, (cudaStream_t)st);
        cudaEventSynchronize(e1);
        cudaEventElapsedTime(&t[which], e0, e1);
        t[which] /= reps;
    }
    CK(int4train_context_synchronize(ctx));
    // breakdown of the backward into its public pieces (same inputs)
    {
        DBuf<int8_t> dh((size_t)n * c), dl((size_t)n * c), dxq((size_t)n * d);
        DBuf<float> dsc(3), tmp((size_t)n * d);
        DBuf<double> dp(2 * (size_t)n);
        DBuf<uint8_t> dk(2 * (size_t)n);
        DBuf<int32_t> dkept(2);
        CK(int4train_unpack_int4(ctx, dxp.p, dxq.p, n, d));
        auto timeit = [&](auto&& fn) -> float {
            fn();
            cudaEventRecord(e0, (cudaStream_t)st);
            for (int r = 0; r < reps; ++r) fn();
            cudaEventRecord(e1, (cudaStream_t)st);
            cudaEventSynchronize(e1);
            float ms = 0;
            cudaEventElapsedTime(&ms, e0, e1);
            return ms / reps;
        };
        float tb = timeit([&] { int4train_bit_split(ctx, dgy.p, n, c, 7, 0, dh.p, dl.p, dsc.p); });
        float tsw = timeit([&] { int4train_lss_select(ctx, dh.p, dl.p, dsc.p, dxq.p, dsx.p, n, c, d, sampling, 7, dp.p, dk.p, dkept.p); });
        float tgw = timeit([&] { int4train_lss_grad_weight(ctx, dh.p, dl.p, dxp.p, dsc.p, dsx.p, dk.p, dp.p, n, c, d, dgw.p); });
        float tgi = timeit([&] { int4train_lss_grad_input(ctx, dh.p, dl.p, dwp.p, dsc.p, dsw.p, dk.p, dp.p, n, c, d, dgx.p); });
        float th = timeit([&] { int4train_hadamard(ctx, dx.p, tmp.p, n, d, g); });
        float tl = timeit([&] { int4train_lsq_backward(ctx, dx.p, dgx.p, (int64_t)n * d, dsx.p, 0, tmp.p, dgs.p); });
        CK(int4train_context_synchronize(ctx));
        report(true, "timing breakdown", fmt("N=%d C=%d D=%d sampling=%d: bit_split %.3f, lss_select(∇W) %.3f, lss_grad_weight %.3f, "
                                             "lss_grad_input(general, 2N rows) %.3f, hadamard(N×D) %.3f, lsq_backward(N×D) %.3f ms",
                                             n, c, d, sampling, tb, tsw, tgw, tgi, th, tl));
    }
    double flop = 2.0 * n * c * d;
    report(true, "timing", fmt("N=%d C=%d D=%d G=%d sampling=%d: int8 GEMM %.3f ms (%.0f TOPS), hq_forward %.3f ms, linear_backward %.3f ms",
                               n, c, d, g, sampling, t[0], flop / (t[0] * 1e-3) / 1e12, t[1], t[2]));
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
}

// The test groups in the order a full run takes them (--only picks some by name).
struct TestGroup {
    const char* name;
    void (*run)(int4train_context);
};
static const TestGroup kGroups[] = {
    {"canonical", test_canonical_and_init},
    {"hadamard", test_hadamard},
    {"lsq", test_lsq},
    {"pack", test_pack},
    {"gemm", test_gemm},
    {"hq-forward", test_hq_forward},
    {"block-search", test_block_search},
    {"split-digits", test_split_digits},
    {"transpose-codes", test_transpose_codes},
    {"bit-split-lss", test_bit_split_select_lss},
    {"linear-backward", test_linear_backward},
    {"folded-backward", test_folded_backward_bits},
    {"fast-paths", test_fast_paths_bits},
    {"lsq-fast-rules", [](int4train_context) { test_lsq_fast_rules(); }},
    {"hadamard-quant-fast", test_hadamard_quant_fast_bits},
    {"lsq-back-fast", test_lsq_back_fast_special_bits},
    {"bias-one-read", test_bias_one_read_bits},
    {"lss-grad-input-fold", test_lss_grad_input_fold_bits},
    {"compacted-bernoulli", test_compacted_bernoulli_bits},
    {"bf16-grad-y", test_bf16_grad_y_bits},
    {"bf16-forward", test_bf16_forward_bits},
    {"attention", [](int4train_context) { test_flash_attention(); }},
    {"gpt-elementwise", [](int4train_context) { test_gpt_elementwise(); }},
    {"errors", test_errors},
    {"entry-robustness", test_entry_robustness},
};

// The names of a comma-separated list ("a,b" → a, b; "" → one empty name, which no group has).
static std::vector<std::string> split_names(const char* list) {
    std::vector<std::string> names;
    for (const char* p = list;;) {
        const char* end = strchr(p, ',');
        names.emplace_back(p, end ? (size_t)(end - p) : strlen(p));
        if (!end) return names;
        p = end + 1;
    }
}

int main(int argc, char** argv) {
    bool only_robustness = false;
    const char* only = nullptr;
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--quick")) g_quick = true;
        else if (!strcmp(argv[i], "--robustness")) only_robustness = true;
        else if (!strcmp(argv[i], "--sticky-fault")) return run_sticky_fault_child();
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else {
            printf("unknown option %s (--quick, --robustness, --sticky-fault, --only GROUP[,GROUP...])\n0 passed, 1 failed\n",
                   argv[i]);
            return 1;
        }
    }
    // --only's groups (empty: every group); every name must be a group: a typo must not pass by running nothing
    const std::vector<std::string> only_groups = only ? split_names(only) : std::vector<std::string>{};
    for (const std::string& name : only_groups) {
        bool known = false;
        for (const TestGroup& g : kGroups) known = known || name == g.name;
        if (!known) {
            printf("--only: unknown test group '%s'; groups:", name.c_str());
            for (const TestGroup& g : kGroups) printf(" %s", g.name);
            printf("\n0 passed, 1 failed\n");
            return 1;
        }
    }
    printf("libint4train selftest, version %d%s\n", int4train_version(), g_quick ? " (quick)" : "");
    int count = 0;
    int4train_device_count(&count);
    if (count == 0) {
        printf("no CUDA device\n0 passed, 1 failed\n");
        return 1;
    }
    int4train_context ctx = nullptr;
    if (int4train_context_create(0, &ctx) != INT4TRAIN_SUCCESS) {
        printf("context_create failed: %s\n0 passed, 1 failed\n", int4train_last_error());
        return 1;
    }
    char name[256];
    int cc = 0;
    int4train_context_info(ctx, name, sizeof name, &cc, nullptr);
    printf("device: %s (cc %d)\n", name, cc);
    auto t0 = std::chrono::steady_clock::now();
    if (only_robustness) {
        test_entry_robustness(ctx);
        if (!g_quick) test_sticky_fault_in_child();
        report(int4train_context_destroy(ctx) == INT4TRAIN_SUCCESS, "context_destroy", "");
        printf("%d passed, %d failed\n", g_pass, g_fail);
        return g_fail == 0 ? 0 : 1;
    }
    for (const TestGroup& g : kGroups)
        if (only_groups.empty() || std::find(only_groups.begin(), only_groups.end(), g.name) != only_groups.end())
            g.run(ctx);
    if (!g_quick && !only) test_sticky_fault_in_child();
    if (!g_quick && !only) {
        bench_layer(ctx, 4096, 4096, 4096, 32, 0, 5);
        bench_layer(ctx, 8192, 4096, 1024, 32, 0, 5);
        bench_layer(ctx, 1024, 1024, 1024, 32, 1, 3);
        bench_layer(ctx, 4096, 4096, 4096, 32, 1, 3);
    }
    size_t ws = 0;
    int4train_context_info(ctx, nullptr, 0, nullptr, &ws);
    int4train_status fin = int4train_context_synchronize(ctx);
    report(fin == INT4TRAIN_SUCCESS, "final synchronize (no asynchronous errors)", fin ? int4train_last_error() : "");
    report(int4train_context_destroy(ctx) == INT4TRAIN_SUCCESS, "context_destroy", "");
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    printf("workspace high-water: %zu bytes; %.1f s\n", ws, secs);
    printf("%d passed, %d failed\n", g_pass, g_fail);
    return g_fail == 0 ? 0 : 1;
}

