// step_graph.cu — int4train_gpt_train_step: one whole training step (zero_grad, the passes of forward + backward,
// clipping, AdamW) queued with no host synchronisation and, once the step makes no host-side decision, replayed as
// one CUDA graph; the loss log that brings each step's mean loss and gradient norm to the host when asked
// (int4train_gpt_read_losses).
//
// What a replay must not bake in, and where it lives instead (all written by one small kernel before each step,
// eager or replayed, so both run the same kernels on the same values and agree bit for bit):
//   - the dropout step keys of the passes        StepScalars::dropout_key  (nn::DropoutKey reads them)
//   - the INT4 backwards' Philox keys            base captured + StepScalars::key_offset (ops PhiloxKey)
//   - the learning rate, AdamW bias corrections  StepScalars::lr, ::corr   (nn::adamw's d_lr, d_corr)
//   - the loss log row                           StepScalars::log_slot
//   - the tokens and targets                     copied before the launch into fixed staging buffers
// The clip factor is computed on the device already (nn::grad_norm) and read by the AdamW kernel.
// What stays host-side and therefore keeps a step eager: the INT4 layers' first forward (block-size search, step-size
// initialisation), their cold start (step sizes re-initialised each forward), a re-initialisation step
// (layer_policy.cu); a graph is captured on the second consecutive replayable step of one shape (the first, eager,
// grows the workspace and warms cuBLAS up, as nothing may allocate inside a capture) and reused while its
// Signature holds.
#include <math.h>
#include <string.h>

#include <deque>
#include <utility>
#include <vector>

#include "runtime/launch.cuh"
#include "model.cuh"
#include "device_util.cuh"

