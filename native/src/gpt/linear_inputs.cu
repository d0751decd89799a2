// linear_inputs.cu — the inputs X of a block's linears: LN₁(x) (qkv), LN₂(x2) (up) and GELU(h) (down), made by the
// forward and, in the INT4 precisions, made again by the backward; and the up projection h itself, which an INT4 up
// linear makes again too (remake_hidden). The attention output (proj's X) is kept, never made again: that would be
// a whole attention forward (model_build.cu kept_input).
// What a linear keeps between forward and backward is decided in model_build.cu (kept_input, by the linear's
// arithmetic); the why is docs/conventions.md "What the device GPT keeps for the backward". The inputs whose FP32 X
// is not kept (bf16, int4 linears) share one buffer (Block::ln1, att_out, ln2, g == int4train_gpt_s::linear_in): the
// forward writes each right before its linear reads it (bf16: casts it to the BF16 copy it keeps). For an INT4
// linear the backward writes it again right before that linear's backward reads it, with the forward's own
// kernels on the forward's own inputs, so X is the forward's bit for bit (the INT4 backward recomputes its LSQ masks
// and residuals from X, docs/conventions.md "LSQ").
#include "runtime/launch.cuh"
#include "model.cuh"
#include "device_util.cuh"

namespace i4t {
namespace gpt {

cudaError_t make_layernorm_input(int4train_gpt g, int l, int which, bool forward) {
    Block& k = g->blocks[l];
    const bool first = which == 0;  // LN₁(res[l]) for the qkv linear, else LN₂(x2) for the up linear
    float* mean = forward ? (first ? k.ln1_mean : k.ln2_mean) : nullptr;  // the backward keeps the saved statistics
    float* rstd = forward ? (first ? k.ln1_rstd : k.ln2_rstd) : nullptr;
    return nn::layernorm_forward(g->stream(), first ? k.ln1 : k.ln2, mean, rstd, first ? g->res[l] : k.x2,
                                 g->P(first ? k.ln1w : k.ln2w), g->P(first ? k.ln1b : k.ln2b), g->b * g->t,
                                 g->cfg.width);
}

cudaError_t make_gelu_input(int4train_gpt g, int l) {
    const Block& k = g->blocks[l];
    return nn::gelu_forward(g->stream(), k.g, k.h, (int64_t)g->b * g->t * 4 * g->cfg.width);
}

int4train_status remake_linear_input(int4train_gpt g, int l, int which) {
    if (g->blocks[l].lin[which].kept != KeptInput::Remade) return INT4TRAIN_SUCCESS;
    switch (which) {
        case 0:
        case 2: I4T_CUDA(make_layernorm_input(g, l, which, false)); break;
        case 3: I4T_CUDA(make_gelu_input(g, l)); break;
        default: return fail(INT4TRAIN_ERROR_INTERNAL, "%s: linear %d keeps its input (model_build.cu kept_input)", __func__, which);
    }
    return INT4TRAIN_SUCCESS;
}

// h = Up(LN₂(x2)) as the forward made it: LN₂(x2) into the up linear's shared input buffer, then the up linear's HQ
// forward on it (the same X, W, bias and step sizes, so the same codes and h; it rewrites the packed codes the
// backward reads with the same bytes). The caller makes GELU(h) afterwards (remake_linear_input, which 3), so the
// shared input buffer ends up holding down's X; up's backward makes LN₂(x2) again for itself.
int4train_status remake_hidden(int4train_gpt g, int l) {
    if (!g->hidden_remade) return INT4TRAIN_SUCCESS;
    Block& k = g->blocks[l];
    I4T_CUDA(make_layernorm_input(g, l, 2, false));
    return linear_forward_again(g, k.lin[2], k.ln2, k.h, g->b * g->t);
}

}  // namespace gpt
}  // namespace i4t
