// test_gpt_elementwise.cu — the device GPT's element-wise passes (native/src/gpt/elementwise.cu): the float4 path
// (16-byte aligned tensors) and the one-at-a-time path (the same values one float off alignment) give the same bits
// for GELU and its backward, residual + dropout and dropout's backward (p = 0.1: the mask follows the element index,
// not the address), in place as the model calls GELU's backward; a count not a multiple of 4 takes both paths in one
// launch; and the bias broadcast equals its definition, y[r, j] = b[j], for widths on and off a multiple of 4.
#include "selftest.h"
#include "gpt/nn.cuh"

using i4t::nn::DropoutKey;

namespace {

// The values of `h` in a device buffer whose first element sits `offset` floats past a 256-byte boundary.
struct Placed {
    DBuf<float> buf;
    float* p;
    Placed(const std::vector<float>& h, int offset) : buf(h.size() + offset), p(buf.p + offset) {
        CUDA_CK(cudaMemcpy(p, h.data(), sizeof(float) * h.size(), cudaMemcpyHostToDevice));
        CUDA_CK(cudaDeviceSynchronize());
    }
    std::vector<float> down(size_t n) const {
        std::vector<float> h(n);
        CUDA_CK(cudaDeviceSynchronize());
        CUDA_CK(cudaMemcpy(h.data(), p, sizeof(float) * n, cudaMemcpyDeviceToHost));
        return h;
    }
};

// op(out, a, b) on fresh copies of a, b at `offset`; the output as the host sees it (out aliases a: in place)
template <class F>
std::vector<float> run_at(int offset, const std::vector<float>& a, const std::vector<float>& b, F&& op) {
    Placed pa(a, offset), pb(b, offset);
    const cudaError_t e = op(pa.p, pa.p, pb.p, (int64_t)a.size());
    if (e != cudaSuccess) report(false, "gpt element-wise launch", cudaGetErrorString(e));
    return pa.down(a.size());
}

}  // namespace

void test_gpt_elementwise() {
    DBuf<uint64_t> step_key(std::vector<uint64_t>{rng()});
    const DropoutKey key{step_key.p, 5};
    for (int count : {4 * 3001, 4 * 3001 + 3}) {
        const auto a = randn_outliers(1, count, 2.0f), b = randn_outliers(1, count, 0.5f);
        struct Case {
            const char* name;
            cudaError_t (*op)(float*, const float*, const float*, int64_t, DropoutKey);
        };
        const Case cases[] = {
            {"GELU", [](float* o, const float* x, const float*, int64_t n, DropoutKey) {
                 return i4t::nn::gelu_forward(nullptr, o, x, n); }},
            {"GELU backward (in place)", [](float* o, const float* g, const float* x, int64_t n, DropoutKey) {
                 return i4t::nn::gelu_backward(nullptr, o, g, x, n); }},
            {"residual + dropout", [](float* o, const float* x, const float* y, int64_t n, DropoutKey k) {
                 return i4t::nn::residual_dropout(nullptr, o, x, y, n, 0.1f, k); }},
            {"dropout backward", [](float* o, const float* g, const float*, int64_t n, DropoutKey k) {
                 return i4t::nn::dropout_backward(nullptr, o, g, n, 0.1f, k); }},
        };
        for (const Case& c : cases) {
            auto call = [&](float* o, const float* x, const float* y, int64_t n) { return c.op(o, x, y, n, key); };
            const auto vec = run_at(0, a, b, call), one = run_at(1, a, b, call);
            const size_t diff = count_diff(vec, one);
            size_t changed = 0;
            for (size_t i = 0; i < a.size(); ++i) changed += vec[i] != a[i];
            report(diff == 0 && changed > a.size() / 2, "gpt element-wise: float4 path = one-at-a-time path (bits)",
                   fmt("%s, %d elements: %zu differ, %zu changed by the op", c.name, count, diff, changed));
        }
    }
    for (int c : {384, 130}) {
        const int n = 37;
        const auto bias = randn_outliers(1, c);
        DBuf<float> y((size_t)n * c), b(bias);
        const cudaError_t e = i4t::nn::broadcast_rows(nullptr, y.p, b.p, n, c);
        const auto h = y.down();
        size_t wrong = 0;
        for (int r = 0; r < n; ++r)
            for (int j = 0; j < c; ++j) wrong += h[(size_t)r * c + j] != bias[j];
        report(e == cudaSuccess && wrong == 0, "gpt bias broadcast: y[r, j] = b[j]", fmt("c=%d: %zu wrong", c, wrong));
    }
}