namespace i4t {
namespace gpt {

constexpr int kLossLog = 4096;                      // rows of the device loss log (drained to the host when full)
constexpr size_t kBlasWorkspace = (size_t)32 << 20;  // cuBLAS's recommended workspace on Hopper
constexpr int kGraphCache = 4;                      // captured shapes kept (alternating shapes do not re-capture)

// Everything a captured graph baked in: a step that differs in any of it needs another graph.
struct Signature {
    int passes = 0, b = 0, t = 0;
    float beta1 = 0, beta2 = 0, eps = 0, wd = 0, clip = 0;
    void* ws = nullptr;  // the context workspace the INT4 operators carve (it may have moved since)
    size_t ws_bytes = 0;
    const int32_t* tokens = nullptr;
    std::vector<int64_t> layers;  // per INT4 linear (not an INT4 model's bf16 ones): step count − forwards, block size
    std::vector<int> adam_group;  // per tensor: its AdamW step-count group
    bool operator==(const Signature& o) const {
        return passes == o.passes && b == o.b && t == o.t && beta1 == o.beta1 && beta2 == o.beta2 && eps == o.eps &&
               wd == o.wd && clip == o.clip && ws == o.ws && ws_bytes == o.ws_bytes && tokens == o.tokens &&
               layers == o.layers && adam_group == o.adam_group;
    }
};

struct CapturedStep {
    Signature sig;
    cudaGraphExec_t exec = nullptr;
    int64_t forwards = 0;  // the model's training forwards when it was captured (the key offset counts from here)
};

struct StepGraphs {
    int32_t *tokens = nullptr, *targets = nullptr;  // staging, passes × max_batch × context each
    int64_t capacity = 0;
    std::vector<CapturedStep> cache;
    Signature warm;  // the last eager replayable step: an equal next one is captured
    bool has_warm = false;
    Signature failed;  // a step whose capture failed: not tried again (it stays eager)
    bool has_failed = false;
    std::deque<std::pair<double, float>> drained;  // log rows already on the host
    int64_t queued = 0, read = 0;                  // steps logged on the device: [read, queued)
    int64_t eager = 0, captures = 0, replays = 0;
};

// ---- the step's small kernels ------------------------------------------------------------------------------------

static_assert(sizeof(StepScalars) <= 4000, "StepScalars travels as a kernel parameter (4 KB at most)");
__global__ void set_scalars_kernel(StepScalars* dst, StepScalars v) { *dst = v; }

// Σ of the passes' mean losses in double, in pass order (the C# trainer's sum).
__global__ void accumulate_loss_kernel(double* sum, const float* loss, bool first) {
    *sum = (first ? 0.0 : *sum) + (double)*loss;
}

__global__ void log_step_kernel(double* log_loss, float* log_norm, const StepScalars* sc, const double* sum,
                                int passes, const float* norm) {
    log_loss[sc->log_slot] = *sum / passes;
    log_norm[sc->log_slot] = norm[0];
}

// ---- host side ---------------------------------------------------------------------------------------------------

int4train_status step_graph_create(int4train_gpt g) {
    g->graphs = new StepGraphs();
    I4T_TRY(g->alloc(&g->scalars, 1));
    I4T_TRY(g->alloc(&g->eager_key, 1));
    I4T_TRY(g->alloc(&g->loss_sum, 1));
    I4T_TRY(g->alloc(&g->log_loss, kLossLog));
    I4T_TRY(g->alloc(&g->log_norm, kLossLog));
    I4T_CUDA(cudaMemsetAsync(g->eager_key, 0, sizeof(uint64_t), g->stream()));
    // drain() copies the whole log in one transfer and keeps only rows [read, queued): the rows no step has written
    // yet must still be defined bytes (compute-sanitizer initcheck flagged the copy of the unwritten ones, H200,
    // 2026-12-01)
    I4T_CUDA(cudaMemsetAsync(g->log_loss, 0, sizeof(double) * kLossLog, g->stream()));
    I4T_CUDA(cudaMemsetAsync(g->log_norm, 0, sizeof(float) * kLossLog, g->stream()));
    // A fixed cuBLAS workspace: a captured GEMM keeps using the memory it was captured with (cuBLAS's documented
    // requirement for graph capture), and every step, eager or replayed, runs with the same one.
    char* ws = nullptr;
    I4T_TRY(g->alloc(&ws, (int64_t)kBlasWorkspace));
    g->blas_workspace = ws;
    I4T_GEMM(cublasSetWorkspace(g->blas, g->blas_workspace, kBlasWorkspace));
    return INT4TRAIN_SUCCESS;
}

static void drop_graphs(int4train_gpt g) {
    StepGraphs& G = *g->graphs;
    if (!G.cache.empty()) cudaStreamSynchronize(g->stream());  // none may still be running
    for (CapturedStep& c : G.cache) cudaGraphExecDestroy(c.exec);
    G.cache.clear();
    G.has_warm = false;
}

void step_graph_release(int4train_gpt g) {
    if (!g->graphs) return;
    drop_graphs(g);
    if (g->graphs->tokens) cudaFree(g->graphs->tokens);
    if (g->graphs->targets) cudaFree(g->graphs->targets);
    delete g->graphs;
    g->graphs = nullptr;
}

// Staging for `count` tokens and targets (grown rarely: to passes × max_batch × context; graphs holding the old
// addresses are dropped).
static int4train_status ensure_staging(int4train_gpt g, int passes, int64_t count) {
    StepGraphs& G = *g->graphs;
    if (count <= G.capacity) return INT4TRAIN_SUCCESS;
    const int64_t cap = (int64_t)passes * g->cfg.max_batch * g->cfg.context;
    drop_graphs(g);
    I4T_CUDA(cudaStreamSynchronize(g->stream()));
    if (G.tokens) cudaFree(G.tokens);
    if (G.targets) cudaFree(G.targets);
    g->allocated_bytes -= 2 * (int64_t)sizeof(int32_t) * G.capacity;
    G.tokens = G.targets = nullptr;
    G.capacity = 0;
    I4T_CUDA(cudaMalloc(&G.tokens, sizeof(int32_t) * cap));
    I4T_CUDA(cudaMalloc(&G.targets, sizeof(int32_t) * cap));
    G.capacity = cap;
    g->allocated_bytes += 2 * (int64_t)sizeof(int32_t) * cap;
    return INT4TRAIN_SUCCESS;
}

// The loss log rows [read, queued) onto the host (synchronises).
static int4train_status drain(int4train_gpt g) {
    StepGraphs& G = *g->graphs;
    const int64_t count = G.queued - G.read;
    if (count == 0) return INT4TRAIN_SUCCESS;
    std::vector<double> loss(kLossLog);
    std::vector<float> norm(kLossLog);
    cudaStream_t s = g->stream();
    I4T_CUDA(cudaMemcpyAsync(loss.data(), g->log_loss, sizeof(double) * kLossLog, cudaMemcpyDeviceToHost, s));
    I4T_CUDA(cudaMemcpyAsync(norm.data(), g->log_norm, sizeof(float) * kLossLog, cudaMemcpyDeviceToHost, s));
    I4T_CUDA(cudaStreamSynchronize(s));
    for (int64_t k = G.read; k < G.queued; ++k) G.drained.emplace_back(loss[k % kLossLog], norm[k % kLossLog]);
    G.read = G.queued;
    return INT4TRAIN_SUCCESS;
}

// Whether a step of `passes` training forwards makes no host-side decision in the INT4 layers' policy
// (layer_policy.cu prepare): every layer has its block size and step sizes, is past its cold start (so AdamW updates
// all step sizes, and the norm covers every tensor), and meets no re-initialisation in this step.
static bool replayable(int4train_gpt g, int passes) {
    if (!g->int4) return true;
    for (const Block& bk : g->blocks)
        for (const Linear& ln : bk.lin) {
            if (!ln.int4()) continue;  // an INT4 model's bf16 linears have no policy
            const int4train_layer_s& L = ln.state;
            if (L.group == 0 || !L.initialized || L.step_count < L.opt.cold_start_steps) return false;
            if (L.opt.reinit_step >= 0 && L.opt.reinit_step >= L.step_count && L.opt.reinit_step < L.step_count + passes)
                return false;
        }
    return true;
}

// Whether AdamW updates a tensor at the end of a step of `passes` training forwards: a step size once its layer's
// count, advanced by the passes, is past the cold start (queue_adamw's steps_active, seen from the step's start).
static bool active_after(int4train_gpt g, const Tensor& t, int passes) {
    if (!t.is_step) return true;
    const int4train_layer_s& L = g->blocks[t.linear / 4].lin[t.linear % 4].state;
    return L.step_count + passes > L.opt.cold_start_steps;
}

// Groups the tensors AdamW will update by AdamW step count and writes each group's bias corrections for the coming update into
// v; returns the number of groups (more than kMaxAdamGroups: no device corrections, the step runs eagerly).
static int adam_groups(int4train_gpt g, int passes, const int4train_gpt_adamw& a, std::vector<int>& group_of,
                       StepScalars& v) {
    std::vector<int> steps;
    group_of.assign(g->tensors.size(), 0);
    for (size_t i = 0; i < g->tensors.size(); ++i) {
        const Tensor& t = g->tensors[i];
        if (!active_after(g, t, passes)) continue;
        size_t k = 0;
        while (k < steps.size() && steps[k] != t.adam_steps) ++k;
        if (k == steps.size()) steps.push_back(t.adam_steps);
        group_of[i] = (int)k;
    }
    for (size_t k = 0; k < steps.size() && k < (size_t)kMaxAdamGroups; ++k) {
        v.corr[k][0] = bias_correction(a.beta1, steps[k] + 1);  // queue_adamw's values for the same step
        v.corr[k][1] = bias_correction(a.beta2, steps[k] + 1);
    }
    return (int)steps.size();
}

static Signature signature_of(int4train_gpt g, int passes, int b, int t, const int4train_gpt_adamw& a,
                              const std::vector<int>& group_of) {
    Signature s;
    s.passes = passes;
    s.b = b;
    s.t = t;
    s.beta1 = a.beta1;
    s.beta2 = a.beta2;
    s.eps = a.eps;
    s.wd = a.weight_decay;
    s.clip = a.grad_clip;
    s.ws = g->ctx->ws;
    s.ws_bytes = g->ctx->ws_bytes;
    s.tokens = g->graphs->tokens;
    if (g->int4)
        for (const Block& bk : g->blocks)
            for (const Linear& ln : bk.lin) {
                if (!ln.int4()) continue;
                s.layers.push_back(ln.state.step_count - g->forwards);
                s.layers.push_back(ln.state.group);
            }
    s.adam_group = group_of;
    return s;
}

// The step's device work: zero_grad, the passes, clipping + AdamW, the loss log row. Runs eagerly or under capture.
static int4train_status queue_step(int4train_gpt g, int passes, int b, int t, const int4train_gpt_adamw& a,
                                   bool device_corr, const std::vector<int>& group_of) {
    StepGraphs& G = *g->graphs;
    cudaStream_t s = g->stream();
    const int64_t n = (int64_t)b * t;
    I4T_CUDA(cudaMemsetAsync(g->grads, 0, sizeof(float) * g->total, s));
    g->key_offset = &g->scalars->key_offset;
    for (int i = 0; i < passes; ++i) {
        I4T_TRY(queue_forward(g, G.tokens + i * n, G.targets + i * n, b, t, &g->scalars->dropout_key[i], true));
        accumulate_loss_kernel<<<1, 1, 0, s>>>(g->loss_sum, g->loss, i == 0);
        I4T_CUDA(cudaGetLastError());
        I4T_TRY(queue_backward(g, 1.0f / (float)passes));  // the trainer's M/B share of each pass
    }
    I4T_TRY(queue_adamw(g, a, device_corr ? g->scalars : nullptr, &group_of));
    log_step_kernel<<<1, 1, 0, s>>>(g->log_loss, g->log_norm, g->scalars, g->loss_sum, passes, g->norm_out);
    I4T_CUDA(cudaGetLastError());
    return INT4TRAIN_SUCCESS;
}

// What a replay changes on the host, as queue_step's eager run would have: the layers' counts, the forwards, the
// AdamW step counts (every tensor is active in a replayable step), the record of the last forward.
static void advance_host_state(int4train_gpt g, int passes, int b, int t) {
    if (g->int4)
        for (Block& bk : g->blocks)
            for (Linear& ln : bk.lin)
                if (ln.int4()) ln.state.step_count += passes;  // what layer::forward counts: INT4 linears only
    g->forwards += passes;
    for (Tensor& tn : g->tensors) tn.adam_steps++;
    const int64_t n = (int64_t)b * t;
    g->b = b;
    g->t = t;
    g->training = true;
    g->has_targets = true;
    g->dropout_key = &g->scalars->dropout_key[passes - 1];
    g->cur_tokens = g->graphs->tokens + (passes - 1) * n;
    g->cur_targets = g->graphs->targets + (passes - 1) * n;
    g->key_offset = &g->scalars->key_offset;
    g->backward_ready = false;
    g->probs_valid = false;
}

// The host state a capture changes (it records the step, it does not run it): restored when the capture fails.
struct HostSnapshot {
    std::vector<int4train_layer_s> layers;
    std::vector<int> adam_steps;
    int64_t forwards;
    void* ws;
    size_t ws_bytes;
    explicit HostSnapshot(int4train_gpt g) : forwards(g->forwards), ws(g->ctx->ws), ws_bytes(g->ctx->ws_bytes) {
        for (const Block& bk : g->blocks)
            for (const Linear& ln : bk.lin) layers.push_back(ln.state);
        for (const Tensor& t : g->tensors) adam_steps.push_back(t.adam_steps);
    }
    void restore(int4train_gpt g) const {
        size_t k = 0;
        for (Block& bk : g->blocks)
            for (Linear& ln : bk.lin) ln.state = layers[k++];
        for (size_t i = 0; i < g->tensors.size(); ++i) g->tensors[i].adam_steps = adam_steps[i];
        g->forwards = forwards;
        g->ctx->ws = ws;  // a workspace grown inside the capture was never allocated
        g->ctx->ws_bytes = ws_bytes;
    }
};

// Captures the step (thread-local mode: only this thread's calls are checked) and instantiates it. A capture that
// fails (an operator needing a host decision, an allocation or a synchronisation) leaves *exec NULL and the host state
// as it was: the caller runs the step eagerly.
static int4train_status capture(int4train_gpt g, int passes, int b, int t, const int4train_gpt_adamw& a,
                                const std::vector<int>& group_of, cudaGraphExec_t* exec) {
    *exec = nullptr;
    cudaStream_t s = g->stream();
    const HostSnapshot before(g);
    if (cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal) != cudaSuccess) {  // e.g. the legacy stream
        (void)cudaGetLastError();
        return INT4TRAIN_SUCCESS;
    }
    int4train_status st = queue_step(g, passes, b, t, a, true, group_of);
    cudaGraph_t graph = nullptr;
    cudaError_t e = cudaStreamEndCapture(s, &graph);
    bool ok = st == INT4TRAIN_SUCCESS && e == cudaSuccess && graph != nullptr && g->ctx->ws == before.ws;
    if (ok) ok = cudaGraphInstantiateWithFlags(exec, graph, 0) == cudaSuccess;
    if (graph) cudaGraphDestroy(graph);
    if (!ok) {
        (void)cudaGetLastError();
        *exec = nullptr;
        before.restore(g);
    }
    return INT4TRAIN_SUCCESS;
}

}  // namespace gpt
}  // namespace i4t

