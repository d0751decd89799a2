// block_attention.cu — a block's attention, forward and backward, through the one path the model chose at creation
// (model_build.cu fused_attention): fused (flash_attention*.cu: BF16 tensor cores, per-row lse₂ kept) or as llm.c runs
// it (attention.cu: cuBLAS on permuted heads, the T×T probabilities kept). Both read qkv (N × 3C; the fused one its
// BF16 copy) and write the attention output (N × C) / ∂qkv; dropout is site 8l + 1's in both, with the same masks.
#include "runtime/launch.cuh"
#include "model.cuh"

namespace i4t {
namespace gpt {

static nn::AttentionShape shape_of(int4train_gpt g) { return nn::AttentionShape{g->b, g->t, g->cfg.width, g->cfg.heads}; }

// llm.c's path keeps qkv in FP32 (Block::qkv). The fused kernels read q, k, v rounded to BF16 (nearest even) and
// nothing else of qkv, so the block keeps only that rounding (Block::qkv_bf16, half the bytes, the same bits in the
// kernels: flash_attention.cuh load_rows; native/tests/flash_emulation checks it) and the qkv linear writes its FP32
// output into dbuf2, which no forward otherwise uses (its policy's lent scratch is done with it by then).
float* qkv_output(int4train_gpt g, int l) { return g->fused_attention ? g->dbuf2 : g->blocks[l].qkv; }

int4train_status attention_block_forward(int4train_gpt g, int l) {
    Block& k = g->blocks[l];
    const nn::AttentionShape sh = shape_of(g);
    const float p = g->dropout_p();
    const nn::DropoutKey key = g->site(8 * l + 1);
    if (g->fused_attention) {
        I4T_CUDA(nn::cast_to_bf16(g->stream(), k.qkv_bf16, qkv_output(g, l), (int64_t)g->b * g->t * 3 * sh.c));
        I4T_CUDA(nn::flash_attention_forward(g->stream(), sh, k.att_out, k.lse2, k.qkv_bf16, p, key));
        return INT4TRAIN_SUCCESS;
    }
    return nn::attention_forward(g->stream(), g->blas, g->hp, sh, k.att_out, k.att, k.qkv, g->qkvp, g->attd, g->outp,
                                 p, key);
}

int4train_status attention_block_backward(int4train_gpt g, int l, float* dqkv, const float* dout) {
    Block& k = g->blocks[l];
    const nn::AttentionShape sh = shape_of(g);
    const float p = g->dropout_p();
    const nn::DropoutKey key = g->site(8 * l + 1);
    if (!g->fused_attention)
        return nn::attention_backward(g->stream(), g->blas, g->hp, sh, dqkv, dout, k.qkv, k.att, g->qkvp, g->dqkvp,
                                      g->attd, g->datt, g->outp, p, key);
    // D = Σ ∂out ⊙ out needs the attention output: in FP32 where the model keeps it (fp32, INT4 proj linears), else
    // the BF16 copy the bf16 proj linear kept (linear_in then holds another block's input).
    const bool bf16_copy = k.lin[1].kept == KeptInput::Bf16Copy;
    // ∂out's BF16 copy for the backward's tiles where the model has the buffer and the switch is still on
    __nv_bfloat16* dout16 = nn::flash_attention_bf16_dout() ? g->att_dout_bf16 : nullptr;
    I4T_CUDA(nn::flash_attention_delta(g->stream(), sh, g->att_delta, dout, bf16_copy ? nullptr : k.att_out,
                                       bf16_copy ? k.lin[1].x_bf16 : nullptr, dout16));
    I4T_CUDA(nn::flash_attention_backward(g->stream(), sh, dqkv, dout, k.qkv_bf16, k.lse2, g->att_delta, p, key,
                                          dout16));
    return INT4TRAIN_SUCCESS;
}

}  // namespace gpt
}  // namespace i4t
