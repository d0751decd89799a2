// nn.cuh — the GPT's building blocks (everything but the block linears): launchers of the kernels in this folder.
// Each returns cudaGetLastError() of its launches (attention: a status, as it also calls cuBLAS). All row-major FP32, N = batch·t token rows, C = width.
// Reductions that produce parameter gradients are two-stage with a fixed order (deterministic, no atomics).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <cublas_v2.h>
#include <stdint.h>

#include "int4train.h"

namespace i4t::nn {

// ---- dropout (nanoGPT: inverted dropout) ---------------------------------------------------------------------
// keep(i) = u01(Philox(key, i, stream 2)) >= p; the mask value is keep/(1−p). Keys are per site (see gpt_model.cu),
// so the backward regenerates the mask instead of storing it.
constexpr uint32_t kStreamDropout = 2;
// A dropout site: its key is Hash.Key(seed, step, site) = Mix(*step_key ^ site), with the step's key
// Mix(Mix(seed) ^ step) read on the device (device_util.cuh site_key), so a CUDA graph replays a captured step
// with the next step's masks once the step key in device memory changes (gpt/step_graph.cu).
struct DropoutKey {
    const uint64_t* step_key;  // device memory
    uint32_t site;
};

// ---- embedding.cu ---------------------------------------------------------------------------------------------
// out[b,t,:] = wte[tok[b,t],:] + wpe[t,:], then dropout(p, key) when p > 0.
cudaError_t embedding_forward(cudaStream_t s, float* out, const int32_t* tok, const float* wte, const float* wpe,
                              int n, int t, int c, float p, DropoutKey key);
// dwpe[t,:] += Σ_b dx[b,t,:];  dwte[v,:] += Σ_{i: tok[i]=v} dx[i,:]  (dx already masked by the dropout).
// scratch: embedding_backward_scratch(n, c, v) floats.
size_t embedding_backward_scratch(int n, int c, int v);
cudaError_t embedding_backward(cudaStream_t s, float* dwte, float* dwpe, const float* dx, const int32_t* tok,
                               int n, int t, int c, int v, float* scratch);

// ---- layernorm.cu ---------------------------------------------------------------------------------------------
// out = (x − μ)·rstd·w + b, rstd = 1/√(var + 1e−5) (biased variance), per row of C. mean and rstd may both be NULL
// (the GPT backward remaking a block linear's input: the same kernel on the same x gives the same out bit for bit,
// and the statistics saved by the forward stay as they are).
cudaError_t layernorm_forward(cudaStream_t s, float* out, float* mean, float* rstd, const float* x, const float* w,
                              const float* b, int n, int c);
// dx += ∂L/∂x, dw += Σ dout·x̂, db += Σ dout. scratch: layernorm_backward_scratch(n, c) floats.
size_t layernorm_backward_scratch(int n, int c);
cudaError_t layernorm_backward(cudaStream_t s, float* dx, float* dw, float* db, const float* dout, const float* x,
                               const float* w, const float* mean, const float* rstd, int n, int c, float* scratch);

// ---- elementwise.cu -------------------------------------------------------------------------------------------
// GELU, tanh form (GPT-2; the host model's GptOps.GeluForward).
cudaError_t gelu_forward(cudaStream_t s, float* out, const float* x, int64_t count);
// dx = dout ⊙ GELU'(x); dx may alias dout.
cudaError_t gelu_backward(cudaStream_t s, float* dx, const float* dout, const float* x, int64_t count);
// out = x + dropout(a)   (out may alias x or a).
cudaError_t residual_dropout(cudaStream_t s, float* out, const float* x, const float* a, int64_t count, float p,
                             DropoutKey key);
// out = dropout(g) with the same mask (the backward through a dropout; out may alias g).
cudaError_t dropout_backward(cudaStream_t s, float* out, const float* g, int64_t count, float p, DropoutKey key);
// *dst = value (a kernel, not a copy from host memory: the value travels in the launch, so the caller's variable
// may go away at once, and the write is an ordinary node of a captured graph).
cudaError_t fill_u64(cudaStream_t s, uint64_t* dst, uint64_t value);
// y[i,:] = bias (the start of a linear whose GEMM then adds X·Wᵀ with beta = 1).
cudaError_t broadcast_rows(cudaStream_t s, float* y, const float* bias, int n, int c);
// db[j] += Σ_i dy[i,j]. scratch: column_sum_scratch(n, c) floats.
size_t column_sum_scratch(int n, int c);
cudaError_t column_sum_accumulate(cudaStream_t s, float* db, const float* dy, int n, int c, float* scratch);
// dst[i] = BF16(src[i]), round to nearest even (torch's .to(torch.bfloat16)): the bf16 linears' copies of X, W and
// ∂L/∂y (bf16_linear.cu) and the model's BF16 qkv for the fused attention (block_attention.cu).
cudaError_t cast_to_bf16(cudaStream_t s, __nv_bfloat16* dst, const float* src, int64_t count);

// ---- attention.cu ---------------------------------------------------------------------------------------------
// Causal multi-head attention of nh heads on qkv (N×3C, [q | k | v] per row) as llm.c lays it out: q, k, v are
// permuted to (B, H, T, hs), preatt = q·kᵀ/√hs and out = dropout(softmax(preatt))·v run as strided-batched GEMMs,
// the softmax is one warp per row.
struct AttentionShape { int b, t, c, nh; };
// Buffers: qkvp (3·N·C), att (B·H·T·T, kept for the backward), attd (B·H·T·T scratch), outp (N·C scratch).
int4train_status attention_forward(cudaStream_t s, cublasHandle_t h, cublasComputeType_t compute, AttentionShape sh,
                              float* out, float* att, const float* qkv, float* qkvp, float* attd, float* outp,
                              float p, DropoutKey key);
// dqkv = ∂L/∂qkv (overwritten). Buffers: qkvp, dqkvp (3·N·C), attd, datt (B·H·T·T), doutp (N·C) scratch.
int4train_status attention_backward(cudaStream_t s, cublasHandle_t h, cublasComputeType_t compute, AttentionShape sh,
                               float* dqkv, const float* dout, const float* qkv, const float* att, float* qkvp,
                               float* dqkvp, float* attd, float* datt, float* doutp, float p, DropoutKey key);

// ---- flash_attention.cu, flash_attention_backward.cu ---------------------------------------------------------
// The fused (FlashAttention-2) causal attention of the non-FP32 precisions: the same function as the three above on
// BF16 tensor cores (q, k, v, probabilities and ∂ as BF16 MMA operands, FP32 accumulation and softmax statistics),
// reading q, k, v straight from the rows of qkv's BF16 copy and writing the output / dqkv rows, keeping only lse2 =
// log₂ of each row's softmax denominator in base-2 scores (B·H·T floats, index (b·H + h)·T + i) instead of the T×T
// probabilities. Dropout draws the same masks as attention.cu. Deterministic (no atomics): the same bits every run.
// hs a multiple of 16 in [16, 128], batch × heads at most 65535
bool flash_attention_supported(int hs, int64_t sequences_heads);
// Once per process before the first launch (not inside a stream capture): the kernels' shared-memory limits.
cudaError_t flash_attention_prepare();
// out (N × C rows) and lse2. Run again on the same qkv it gives the same out bit for bit.
// qkv in FP32 or as its BF16 cast (round to nearest even; what the device GPT keeps): the kernels round FP32 q, k, v
// so on the load, so both give the same bits (native/tests/flash_emulation runs both).
cudaError_t flash_attention_forward(cudaStream_t s, AttentionShape sh, float* out, float* lse2,
                                    const __nv_bfloat16* qkv, float p, DropoutKey key);
cudaError_t flash_attention_forward(cudaStream_t s, AttentionShape sh, float* out, float* lse2, const float* qkv,
                                    float p, DropoutKey key);
// delta (B·H·T) = Σ_d dout·out per row and head, the backward's D; out is FP32 or, when null, its BF16 copy out_bf16.
// dout_bf16 (N × C BF16, or null): also write dout rounded to BF16 there, for flash_attention_backward to read.
cudaError_t flash_attention_delta(cudaStream_t s, AttentionShape sh, float* delta, const float* dout,
                                  const float* out, const __nv_bfloat16* out_bf16, __nv_bfloat16* dout_bf16 = nullptr);
// Whether INT4TRAIN_FLASH_TUNE asks for the BF16 copy of dout (flash_attention.cuh kTuneDoutBf16): only then should a
// caller pass dout_bf16 to both calls (the results are the same bits either way).
bool flash_attention_bf16_dout();
// dqkv (N × 3C, overwritten, FP32) = ∂L/∂qkv from dout = ∂L/∂out, the forward's qkv (FP32 or BF16) and lse2, and
// delta. dout_bf16: the copy flash_attention_delta wrote, or null (the kernels then round dout themselves).
cudaError_t flash_attention_backward(cudaStream_t s, AttentionShape sh, float* dqkv, const float* dout,
                                     const __nv_bfloat16* qkv, const float* lse2, const float* delta, float p,
                                     DropoutKey key, const __nv_bfloat16* dout_bf16 = nullptr);
cudaError_t flash_attention_backward(cudaStream_t s, AttentionShape sh, float* dqkv, const float* dout,
                                     const float* qkv, const float* lse2, const float* delta, float p, DropoutKey key,
                                     const __nv_bfloat16* dout_bf16 = nullptr);

// ---- cross_entropy.cu -----------------------------------------------------------------------------------------
// In place: logits (N×V) → probabilities; losses[i] = −log p[i, target[i]]; *mean = Σ losses / N (fixed order).
// targets may be NULL (probabilities only).
cudaError_t softmax_cross_entropy(cudaStream_t s, float* probs, float* losses, float* mean, const int32_t* targets,
                                  int n, int v);
// In place: probs → ∂L/∂logits = (p − onehot(target)) / N.
// probs ← loss_scale·(probs − onehot(target))/n, the gradient of loss_scale × the mean cross-entropy
cudaError_t cross_entropy_backward(cudaStream_t s, float* probs, const int32_t* targets, int n, int v, float loss_scale);

// ---- adamw.cu -------------------------------------------------------------------------------------------------
// out[0] = ‖g[0..count)‖₂, out[1] = clip scale (clip > 0 and norm > clip ? clip/(norm + 1e−6) : 1), in double then
// rounded. scratch: grad_norm_scratch(count) doubles.
size_t grad_norm_scratch(int64_t count);
cudaError_t grad_norm(cudaStream_t s, float* out, const float* g, int64_t count, float clip, double* scratch);
// One AdamW update of count elements (the host AdamW's formula), gradient scaled by *clip_scale:
// m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², θ ← θ − lr·(wd·θ + m/c1/(√(v/c2) + ε)); keep_positive: θ ← |θ|.
// lr_scale multiplies the learning rate (the INT4 step sizes' step_lr_scale; 1.0f leaves every bit unchanged).
// d_lr, d_corr (device, may be NULL): lr = *d_lr, c1 = d_corr[0], c2 = d_corr[1] instead of the values passed
// (a replayed CUDA graph reads the step's values there; the same floats give the same update bit for bit).
cudaError_t adamw(cudaStream_t s, float* theta, const float* g, float* m, float* v, int64_t count, float lr,
                  float beta1, float beta2, float eps, float wd, float c1, float c2, const float* clip_scale,
                  bool keep_positive, float lr_scale, const float* d_lr = nullptr, const float* d_corr = nullptr);

// ---- dense_gemm.cu --------------------------------------------------------------------------------------------
// Row-major C[M×N] = alpha·op(A)·op(B) + beta·C, op(A) M×K, op(B) K×N; lda/ldb/ldc are the row lengths of the stored
// matrices; batch > 1 with element strides. compute: CUBLAS_COMPUTE_32F (FP32) or CUBLAS_COMPUTE_32F_FAST_16BF
// (BF16 operands, FP32 accumulation), FP32 storage.
cublasStatus_t gemm(cublasHandle_t h, cublasComputeType_t compute, bool trans_a, bool trans_b, int m, int n, int k,
                    float alpha, const float* a, int lda, long long stride_a, const float* b, int ldb,
                    long long stride_b, float beta, float* c, int ldc, long long stride_c, int batch = 1);
// The same on BF16 operands A and B, FP32 accumulation (CUBLAS_COMPUTE_32F) and FP32 C: autocast's linear GEMM.
cublasStatus_t gemm_bf16(cublasHandle_t h, bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                         const __nv_bfloat16* a, int lda, const __nv_bfloat16* b, int ldb, float beta, float* c,
                         int ldc);
const char* cublas_status_text(cublasStatus_t st);

}  // namespace i4t::nn