using namespace i4t;
using namespace i4t::gpt;

INT4TRAIN_API int4train_status int4train_gpt_train_step(int4train_gpt gpt, const int32_t* h_tokens,
                                                        const int32_t* h_targets, int passes, int batch, int t,
                                                        const uint64_t* h_dropout_keys,
                                                        const int4train_gpt_adamw* h_params, int graph) {
    const char* fn = "int4train_gpt_train_step";
    I4T_TRY(check_gpt(gpt, fn));
    I4T_NOTNULL(h_tokens);
    I4T_NOTNULL(h_targets);
    I4T_NOTNULL(h_dropout_keys);
    I4T_NOTNULL(h_params);
    const auto& c = gpt->cfg;
    if (passes < 1 || passes > kMaxPasses || batch < 1 || batch > c.max_batch || t < 1 || t > c.context)
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "%s: passes %d must be in [1, %d], batch %d in [1, %d], t %d in "
                    "[1, %d]", fn, passes, kMaxPasses, batch, c.max_batch, t, c.context);
    const int4train_gpt_adamw& a = *h_params;
    I4T_TRY(check_adamw(a, fn));
    const int64_t n = (int64_t)batch * t;
    I4T_TRY(check_tokens(h_tokens, h_targets, passes * n, c.vocab, fn));
    StepGraphs& G = *gpt->graphs;
    cudaStream_t s = gpt->stream();
    // cuBLAS must queue on the stream being captured (the context's may have been replaced since the model was made);
    // setting the stream resets cuBLAS's workspace, so it is set again.
    I4T_GEMM(cublasSetStream(gpt->blas, s));
    I4T_GEMM(cublasSetWorkspace(gpt->blas, gpt->blas_workspace, kBlasWorkspace));
    I4T_TRY(ensure_staging(gpt, passes, passes * n));
    if (G.queued - G.read == kLossLog) I4T_TRY(drain(gpt));  // the log is full: the one synchronisation in 4096 steps
    I4T_CUDA(cudaMemcpyAsync(G.tokens, h_tokens, sizeof(int32_t) * passes * n, cudaMemcpyHostToDevice, s));
    I4T_CUDA(cudaMemcpyAsync(G.targets, h_targets, sizeof(int32_t) * passes * n, cudaMemcpyHostToDevice, s));

    StepScalars v;
    memset(&v, 0, sizeof v);
    for (int i = 0; i < passes; ++i) v.dropout_key[i] = h_dropout_keys[i];
    v.lr = a.learning_rate;
    v.log_slot = (int32_t)(G.queued % kLossLog);
    std::vector<int> group_of;
    const bool device_corr = adam_groups(gpt, passes, a, group_of, v) <= kMaxAdamGroups;
    const bool replay = graph != 0 && device_corr && replayable(gpt, passes);
    Signature sig;
    if (replay) sig = signature_of(gpt, passes, batch, t, a, group_of);
    CapturedStep* hit = nullptr;
    if (replay)
        for (CapturedStep& cs : G.cache)
            if (cs.sig == sig) hit = &cs;
    v.key_offset = hit ? (uint64_t)(gpt->forwards - hit->forwards) : 0;
    set_scalars_kernel<<<1, 1, 0, s>>>(gpt->scalars, v);
    I4T_CUDA(cudaGetLastError());

    if (hit) {
        I4T_CUDA(cudaGraphLaunch(hit->exec, s));
        advance_host_state(gpt, passes, batch, t);
        G.replays++;
    } else {
        cudaGraphExec_t exec = nullptr;
        const int64_t forwards = gpt->forwards;
        const bool try_capture = replay && G.has_warm && G.warm == sig && !(G.has_failed && G.failed == sig);
        if (try_capture) I4T_TRY(capture(gpt, passes, batch, t, a, group_of, &exec));
        if (try_capture && !exec) {
            G.failed = sig;
            G.has_failed = true;
        }
        if (exec) {
            if ((int)G.cache.size() >= kGraphCache) {
                I4T_CUDA(cudaStreamSynchronize(s));  // rare: a fifth shape
                cudaGraphExecDestroy(G.cache.front().exec);
                G.cache.erase(G.cache.begin());
            }
            G.cache.push_back(CapturedStep{sig, exec, forwards});
            G.captures++;
            I4T_CUDA(cudaGraphLaunch(exec, s));
        } else {
            I4T_TRY(queue_step(gpt, passes, batch, t, a, device_corr, group_of));
            G.eager++;
            G.warm = sig;
            G.has_warm = replay;
        }
    }
    G.queued++;
    return INT4TRAIN_SUCCESS;
}

