// random_outliers.h — the tests' random data: Gaussian values with a few outlier columns (×50), the shape of
// activations and gradients that stresses BF16 and 4-bit rounding (a product of two outlier columns dominates a
// row's dot products). One generator for the self-test (selftest/harness.cu, on its global engine) and the CPU
// emulation of the fused attention (flash_emulation/emulate.cpp), so the emulation can draw the self-test's kind
// of data.
#pragma once
#include <stddef.h>

#include <random>
#include <vector>

namespace test_data {

// rows × cols row-major values ~ N(0, scale²), then outlier_cols columns drawn at random (repeats possible) ×50.
template <class Engine>
std::vector<float> randn_outliers(Engine& rng, int rows, int cols, float scale = 1.0f, int outlier_cols = 3) {
    std::normal_distribution<float> nd(0.0f, scale);
    std::vector<float> v((size_t)rows * cols);
    for (auto& x : v) x = nd(rng);
    for (int k = 0; k < outlier_cols && k < cols; ++k) {
        const int c = (int)(rng() % cols);
        for (int r = 0; r < rows; ++r) v[(size_t)r * cols + c] *= 50.0f;
    }
    return v;
}

}  // namespace test_data
