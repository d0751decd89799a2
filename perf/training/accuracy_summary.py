"""accuracy_summary.py — the mean over seeds of `int4train compare`'s compare.json files (issue 15): per precision the
mean best validation loss, its seed-to-seed spread (max - min) and the mean of the per-seed ratios to the reference
(bf16), as a Markdown table. Usage: python3 perf/training/accuracy_summary.py RUNS/seed*/compare.json"""
import json
import sys
from collections import defaultdict

best, ratio, seeds = defaultdict(list), defaultdict(list), defaultdict(list)
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    for run in doc["runs"]:
        if run.get("best_val_loss") is None:
            continue
        best[run["precision"]].append(run["best_val_loss"])
        seeds[run["precision"]].append(run.get("seed"))
        if run.get("ratio_to_reference") is not None:
            ratio[run["precision"]].append(run["ratio_to_reference"])

print(f"Mean over {len(sys.argv) - 1} compare.json files (one per seed); spread = max - min over the seeds.\n")
print("| precision | seeds | mean best val loss | spread | mean ratio to bf16 |")
print("|---|---|---:|---:|---:|")
for p, losses in sorted(best.items(), key=lambda kv: sum(kv[1]) / len(kv[1])):
    r = ratio[p]
    mean_ratio = f"{sum(r) / len(r):.4f}" if r else "–"
    print(f"| {p} | {', '.join(str(s) for s in seeds[p])} | {sum(losses) / len(losses):.4f} | "
          f"{max(losses) - min(losses):.4f} | {mean_ratio} |")
