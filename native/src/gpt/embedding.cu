// embedding.cu — token + position embedding (forward, with the embedding dropout) and its backward.
#include "nn.cuh"
#include "device_util.cuh"

namespace i4t::nn {

__global__ void embedding_forward_kernel(float* __restrict__ out, const int32_t* __restrict__ tok,
                                         const float* __restrict__ wte, const float* __restrict__ wpe, int64_t total,
                                         int t, int c, float p, float keep_scale, DropoutKey dk) {
    const uint64_t key = site_key(dk);
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
        int64_t row = e / c;
        int col = (int)(e - row * c);
        int pos = (int)(row % t);
        float v = wte[(int64_t)tok[row] * c + col] + wpe[(int64_t)pos * c + col];
        out[e] = v * dropout_mask(key, e, p, keep_scale);
    }
}

cudaError_t embedding_forward(cudaStream_t s, float* out, const int32_t* tok, const float* wte, const float* wpe,
                              int n, int t, int c, float p, DropoutKey key) {
    int64_t total = (int64_t)n * c;
    embedding_forward_kernel<<<grid_for(total, 256), 256, 0, s>>>(out, tok, wte, wpe, total, t, c, p,
                                                                  p > 0 ? 1.0f / (1.0f - p) : 1.0f, key);
    return cudaGetLastError();
}

// dwpe[pos, col] += Σ_b dx[b·t + pos, col]: one thread per (pos, col), b in order.
__global__ void position_grad_kernel(float* __restrict__ dwpe, const float* __restrict__ dx, int sequences, int t,
                                     int c) {
    int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if (e >= (int64_t)t * c) return;
    int pos = (int)(e / c), col = (int)(e % c);
    float acc = 0.0f;
    for (int b = 0; b < sequences; ++b) acc += dx[((int64_t)b * t + pos) * c + col];
    dwpe[e] += acc;
}

// Stage 1 of dwte: block (v, chunk) sums the rows of its token chunk whose token is v into partial[chunk][v][:].
__global__ void token_grad_partial_kernel(float* __restrict__ partial, const float* __restrict__ dx,
                                          const int32_t* __restrict__ tok, int n, int c, int vocab, int chunk_rows) {
    int v = blockIdx.x, chunk = blockIdx.y;
    int r0 = chunk * chunk_rows, r1 = min(n, r0 + chunk_rows);
    for (int col = threadIdx.x; col < c; col += blockDim.x) {
        float acc = 0.0f;
        for (int r = r0; r < r1; ++r)
            if (tok[r] == v) acc += dx[(int64_t)r * c + col];
        partial[((int64_t)chunk * vocab + v) * c + col] = acc;
    }
}

// Stage 2: dwte[v, col] += Σ_chunk partial[chunk][v][col] in chunk order.
__global__ void token_grad_reduce_kernel(float* __restrict__ dwte, const float* __restrict__ partial, int chunks,
                                         int64_t vc) {
    int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if (e >= vc) return;
    float acc = 0.0f;
    for (int k = 0; k < chunks; ++k) acc += partial[k * vc + e];
    dwte[e] += acc;
}

static int token_chunks(int n, int c, int v) {
    // enough chunks to fill the GPU, bounded so the partials stay within 16 Mi floats
    int64_t cap = (16ll << 20) / ((int64_t)v * c);
    int chunks = (int)(cap < 64 ? cap : 64);
    if (chunks < 1) chunks = 1;
    if (chunks > n) chunks = n;
    return chunks;
}

size_t embedding_backward_scratch(int n, int c, int v) { return (size_t)token_chunks(n, c, v) * v * c; }

cudaError_t embedding_backward(cudaStream_t s, float* dwte, float* dwpe, const float* dx, const int32_t* tok,
                               int n, int t, int c, int v, float* scratch) {
    int64_t tc = (int64_t)t * c;
    position_grad_kernel<<<grid_for(tc, 256), 256, 0, s>>>(dwpe, dx, n / t, t, c);
    int chunks = token_chunks(n, c, v);
    int rows = (n + chunks - 1) / chunks;
    token_grad_partial_kernel<<<dim3(v, chunks), c < 256 ? ((c + 31) / 32) * 32 : 256, 0, s>>>(scratch, dx, tok, n, c, v,
                                                                                               rows);
    int64_t vc = (int64_t)v * c;
    token_grad_reduce_kernel<<<grid_for(vc, 256), 256, 0, s>>>(dwte, scratch, chunks, vc);
    return cudaGetLastError();
}

}  // namespace i4t::nn
