"""check_safetensors.py — reads an `int4train export --safetensors` file with Hugging Face's `safetensors` package
(the reader other tools use), checks every name, shape and dtype against docs/checkpoint.md and the file's own
metadata, then runs the GPT forward in PyTorch from nothing but that file and compares its validation loss with the
one Int4Train logged for the same run (loss.csv). A transposed or misnamed weight shows up as a loss near ln(V).

    python tests/python/check_safetensors.py FILE.safetensors --data TEXT --loss-csv RUN/loss.csv [--tolerance 0.1]

Exit status 0 when every check passes; the last line says what was compared.
"""
import argparse
import csv
import json
import math
import sys

import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file


def expected_shapes(cfg):
    """Name -> shape, as docs/checkpoint.md's table gives them (nanoGPT's nn.Linear layout)."""
    c, v, t = cfg["n_embd"], cfg["vocab_size"], cfg["block_size"]
    shapes = {"transformer.wte.weight": [v, c], "transformer.wpe.weight": [t, c], "lm_head.weight": [v, c],
              "transformer.ln_f.weight": [c], "transformer.ln_f.bias": [c]}
    for layer in range(cfg["n_layer"]):
        p = f"transformer.h.{layer}."
        for name, w, b in (("ln_1", None, [c]), ("ln_2", None, [c]), ("attn.c_attn", [3 * c, c], [3 * c]),
                           ("attn.c_proj", [c, c], [c]), ("mlp.c_fc", [4 * c, c], [4 * c]),
                           ("mlp.c_proj", [c, 4 * c], [c])):
            shapes[p + name + ".weight"] = w or [c]
            shapes[p + name + ".bias"] = b
    return shapes


def forward_loss(sd, cfg, tokens, device):
    """Mean cross-entropy of a GPT-2 forward (pre-LN blocks, tanh GELU, causal attention, tied head) over the rows of
    `tokens` (B x (T+1)): the model the weights were trained in, written from the file's names alone."""
    c, h = cfg["n_embd"], cfg["n_head"]
    w = {k: t.to(device) for k, t in sd.items()}
    x_tok, y = tokens[:, :-1].to(device), tokens[:, 1:].to(device)
    b, t = x_tok.shape
    x = w["transformer.wte.weight"][x_tok] + w["transformer.wpe.weight"][:t]
    for layer in range(cfg["n_layer"]):
        p = f"transformer.h.{layer}."
        a = F.layer_norm(x, (c,), w[p + "ln_1.weight"], w[p + "ln_1.bias"], 1e-5)
        q, k, v = F.linear(a, w[p + "attn.c_attn.weight"], w[p + "attn.c_attn.bias"]).split(c, dim=2)
        q, k, v = (z.view(b, t, h, c // h).transpose(1, 2) for z in (q, k, v))
        att = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(b, t, c)
        x = x + F.linear(att, w[p + "attn.c_proj.weight"], w[p + "attn.c_proj.bias"])
        m = F.layer_norm(x, (c,), w[p + "ln_2.weight"], w[p + "ln_2.bias"], 1e-5)
        m = F.gelu(F.linear(m, w[p + "mlp.c_fc.weight"], w[p + "mlp.c_fc.bias"]), approximate="tanh")
        x = x + F.linear(m, w[p + "mlp.c_proj.weight"], w[p + "mlp.c_proj.bias"])
    x = F.layer_norm(x, (c,), w["transformer.ln_f.weight"], w["transformer.ln_f.bias"], 1e-5)
    logits = F.linear(x, w["lm_head.weight"])
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1)).item()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file")
    ap.add_argument("--data", required=True, help="the text the run trained on")
    ap.add_argument("--loss-csv", required=True, help="the run's loss.csv (its last val_loss is compared)")
    ap.add_argument("--validation-fraction", type=float, default=0.1)
    ap.add_argument("--windows", type=int, default=512)
    ap.add_argument("--tolerance", type=float, default=0.1)
    args = ap.parse_args()
    failures = []

    sd = load_file(args.file)
    with safe_open(args.file, "pt") as f:
        meta = f.metadata()
    for key in ("format", "source", "step", "precision", "config", "vocab"):
        if key not in meta:
            failures.append(f"metadata lacks '{key}'")
    cfg, vocab = json.loads(meta["config"]), list(meta["vocab"])  # one symbol per Unicode scalar, token order
    if len(vocab) != cfg["vocab_size"]:
        failures.append(f"vocab has {len(vocab)} symbols, config says {cfg['vocab_size']}")
    shapes = expected_shapes(cfg)
    if set(sd) != set(shapes):
        failures.append(f"names differ: missing {sorted(set(shapes) - set(sd))[:5]}, extra {sorted(set(sd) - set(shapes))[:5]}")
    for name, tensor in sd.items():
        if name in shapes and list(tensor.shape) != shapes[name]:
            failures.append(f"{name}: shape {list(tensor.shape)}, expected {shapes[name]}")
        if tensor.dtype != torch.float32:
            failures.append(f"{name}: dtype {tensor.dtype}, expected float32")
        if not torch.isfinite(tensor).all():
            failures.append(f"{name}: non-finite values")
    if not torch.equal(sd["lm_head.weight"], sd["transformer.wte.weight"]):
        failures.append("lm_head.weight is not the tied wte")
    steps = json.loads(meta.get("int4_step_sizes", "{}"))
    print(f"{args.file}: {len(sd)} tensors, precision {meta['precision']}, step {meta['step']}, "
          f"config {cfg}, {len(steps)} INT4 step sizes")

    with open(args.data, encoding="utf-8", errors="replace") as f:
        text = f.read()
    index = {s: i for i, s in enumerate(vocab)}
    ids = torch.tensor([index[ch] for ch in text], dtype=torch.long)
    val = ids[len(ids) - int(len(ids) * args.validation_fraction):]
    t = cfg["block_size"]
    g = torch.Generator().manual_seed(1)
    starts = torch.randint(0, len(val) - t - 1, (args.windows,), generator=g)
    batch = torch.stack([val[s:s + t + 1] for s in starts])
    device = "cuda" if torch.cuda.is_available() else "cpu"
    with torch.no_grad():
        loss = forward_loss(sd, cfg, batch, device)
    with open(args.loss_csv, newline="") as f:
        logged = [float(r["val_loss"]) for r in csv.DictReader(f) if r.get("val_loss")]
    if not logged:
        failures.append(f"{args.loss_csv} has no val_loss")
    else:
        gap = abs(loss - logged[-1])
        print(f"PyTorch forward from the file: validation loss {loss:.4f} over {args.windows}x{t} tokens; Int4Train logged "
              f"{logged[-1]:.4f} (|diff| {gap:.4f}, tolerance {args.tolerance}); chance level ln(V) = {math.log(len(vocab)):.4f}")
        if gap > args.tolerance:
            failures.append(f"loss {loss:.4f} differs from the logged {logged[-1]:.4f} by more than {args.tolerance}")
    for failure in failures:
        print("FAIL", failure)
    print(f"safetensors check: {'passed' if not failures else f'{len(failures)} failed'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
