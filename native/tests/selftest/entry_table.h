// entry_table.h — the table of libint4train's exported entry points for the robustness walk (entry_robustness.cu):
// for each function, the handle and pointer parameters it must check (native/README.md "Entry-point contract"),
// and the out-of-range size and value cases it must refuse. Built by entry_table.cu.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "int4train.h"
#include "int4train_gpt.h"
#include "int4train_layer.h"

namespace robust {

// What a parameter holds.
enum class Slot { Context, Layer, Model, Device, Host };

struct Param {
    const char* name;  // as in the header: the message about it must contain it
    Slot slot;
    size_t align;      // the element type's alignment (1: no misaligned case)
    bool required;     // NULL is refused (handles: NULL_POINTER; destroy functions accept NULL)
};

// One entry point: its parameters in the order `call` takes them from p[], and a call with fixed small valid sizes.
struct Entry {
    const char* fn;
    const char* msg_fn;  // the name its messages use (fn, except where noted)
    bool uses_cuda;      // enters a context, so it reports a CUDA error pending before the call
    std::vector<Param> params;
    std::function<int4train_status(void* const* p)> call;
};

// One bad size or value: the status the call must return and a word its message must contain.
struct ValueCase {
    const char* fn;
    const char* what;
    int4train_status want;
    const char* needle;
    std::function<int4train_status()> call;
};

// Live objects and valid buffers the calls use. Every device pointer is `dev` (a cudaMalloc block big enough for
// the small sizes of the calls), every host pointer `host` (zeroed: valid tokens, and never read by a call that is
// refused, since every entry checks its handle, a pending error and its pointers before reading anything).
struct Fixture {
    int4train_context ctx = nullptr;
    int4train_layer layer = nullptr;
    int4train_gpt gpt = nullptr;
    void* dev = nullptr;
    void* host = nullptr;
    int64_t tensor0_numel = 0;  // the model's tensor 0 (wte)
};

// The layer and model the fixture creates (small: a layer 8 → 4, a one-block FP32 GPT of width 8, vocab 4).
int4train_layer_options small_layer_options();
int4train_gpt_config small_gpt_config();

std::vector<Entry> entry_table(const Fixture& fx);
std::vector<ValueCase> value_cases(const Fixture& fx);

}  // namespace robust
