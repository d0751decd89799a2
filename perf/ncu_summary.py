"""Aggregates an Nsight Compute CSV (--metrics ... --csv --print-units base) by kernel name: launches, total time,
and the time-weighted DRAM and SM throughput (% of peak) — which kernels take the time, and whether they are bound
by memory bandwidth or by compute. Usage: python3 perf/ncu_summary.py ncu.csv > summary.md"""
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

agg = defaultdict(lambda: [0, 0.0, 0.0, 0.0, 0.0])
total = 0.0
for v in per.values():
    t = v.get("gpu__time_duration.sum", 0.0) / 1e3  # ns -> us
    a = agg[short(v["name"])]
    a[0] += 1; a[1] += t
    a[2] += t * v.get("dram__throughput.avg.pct_of_peak_sustained_elapsed", 0.0)
    a[3] += t * v.get("sm__throughput.avg.pct_of_peak_sustained_elapsed", 0.0)
    a[4] += v.get("dram__bytes.sum", 0.0)
    total += t
print(f"{len(per)} kernel launches, {total / 1e3:.1f} ms in all (under the profiler's serialisation and clock control)\n")
print("| kernel | launches | total ms | share | DRAM % of peak | SM % of peak | GB moved |")
print("|---|---:|---:|---:|---:|---:|---:|")
for name, (n, t, d, s, b) in sorted(agg.items(), key=lambda kv: -kv[1][1])[:40]:
    print(f"| `{name}` | {n} | {t / 1e3:.3f} | {100 * t / total:.1f}% | {d / t if t else 0:.0f} | {s / t if t else 0:.0f} | {b / 1e9:.2f} |")
