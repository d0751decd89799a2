// harness.cu — pass/fail reporting and random test data of the self-test.
#include "selftest.h"
#include "../random_outliers.h"

int g_pass = 0, g_fail = 0;
bool g_quick = false;

void report(bool ok, const char* name, const std::string& detail) {
    if (ok) ++g_pass; else ++g_fail;
    printf("[%s] %s%s%s\n", ok ? "PASS" : "FAIL", name, detail.empty() ? "" : ": ", detail.c_str());
    fflush(stdout);
}
std::string fmt(const char* f, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, f);
    vsnprintf(buf, sizeof buf, f, ap);
    va_end(ap);
    return buf;
}

// ---------------------------------------------------------------- helpers -------------------------------------
std::mt19937_64 rng(12345);
// Gaussian with a few outlier channels (×50): ../random_outliers.h, on the self-test's engine.
std::vector<float> randn_outliers(int rows, int cols, float scale, int outlier_cols) {
    return test_data::randn_outliers(rng, rows, cols, scale, outlier_cols);
}
std::vector<int8_t> rand_codes(size_t n, int lo, int hi) {
    std::vector<int8_t> v(n);
    for (auto& x : v) x = (int8_t)(lo + (int)(rng() % (uint64_t)(hi - lo + 1)));
    return v;
}

