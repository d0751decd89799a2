"""accuracy_summary.py — the mean over seeds of `int4train compare`'s compare.json files (issue 15), as a Markdown table
for perf/results/accuracy.md: per variant (a run's label, its folder's name: bf16, int4, int4-paper, …) the block
linears it ran, its seeds, the mean best validation loss, its seed-to-seed spread (max - min), and the ratio to the
reference (bf16) taken per seed, then averaged, with its range over the seeds. Rows sorted by mean best validation
loss. compare.json files written before runs had labels key them by "precision".
Usage: python3 perf/training/accuracy_summary.py [--title TEXT] [--target 1.01] RUNS/seed*/compare.json"""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field


@dataclass
class Variant:
    """One variant's results over the compare.json files (one per seed)."""
    name: str
    linears: str | None = None
    seeds: list = field(default_factory=list)
    best: list = field(default_factory=list)
    ratios: list = field(default_factory=list)
    steps: set = field(default_factory=set)

    @property
    def mean_best(self) -> float:
        return sum(self.best) / len(self.best)

    @property
    def spread(self) -> float:
        return max(self.best) - min(self.best)

    @property
    def mean_ratio(self) -> float | None:
        return sum(self.ratios) / len(self.ratios) if self.ratios else None


def run_label(run) -> str | None:
    """A compare.json run's name: its label (a VARIANTS name), else its precision (compare's own runs)."""
    return run.get("label") or run.get("precision")


def collect(docs):
    """Variants by name (first-seen order) and the reference labels, from parsed compare.json documents."""
    variants, references = {}, set()
    for doc in docs:
        if doc.get("reference") is not None:
            references.add(doc["reference"])
        for run in doc["runs"]:
            name = run_label(run)
            if name is None or run.get("best_val_loss") is None:
                continue
            v = variants.setdefault(name, Variant(name))
            v.linears = v.linears or run.get("linears")
            v.seeds.append(run.get("seed"))
            v.best.append(run["best_val_loss"])
            v.steps.add(run.get("steps"))
            if run.get("ratio_to_reference") is not None:
                v.ratios.append(run["ratio_to_reference"])
    return variants, references


def markdown(variants, references, files: int, title: str | None = None, target: float | None = None) -> str:
    """The Markdown document: a title, what the numbers are, the table."""
    ref = next(iter(references)) if len(references) == 1 else "the reference"
    steps = sorted({s for v in variants.values() for s in v.steps if s is not None})
    lines = [f"# {title or 'Best validation loss by variant, mean over seeds'}", ""]
    lines.append(f"Mean over {files} compare.json files (one per seed); "
                 + (f"every run trained {steps[0]} steps; " if len(steps) == 1 else f"**runs trained different numbers of steps ({', '.join(map(str, steps))})**; ")
                 + f"spread = max - min of the best validation loss over the seeds; the ratio to {ref} is taken per seed, "
                 + "then averaged (its range over the seeds beside it)."
                 + (f" Target: mean ratio ≤ {target:.4g}×." if target else ""))
    lines.append("")
    head = f"| variant | block linears | seeds | mean best val loss | spread | mean ratio to {ref} | ratio range |"
    rule = "|---|---|---|---:|---:|---:|---|"
    if target:
        head += f" ≤ {target:.4g}× |"
        rule += ":-:|"
    lines += [head, rule]
    for v in sorted(variants.values(), key=lambda v: v.mean_best):
        r = v.mean_ratio
        row = (f"| {v.name} | {v.linears or '–'} | {', '.join('?' if s is None else str(s) for s in v.seeds)} | {v.mean_best:.4f} | {v.spread:.4f} | "
               + (f"{r:.4f}× | {min(v.ratios):.4f}–{max(v.ratios):.4f} |" if r is not None else "– | – |"))
        if target:
            row += " – |" if r is None else (" yes |" if r <= target else " no |")
        lines.append(row)
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", help="compare.json files, one per seed")
    ap.add_argument("--title", help="the table's title")
    ap.add_argument("--target", type=float, help="mark each variant whose mean ratio is at most this (issue 15: 1.01)")
    a = ap.parse_args(argv)
    docs = []
    for path in a.files:
        with open(path, encoding="utf-8") as f:
            docs.append(json.load(f))
    variants, references = collect(docs)
    if not variants:
        raise SystemExit("accuracy_summary.py: no run with a best validation loss in " + ", ".join(a.files))
    print(markdown(variants, references, len(a.files), a.title, a.target), end="")


if __name__ == "__main__":
    main()
