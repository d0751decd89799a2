// elementwise.cu — GELU, residual + dropout, dropout backward, bias broadcast, the bias gradient (column sums) and the
// FP32 → BF16 cast.
#include "nn.cuh"
#include "device_util.cuh"

namespace i4t::nn {

constexpr float kGeluK = 0.7978845608f;  // √(2/π)

// GELU(x) = ½x(1 + tanh(√(2/π)(x + 0.044715x³)))  (GPT-2's form; the host GptOps.GeluForward)
__device__ __forceinline__ float gelu(float v) { return 0.5f * v * (1.0f + tanhf(kGeluK * (v + 0.044715f * v * v * v))); }

// dGELU/dx, the factor the backward multiplies ∂L/∂out by
__device__ __forceinline__ float gelu_slope(float v) {
    const float th = tanhf(kGeluK * (v + 0.044715f * v * v * v));
    return 0.5f * (1.0f + th) + 0.5f * v * (1.0f - th * th) * kGeluK * (1.0f + 3.0f * 0.044715f * v * v);
}

// out[e] = op(e, a[e], b[e]) for e < count (b may be null: an op of one input). These passes move 8–12 bytes an
// element and do little arithmetic, so what decides their speed is the memory instructions: with vec (the caller
// checked every pointer is 16-byte aligned) each thread moves a float4 of each tensor per iteration; the last
// count mod 4 elements, or all of them when not vec, one at a time. Per element the arithmetic is the same either
// way (op sees one element and its index), so both paths give the same bits. out may be a or b (in place).
// op.start() runs once per thread first (the dropout ops hash their site's key there: the step key lives in device
// memory, so that a captured CUDA graph replays later steps).
template <class Op>
__global__ void map_kernel(float* out, const float* a, const float* b, int64_t count, bool vec, Op op) {
    op.start();
    const int64_t first = blockIdx.x * (int64_t)blockDim.x + threadIdx.x, stride = (int64_t)gridDim.x * blockDim.x;
    const int64_t quads = vec ? count / 4 : 0;
    for (int64_t q = first; q < quads; q += stride) {
        const float4 va = reinterpret_cast<const float4*>(a)[q];
        const float4 vb = b ? reinterpret_cast<const float4*>(b)[q] : va;
        const int64_t e = 4 * q;
        reinterpret_cast<float4*>(out)[q] =
            make_float4(op(e, va.x, vb.x), op(e + 1, va.y, vb.y), op(e + 2, va.z, vb.z), op(e + 3, va.w, vb.w));
    }
    for (int64_t e = 4 * quads + first; e < count; e += stride) out[e] = op(e, a[e], b ? b[e] : 0.0f);
}

static bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

template <class Op>
static cudaError_t map(cudaStream_t s, float* out, const float* a, const float* b, int64_t count, Op op) {
    if (count <= 0) return cudaSuccess;
    const bool vec = aligned16(out) && aligned16(a) && (!b || aligned16(b));
    map_kernel<<<grid_for(vec ? (count + 3) / 4 : count, 256), 256, 0, s>>>(out, a, b, count, vec, op);
    return cudaGetLastError();
}

struct GeluOp {
    __device__ void start() {}
    __device__ float operator()(int64_t, float x, float) const { return gelu(x); }
};
struct GeluBackwardOp {  // a = ∂L/∂out, b = x
    __device__ void start() {}
    __device__ float operator()(int64_t, float dout, float x) const { return dout * gelu_slope(x); }
};
// a·mask(e) (dropout's backward), or with residual x + b·mask(e) (a = x, b = the branch's output)
struct DropoutOp {
    DropoutKey site;
    float p, keep_scale;
    bool residual;
    uint64_t key;
    __device__ void start() { key = site_key(site); }
    __device__ float operator()(int64_t e, float a, float b) const {
        return residual ? a + b * dropout_mask(key, e, p, keep_scale) : a * dropout_mask(key, e, p, keep_scale);
    }
};

__global__ void broadcast_rows_kernel(float* __restrict__ y, const float* __restrict__ bias, int n, int c, bool vec) {
    // one row a block at a time: no per-element division to find the column (the old e % c was a 64-bit one)
    for (int64_t r = blockIdx.x; r < n; r += gridDim.x) {
        float* row = y + r * c;
        if (vec)
            for (int j = threadIdx.x; j < c / 4; j += blockDim.x)
                reinterpret_cast<float4*>(row)[j] = reinterpret_cast<const float4*>(bias)[j];
        else
            for (int j = threadIdx.x; j < c; j += blockDim.x) row[j] = bias[j];
    }
}

static float keep_scale(float p) { return p > 0 ? 1.0f / (1.0f - p) : 1.0f; }

cudaError_t gelu_forward(cudaStream_t s, float* out, const float* x, int64_t count) {
    return map(s, out, x, nullptr, count, GeluOp{});
}
cudaError_t gelu_backward(cudaStream_t s, float* dx, const float* dout, const float* x, int64_t count) {
    return map(s, dx, dout, x, count, GeluBackwardOp{});
}
cudaError_t residual_dropout(cudaStream_t s, float* out, const float* x, const float* a, int64_t count, float p,
                             DropoutKey key) {
    return map(s, out, x, a, count, DropoutOp{key, p, keep_scale(p), true, 0});
}
cudaError_t dropout_backward(cudaStream_t s, float* out, const float* g, int64_t count, float p, DropoutKey key) {
    return map(s, out, g, nullptr, count, DropoutOp{key, p, keep_scale(p), false, 0});
}
__global__ void fill_u64_kernel(uint64_t* dst, uint64_t value) { *dst = value; }

cudaError_t fill_u64(cudaStream_t s, uint64_t* dst, uint64_t value) {
    fill_u64_kernel<<<1, 1, 0, s>>>(dst, value);
    return cudaGetLastError();
}
cudaError_t broadcast_rows(cudaStream_t s, float* y, const float* bias, int n, int c) {
    if ((int64_t)n * c <= 0) return cudaSuccess;
    const bool vec = c % 4 == 0 && aligned16(y) && aligned16(bias);
    broadcast_rows_kernel<<<n < 65535 * 8 ? n : 65535 * 8, 256, 0, s>>>(y, bias, n, c, vec);
    return cudaGetLastError();
}

// Column sums in two fixed-order stages: block (column tile of 32, row chunk) → partial[chunk][col], then per column.
static int column_chunks(int n) { int k = (n + 255) / 256; return k > 128 ? 128 : (k < 1 ? 1 : k); }

size_t column_sum_scratch(int n, int c) { return (size_t)column_chunks(n) * c; }

__global__ void column_sum_partial_kernel(float* __restrict__ partial, const float* __restrict__ y, int n, int c,
                                          int chunk_rows) {
    __shared__ float sh[8][33];
    int col = blockIdx.x * 32 + threadIdx.x;
    int r0 = blockIdx.y * chunk_rows, r1 = min(n, r0 + chunk_rows);
    float acc = 0.0f;
    if (col < c)
        for (int r = r0 + threadIdx.y; r < r1; r += 8) acc += y[(int64_t)r * c + col];
    sh[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && col < c) {
        float t = 0.0f;
        for (int k = 0; k < 8; ++k) t += sh[k][threadIdx.x];
        partial[(int64_t)blockIdx.y * c + col] = t;
    }
}

__global__ void column_sum_reduce_kernel(float* __restrict__ db, const float* __restrict__ partial, int chunks, int c) {
    int col = blockIdx.x * blockDim.x + threadIdx.x;
    if (col >= c) return;
    float acc = 0.0f;
    for (int k = 0; k < chunks; ++k) acc += partial[(int64_t)k * c + col];
    db[col] += acc;
}

cudaError_t column_sum_accumulate(cudaStream_t s, float* db, const float* dy, int n, int c, float* scratch) {
    int chunks = column_chunks(n), rows = (n + chunks - 1) / chunks;
    column_sum_partial_kernel<<<dim3((c + 31) / 32, chunks), dim3(32, 8), 0, s>>>(scratch, dy, n, c, rows);
    column_sum_reduce_kernel<<<(c + 255) / 256, 256, 0, s>>>(db, scratch, chunks, c);
    return cudaGetLastError();
}

// Four BF16 values: the 8-byte store of one float4's cast.
struct alignas(8) Bf16x4 {
    __nv_bfloat162 lo, hi;
};

// dst[i] = BF16(src[i]), round to nearest even (torch's .to(torch.bfloat16)). vec (the caller checked src is 16-
// and dst 8-byte aligned): each thread casts a float4 into one 8-byte store, memory-bound as a cast is; the last
// count mod 4 elements, or all of them when not vec, one by one.
__global__ void cast_to_bf16_kernel(__nv_bfloat16* __restrict__ dst, const float* __restrict__ src, int64_t count,
                                    bool vec) {
    const int64_t first = blockIdx.x * (int64_t)blockDim.x + threadIdx.x, stride = (int64_t)gridDim.x * blockDim.x;
    const int64_t quads = vec ? count / 4 : 0;
    for (int64_t q = first; q < quads; q += stride) {
        const float4 v = reinterpret_cast<const float4*>(src)[q];
        Bf16x4 out;
        out.lo = __floats2bfloat162_rn(v.x, v.y);  // .x ← first argument: element order is kept
        out.hi = __floats2bfloat162_rn(v.z, v.w);
        reinterpret_cast<Bf16x4*>(dst)[q] = out;
    }
    for (int64_t e = 4 * quads + first; e < count; e += stride) dst[e] = __float2bfloat16_rn(src[e]);
}

cudaError_t cast_to_bf16(cudaStream_t s, __nv_bfloat16* dst, const float* src, int64_t count) {
    if (count <= 0) return cudaSuccess;
    const bool vec = aligned16(src) && reinterpret_cast<uintptr_t>(dst) % 8 == 0;
    cast_to_bf16_kernel<<<grid_for(vec ? (count + 3) / 4 : count, 256), 256, 0, s>>>(dst, src, count, vec);
    return cudaGetLastError();
}

}  // namespace i4t::nn
