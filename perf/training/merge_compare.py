"""merge_compare.py — one compare.json from the compare.json files of several batches of runs on the same seed (issue
15: a ranking spread over device calls, e.g. the baselines in one call and new variants in the next), with every run's
ratio_to_reference recomputed against the run labelled REFERENCE (default bf16), so accuracy_summary.py can average the
merged files over seeds. A run label that occurs twice, runs of different seeds, or a missing reference stop it.
Usage: python3 perf/training/merge_compare.py --out OUT.json [--reference bf16] [--title TEXT] A/compare.json B/compare.json ..."""
from __future__ import annotations

import argparse
import json

from accuracy_summary import run_label


def merge(docs, reference: str = "bf16", title: str | None = None) -> dict:
    """The merged document: the runs of every doc in order, ratios to `reference`'s best validation loss."""
    runs, seen, seeds = [], set(), set()
    for doc in docs:
        for run in doc["runs"]:
            label = run_label(run)
            if label in seen:
                raise ValueError(f"run '{label}' is in more than one file")
            seen.add(label)
            if run.get("seed") is not None:
                seeds.add(run["seed"])
            runs.append(dict(run))
    if len(seeds) > 1:
        raise ValueError(f"the files hold runs of different seeds ({', '.join(map(str, sorted(seeds)))})")
    ref = [r for r in runs if run_label(r) == reference and r.get("best_val_loss")]
    if not ref:
        raise ValueError(f"no run labelled '{reference}' with a best validation loss")
    base = ref[0]["best_val_loss"]
    for r in runs:
        r["ratio_to_reference"] = None if r.get("best_val_loss") is None else r["best_val_loss"] / base
    return {"title": title or docs[0].get("title"), "reference": reference, "runs": runs}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", help="compare.json files of the same seed")
    ap.add_argument("--out", required=True, help="the merged compare.json")
    ap.add_argument("--reference", default="bf16", help="the run the ratios are to (default bf16)")
    ap.add_argument("--title", help="the merged document's title (default: the first file's)")
    a = ap.parse_args(argv)
    docs = []
    for path in a.files:
        with open(path, encoding="utf-8") as f:
            docs.append(json.load(f))
    try:
        merged = merge(docs, a.reference, a.title)
    except ValueError as e:
        raise SystemExit(f"merge_compare.py: {e}") from None
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(merged, f, indent=2, ensure_ascii=False)


if __name__ == "__main__":
    main()