INT4TRAIN_API int4train_status int4train_gpt_read_losses(int4train_gpt gpt, double* h_losses, float* h_grad_norms,
                                                         int capacity, int* h_count) {
    I4T_TRY(check_gpt(gpt, "int4train_gpt_read_losses"));
    I4T_NOTNULL(h_count);
    I4T_ALIGNED(h_losses);
    I4T_ALIGNED(h_grad_norms);
    *h_count = 0;
    if (capacity < 0 || (capacity > 0 && h_losses == nullptr))
        return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT,
                    "int4train_gpt_read_losses: capacity %d must be >= 0, with h_losses for a positive one", capacity);
    I4T_TRY(drain(gpt));
    auto& q = gpt->graphs->drained;
    int k = 0;
    for (; k < capacity && !q.empty(); ++k) {
        h_losses[k] = q.front().first;
        if (h_grad_norms) h_grad_norms[k] = q.front().second;
        q.pop_front();
    }
    *h_count = k;
    return INT4TRAIN_SUCCESS;
}

INT4TRAIN_API int4train_status int4train_gpt_step_stats(int4train_gpt gpt, int64_t* h_eager, int64_t* h_captured,
                                                        int64_t* h_replayed) {
    I4T_TRY(check_gpt(gpt, "int4train_gpt_step_stats"));
    I4T_ALIGNED(h_eager);
    I4T_ALIGNED(h_captured);
    I4T_ALIGNED(h_replayed);
    const StepGraphs& G = *gpt->graphs;
    if (h_eager) *h_eager = G.eager;
    if (h_captured) *h_captured = G.captures;
    if (h_replayed) *h_replayed = G.replays;
    return INT4TRAIN_SUCCESS;
}
