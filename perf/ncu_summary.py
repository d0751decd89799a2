"""Aggregates an Nsight Compute CSV (--metrics ... --csv --print-units base) by kernel name: launches, total time,
and the time-weighted DRAM and SM throughput (% of peak) — which kernels take the time, and whether they are bound
by memory bandwidth or by compute. Usage: python3 perf/ncu_summary.py ncu.csv [--last-step] > summary.md
--last-step keeps the launches from the last embedding forward on: the timed step of profile_gpt.sh without its
warm-up (whose first INT4 forward searches the Hadamard block size and initialises the step sizes, hundreds of
launches that a training run pays once)
The second table groups the kernels of a GPT step by what they do (CATEGORIES: first matching pattern wins), so a
precision's step can be read as GEMMs + attention + the INT4 passes + the rest."""
import csv, re, sys
from collections import defaultdict

rows = [r for r in csv.reader(l for l in open(sys.argv[1], encoding="utf-8", errors="replace") if l.startswith('"'))]
head, body = rows[0], rows[1:]
ix = {k: i for i, k in enumerate(head)}
per = defaultdict(dict)  # (launch id) -> metric -> value, name
for r in body:
    key = r[ix["ID"]]
    per[key]["name"] = r[ix["Kernel Name"]]
    per[key][r[ix["Metric Name"]]] = float(r[ix["Metric Value"]].replace(",", "") or 0)

def short(n):
    n = re.sub(r"\(.*", "", n)          # drop the parameter list
    n = re.sub(r"<.*>", "<…>", n)        # and template arguments
    return n.replace("void ", "")[:70]

# what each kernel family does; patterns are matched against the short name, in this order
CATEGORIES = [
    ("integer GEMMs (CUTLASS, INT8 tensor cores)", r"^cutlass::device_kernel|gemm_s8|dp4a"),
    ("float GEMMs (cuBLAS/cuBLASLt)", r"nvjet|xmma|gemm|cublas|cutlass_80|sm90_"),
    ("fused attention", r"flash|delta_kernel|softmax_causal|permute_qkv|heads_kernel"),
    ("INT4 layer passes (quantize, Hadamard, split, scores, LSQ backward, transposes)",
     r"i4t::(?!nn::|gpt::)|hadamard|quant|split|lsq|pack|transpose|scores|minmax|min_max|canon|step_"),
    ("LayerNorm", r"layernorm"),
    ("GELU, residual, dropout, casts", r"gelu|residual|dropout|cast|broadcast_rows|column_sum"),
    ("embedding, cross-entropy, loss", r"embedding|position_grad|token_grad|cross_entropy|mean_kernel|loss|log_step"),
    ("AdamW, gradient norm", r"adamw|sumsq|norm_finish|set_scalars"),
]

def category(n):
    for cat, pat in CATEGORIES:
        if re.search(pat, n):
            return cat
    return "other"

if "--last-step" in sys.argv[2:]:  # launch IDs are in launch order
    order = sorted(per, key=int)
    starts = [k for k in order if "embedding_forward" in per[k]["name"]]
    if starts:
        per = {k: per[k] for k in order[order.index(starts[-1]):]}

agg = defaultdict(lambda: [0, 0.0, 0.0, 0.0, 0.0])
cats = defaultdict(lambda: [0, 0.0])
total = 0.0
for v in per.values():
    t = v.get("gpu__time_duration.sum", 0.0) / 1e3  # ns -> us
    a = agg[short(v["name"])]
    a[0] += 1; a[1] += t
    a[2] += t * v.get("dram__throughput.avg.pct_of_peak_sustained_elapsed", 0.0)
    a[3] += t * v.get("sm__throughput.avg.pct_of_peak_sustained_elapsed", 0.0)
    a[4] += v.get("dram__bytes.sum", 0.0)
    c = cats[category(short(v["name"]))]
    c[0] += 1; c[1] += t
    total += t
print(f"{len(per)} kernel launches, {total / 1e3:.1f} ms in all (under the profiler's serialisation and clock control)\n")
print("| kernel | launches | total ms | share | DRAM % of peak | SM % of peak | GB moved |")
print("|---|---:|---:|---:|---:|---:|---:|")
for name, (n, t, d, s, b) in sorted(agg.items(), key=lambda kv: -kv[1][1])[:40]:
    print(f"| `{name}` | {n} | {t / 1e3:.3f} | {100 * t / total:.1f}% | {d / t if t else 0:.0f} | {s / t if t else 0:.0f} | {b / 1e9:.2f} |")

print("\n| what | launches | total ms | share |")
print("|---|---:|---:|---:|")
for cat, (n, t) in sorted(cats.items(), key=lambda kv: -kv[1][1]):
    print(f"| {cat} | {n} | {t / 1e3:.3f} | {100 * t / total:.1f}% |")
