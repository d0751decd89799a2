/*
 * int4train_layer.h — one INT4 linear layer's training state behind a handle: the single owner of the layer's
 * policy (docs/method.md §2.1, §2.2, §7 App. A.4/A.5 schedule; docs/conventions.md "Layer policy"):
 *   - the step count: training forwards taken (an evaluation forward, training = 0, counts nothing);
 *   - the Hadamard block size G: fixed by the options, or searched (§2.2) on the first forward and again at the
 *     re-initialisation step; LSQ forces G = 1;
 *   - the step sizes s_X, s_W: initialised to κ·2·mean|·|/√7 of XH and WH (§2.1; κ = step_init_scale, 1 by
 *     default) when the layer was never
 *     initialised, during the cold start (training forwards 1..cold_start_steps) and at the re-initialisation;
 *   - the key of the backward's randomness (bit split, Bernoulli sampling): seed + step count.
 * Both the device GPT (int4train_gpt.h) and the C# Int4Linear's native backend run their INT4 layers through it;
 * the C# reference backend implements the same rules once (Int4LayerPolicy) and a test holds the two together.
 *
 * The layer owns no tensors: weights, step sizes and gradients are the caller's device buffers (a model keeps them
 * in its flat parameter arrays). Same rules as int4train.h: status codes, int4train_last_error(), d_ and h_ pointers,
 * asynchronous on the context's stream except where a block-size search runs (synchronous).
 */
#ifndef INT4TRAIN_LAYER_H
#define INT4TRAIN_LAYER_H

#include "int4train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The arithmetic of a linear layer (the values of the C# LinearPrecision enum). A layer handle runs the two INT4
 * precisions; a model (int4train_gpt.h) also accepts the cuBLAS baselines. */
enum {
    INT4TRAIN_PRECISION_INT4_HQ_LSS = 0, /* the paper: Hadamard quantizer forward, bit split + LSS backward */
    INT4TRAIN_PRECISION_INT4_LSQ = 1,    /* ablation: the same without the Hadamard transform (G = 1) */
    INT4TRAIN_PRECISION_FP32 = 2,        /* cuBLAS FP32 GEMMs */
    INT4TRAIN_PRECISION_BF16 = 3         /* cuBLAS GEMMs on BF16 operands, FP32 accumulation */
};

/* The options of an INT4 layer (the C# Int4LinearOptions, field for field). */
typedef struct int4train_layer_options {
    int32_t precision;        /* INT4TRAIN_PRECISION_* */
    int32_t mode, sampling;   /* INT4TRAIN_MODE_*, INT4TRAIN_SAMPLING_* */
    int32_t group_size;       /* Hadamard block size; 0 = searched on the first forward (§2.2); LSQ forces 1 */
    int32_t cold_start_steps; /* App. A.4: step sizes re-initialised for this many training forwards, then learned */
    int32_t reinit_step;      /* re-search G and re-initialise the steps once at this training forward; < 0: off */
    uint64_t seed;            /* key of the backward's randomness; the forward k uses seed + k */
    /* A multiple κ of the LSQ step rule wherever the policy sets the steps (first forward, cold start,
     * re-initialisation): s = κ·2·mean|VH|/√7 (docs/method.md §2.1 "Initialization", conventions.md "LSQ step rule
     * scale"; issue 15). 0 (a zero-initialised struct) is κ = 1, the paper's rule bit for bit; else finite, in
     * (0, 16]. The block-size search ranks G with the paper's rule (κ = 1) whatever κ is. Appended after the seed so
     * the earlier fields keep their offsets. */
    float step_init_scale;
} int4train_layer_options;

typedef struct int4train_layer_s* int4train_layer;

/* A layer of in_features → out_features (in_features even: INT4 codes are packed two per byte) on `ctx`, which
 * must outlive it. Only the INT4 precisions. */
INT4TRAIN_API int4train_status int4train_layer_create(int4train_context ctx, const int4train_layer_options* h_options,
                                                      int in_features, int out_features, int4train_layer* h_out);
/* NULL is a no-op. */
INT4TRAIN_API int4train_status int4train_layer_destroy(int4train_layer layer);

/* Y (n × out) = HQ forward of X (n × in) with W (out × in) and the bias (out, may be NULL), after the policy:
 * training = 1 counts a training forward and applies the cold start and re-initialisation; either kind searches G
 * and initialises *d_step_x, *d_step_w when the layer has none yet (an evaluation forward changes nothing else).
 * Writes the packed codes of XH (n × in/2) and WH (out × in/2) for int4train_layer_backward. */
INT4TRAIN_API int4train_status int4train_layer_forward(int4train_layer layer, const float* d_x, const float* d_w,
                                                       const float* d_bias, float* d_step_x, float* d_step_w, int n,
                                                       int training, float* d_y, uint8_t* d_x_packed,
                                                       uint8_t* d_w_packed);
/* int4train_linear_backward of the last training forward with the layer's G, mode, sampling and key
 * (seed + step count); accumulate as there (∇W, ∇b, the step gradients added, ∇X overwritten). */
INT4TRAIN_API int4train_status int4train_layer_backward(int4train_layer layer, const float* d_grad_y, const float* d_x,
                                                        const float* d_w, const uint8_t* d_x_packed,
                                                        const uint8_t* d_w_packed, const float* d_step_x,
                                                        const float* d_step_w, int n, float* d_grad_x,
                                                        float* d_grad_w, float* d_grad_step_x, float* d_grad_step_w,
                                                        float* d_grad_bias, int accumulate);
/* Training forwards taken, G (0: not yet chosen), the key the next backward uses, and whether an optimiser may
 * update the step sizes (the cold start is over). Any output may be NULL. */
INT4TRAIN_API int4train_status int4train_layer_progress(int4train_layer layer, int* h_step_count, int* h_group,
                                                        uint64_t* h_backward_key, int* h_steps_learned);
/* Restores a checkpoint's progress; step_count > 0 marks the step sizes as initialised (they are the caller's). */
INT4TRAIN_API int4train_status int4train_layer_set_progress(int4train_layer layer, int step_count, int group);

#ifdef __cplusplus
}
#endif

#endif /* INT4TRAIN_LAYER_H */
