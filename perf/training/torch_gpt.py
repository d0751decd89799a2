"""The PyTorch baseline of issues 6 and 12: int4train's GPT architecture (token + position embeddings, pre-LayerNorm
blocks with causal self-attention and a GELU MLP, tied head, dropout) at any size (default: nanoGPT's baby GPT),
trained in BF16 autocast with FP32 master weights, uncompiled (no torch.compile), fused AdamW, on a character-level
text, with gradient accumulation over --micro-batch sequences a pass as int4train's trainer does.

  python3 perf/training/torch_gpt.py --data ../shared/data/tinyshakespeare.txt --steps 50 --json out.json \
      [--layers 12 --heads 12 --width 768 --context 1024 --batch 8 --micro-batch 8 --dropout 0]

measures training tokens/s after a warm-up and the allocator's peak (torch.cuda.max_memory_allocated) — the numbers
Int4Train.Bench gpt --torch-script compares with (it passes the preset's sizes); --train-steps N runs the baby GPT's
recipe (cosine 1e-3 -> 1e-4, 100 warm-up steps, eval every 250) and reports the best validation loss.
"""
import argparse, json, math, time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, c, nh, p):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(c), nn.LayerNorm(c)
        self.qkv, self.proj = nn.Linear(c, 3 * c), nn.Linear(c, c)
        self.up, self.down = nn.Linear(c, 4 * c), nn.Linear(4 * c, c)
        self.nh, self.p = nh, p
        self.drop = nn.Dropout(p)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.nh, c // self.nh).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.p if self.training else 0.0, is_causal=True)
        x = x + self.drop(self.proj(y.transpose(1, 2).contiguous().view(b, t, c)))
        return x + self.drop(self.down(F.gelu(self.up(self.ln2(x)), approximate="tanh")))


class Gpt(nn.Module):
    def __init__(self, vocab, layers=6, heads=6, width=384, context=256, dropout=0.2):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, width), nn.Embedding(context, width)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(width, heads, dropout) for _ in range(layers))
        self.lnf = nn.LayerNorm(width)
        for n, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * layers) if n.endswith(("proj.weight", "down.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)
            elif n.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, idx, targets):
        t = idx.shape[1]
        x = self.drop(self.wte(idx) + self.wpe(torch.arange(t, device=idx.device)))
        for blk in self.blocks:
            x = blk(x)
        logits = self.lnf(x) @ self.wte.weight.t()  # tied head
        return F.cross_entropy(logits.view(-1, logits.size(-1)).float(), targets.view(-1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--steps", type=int, default=50, help="timed steps")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--train-steps", type=int, default=0, help="run the recipe for this many steps instead")
    ap.add_argument("--json")
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--heads", type=int, default=6)
    ap.add_argument("--width", type=int, default=384)
    ap.add_argument("--context", type=int, default=256)
    ap.add_argument("--batch", type=int, default=64, help="sequences per optimiser step")
    ap.add_argument("--micro-batch", type=int, default=0, help="sequences per forward+backward pass (0: the batch)")
    ap.add_argument("--dropout", type=float, default=0.2)
    a = ap.parse_args()
    M = a.micro_batch or a.batch
    if a.batch % M or a.width % a.heads:
        ap.error("--micro-batch must divide --batch and --heads must divide --width")
    torch.manual_seed(1337)
    text = open(a.data, encoding="utf-8").read()
    vocab = sorted(set(text))
    stoi = {ch: i for i, ch in enumerate(vocab)}
    data = torch.tensor([stoi[ch] for ch in text], dtype=torch.long)
    split = int(0.9 * len(data))
    train, val = data[:split], data[split:]
    dev = "cuda"
    B, T = a.batch, a.context
    model = Gpt(len(vocab), a.layers, a.heads, a.width, T, a.dropout).to(dev)
    decay = [p for n, p in model.named_parameters() if p.dim() == 2 and not n.startswith(("wte", "wpe"))]
    other = [p for n, p in model.named_parameters() if not (p.dim() == 2 and not n.startswith(("wte", "wpe")))]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.99), fused=True)

    def batch(src, n=B):
        ix = torch.randint(len(src) - T - 1, (n,))
        x = torch.stack([src[i:i + T] for i in ix]).to(dev, non_blocking=True)
        y = torch.stack([src[i + 1:i + 1 + T] for i in ix]).to(dev, non_blocking=True)
        return x, y

    def lr_at(step, total):
        if step < 100:
            return 1e-3 * (step + 1) / 101
        r = (step - 100) / max(1, total - 100)
        return 1e-4 + 0.5 * (1 + math.cos(math.pi * min(1.0, r))) * (1e-3 - 1e-4)

    def step_once(step, total):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, total)
        opt.zero_grad(set_to_none=True)
        total = 0.0
        for _ in range(B // M):  # gradient accumulation: each pass's mean loss weighted by its share M/B
            x, y = batch(train, M)
            with torch.autocast("cuda", dtype=torch.bfloat16):
                loss = model(x, y) * (M / B)
            loss.backward()
            total = total + loss.detach()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return total

    result = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "layers": a.layers, "heads": a.heads,
              "width": a.width, "context": T, "batch": B, "micro_batch": M,
              "parameters": sum(p.numel() for p in model.parameters())}
    if a.train_steps:
        best = float("inf")
        for s in range(a.train_steps):
            step_once(s, a.train_steps)
            if (s + 1) % 250 == 0 or s + 1 == a.train_steps:
                model.eval()
                with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
                    v = sum(model(*batch(val)).item() for _ in range(20)) / 20
                model.train()
                best = min(best, v)
                print(f"step {s + 1} val {v:.4f}", flush=True)
        result["best_val_loss"] = best
    else:
        for s in range(a.warmup):
            step_once(s, 5000)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        for s in range(a.steps):
            loss = step_once(a.warmup + s, 5000)
            loss.item()  # one host read per step, as the C# trainer does
        torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        result.update({"steps": a.steps, "ms_per_step": 1000 * dt / a.steps, "tokens_per_s": B * T * a.steps / dt,
                       "max_memory_allocated": torch.cuda.max_memory_allocated()})
    print(json.dumps(result))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
