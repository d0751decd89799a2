"""test_accuracy_tools.py — checks of issue 15's accuracy job without a GPU: run_accuracy.sh's VARIANTS/PRECISIONS
parsing and folders (DRY_RUN, and a whole job on a fake `train` that only writes a loss curve),
accuracy_summary.py's numbers on fake compare.json files and merge_compare.py's merge of batches. `compare` is the real CLI when INT4TRAIN_CLI names it
(e.g. "dotnet .../Int4Train.Cli.dll"; the C# test AccuracyScriptTests sets it), else a stand-in.
Usage: python3 perf/training/test_accuracy_tools.py   (also: ... --fake-cli ARGS, the CLI the job runs)"""
import json
import os
import random
import shlex
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import accuracy_summary  # noqa: E402
import merge_compare  # noqa: E402


def option(args, name, default=None):
    return args[args.index(name) + 1] if name in args else default


def fake_cli(args):
    """`train`: a loss.csv whose best validation loss depends on the variant's options and the seed (and the argv
    beside it); `compare`: the real CLI's when INT4TRAIN_CLI is set, else a compare.json of the same schema."""
    if args[0] == "train":
        out, seed = option(args, "--out"), int(option(args, "--seed"))
        os.makedirs(out)
        with open(os.path.join(out, "argv.json"), "w") as f:
            json.dump(args, f)
        base = {"bf16": 1.00, "int4": 1.03}.get(option(args, "--precision"), 1.10)
        base += 0.005 * (option(args, "--mode") == "paper") + 0.001 * (seed % 2)
        rows = ["step,train_loss,val_loss,lr,tokens_per_s"]
        steps, every = int(option(args, "--steps")), int(option(args, "--eval-every"))
        for s in range(1, steps + 1):
            val = f"{base + 1.0 / s:.6f}" if s % every == 0 or s == steps else ""
            rows.append(f"{s},{base + 1.0 / s + 0.1:.6f},{val},0.001,1000")
        with open(os.path.join(out, "loss.csv"), "w") as f:
            f.write("\n".join(rows) + "\n")
        print("done: fake train")
        return 0
    if args[0] == "compare" and os.environ.get("INT4TRAIN_CLI"):
        return subprocess.call(shlex.split(os.environ["INT4TRAIN_CLI"]) + args)
    if args[0] == "compare":
        runs = []
        for d in option(args, "--from").split(","):
            with open(os.path.join(d, "loss.csv")) as f:
                rows = [line.strip().split(",") for line in f.readlines()[1:]]
            vals = [(float(r[2]), int(r[0])) for r in rows if r[2]]
            runs.append({"label": os.path.basename(d), "precision": None, "linears": None, "steps": int(rows[-1][0]),
                         "best_val_loss": min(vals)[0], "best_val_step": min(vals)[1], "seed": None})
        ref = next((r for r in runs if r["label"] == "bf16"), runs[0])
        for r in runs:
            r["ratio_to_reference"] = r["best_val_loss"] / ref["best_val_loss"]
        os.makedirs(option(args, "--out"), exist_ok=True)
        with open(os.path.join(option(args, "--out"), "compare.json"), "w") as f:
            json.dump({"title": option(args, "--title"), "reference": ref["label"], "runs": runs}, f)
        return 0
    return 2


def run_job(env_extra, out):
    env = dict(os.environ, OUT=out, DATA="/nonexistent/data.txt",
               CLI=f"{shlex.quote(sys.executable)} {shlex.quote(os.path.abspath(__file__))} --fake-cli", **env_extra)
    return subprocess.run(["bash", "perf/training/run_accuracy.sh"], cwd=ROOT, env=env, capture_output=True, text=True)


class RunAccuracyScript(unittest.TestCase):
    def test_variants_name_the_folders_and_carry_their_options(self):
        with tempfile.TemporaryDirectory() as out:
            r = run_job({"DRY_RUN": "1", "SEEDS": "7 8", "STEPS": "2000", "TRAIN_ARGS": "--graph on",
                         "VARIANTS": "bf16:--precision bf16| int4:--precision int4 |int4-paper:--precision int4 --mode paper|int4-g128:--precision int4 --group 128"
                                     "|int4-slr0.1:--precision int4 --step-lr-scale 0.1|int4-only-mlp:--precision int4 --int4-layers up,down"
                                     "|int4-smooth0.5-all:--precision int4 --smooth 0.5 --smooth-layers qkv,proj,up,down"
                                     "|int4-fwd:--precision int4 --int4-ablation forward-only"}, out)
            self.assertEqual(r.returncode, 0, r.stderr)
            cmds = [line.split() for line in r.stdout.splitlines() if " train " in line]
            self.assertEqual(len(cmds), 16)
            by_out = {option(c, "--out"): c for c in cmds}
            paper = by_out[f"{out}/seed8/int4-paper"]
            self.assertEqual((option(paper, "--precision"), option(paper, "--mode"), option(paper, "--seed"), option(paper, "--steps")),
                             ("int4", "paper", "8", "2000"))
            self.assertEqual(option(by_out[f"{out}/seed7/int4-g128"], "--group"), "128")
            self.assertEqual(option(by_out[f"{out}/seed8/int4-slr0.1"], "--step-lr-scale"), "0.1")
            self.assertEqual(option(by_out[f"{out}/seed7/int4-only-mlp"], "--int4-layers"), "up,down")
            smooth = by_out[f"{out}/seed8/int4-smooth0.5-all"]
            self.assertEqual((option(smooth, "--smooth"), option(smooth, "--smooth-layers")), ("0.5", "qkv,proj,up,down"))
            self.assertEqual(option(by_out[f"{out}/seed7/int4-fwd"], "--int4-ablation"), "forward-only")
            self.assertEqual(option(by_out[f"{out}/seed7/bf16"], "--precision"), "bf16")
            self.assertTrue(all(option(c, "--graph") == "on" and option(c, "--preset") == "baby-gpt" for c in cmds))

    def test_precisions_still_work_without_variants(self):
        with tempfile.TemporaryDirectory() as out:
            r = run_job({"DRY_RUN": "1", "SEEDS": "1", "PRECISIONS": "bf16 int4-lsq"}, out)
            self.assertEqual(r.returncode, 0, r.stderr)
            outs = [(option(line.split(), "--out"), option(line.split(), "--precision")) for line in r.stdout.splitlines() if " train " in line]
            self.assertEqual(outs, [(f"{out}/seed1/bf16", "bf16"), (f"{out}/seed1/int4-lsq", "int4-lsq")])

    def test_bad_or_repeated_variant_names_stop_before_any_run(self):
        with tempfile.TemporaryDirectory() as out:
            for variants, message in [("int4:--precision int4|int4:--mode paper", "named twice"),
                                      ("int 4:--precision int4", "bad variant name"), ("a/b:--group 8", "bad variant name")]:
                r = run_job({"VARIANTS": variants, "SEEDS": "1"}, out)
                self.assertEqual(r.returncode, 2, variants)
                self.assertIn(message, r.stderr)
                self.assertEqual(os.listdir(out), [], "nothing ran")

    def test_a_whole_job_compares_per_seed_and_summarises_by_variant(self):
        with tempfile.TemporaryDirectory() as out:
            r = run_job({"SEEDS": "1 2", "STEPS": "20", "EVAL_EVERY": "5", "JOBS": "3",
                         "VARIANTS": "bf16:--precision bf16|int4:--precision int4|int4-paper:--precision int4 --mode paper"}, out)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            for seed in ("1", "2"):
                with open(os.path.join(out, f"seed{seed}", "compare.json")) as f:
                    doc = json.load(f)
                self.assertEqual([x["label"] for x in doc["runs"]], ["bf16", "int4", "int4-paper"])
                self.assertEqual(doc["reference"], "bf16")
            with open(os.path.join(out, "accuracy-summary.md")) as f:
                md = f.read()
            rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[1:-1]] for line in md.splitlines() if line.startswith("| int4") or line.startswith("| bf16")}
            self.assertEqual(set(rows), {"bf16", "int4", "int4-paper"})
            # fake best losses: bf16 1.051 / 1.05, int4 1.081 / 1.08, int4-paper 1.086 / 1.085 (seed 1 / seed 2)
            self.assertEqual(rows["int4"][3], f"{(1.081 + 1.08) / 2:.4f}")
            self.assertEqual(rows["int4"][4], "0.0010")
            self.assertEqual(rows["int4"][5], f"{(1.081 / 1.051 + 1.08 / 1.05) / 2:.4f}×")
            self.assertEqual(rows["bf16"][7], "yes")
            self.assertEqual(rows["int4-paper"][7], "no")

    def test_a_baseline_job_joins_the_summary_of_a_new_batch(self):
        with tempfile.TemporaryDirectory() as base, tempfile.TemporaryDirectory() as out:
            common = {"SEEDS": "1 2", "STEPS": "20", "EVAL_EVERY": "5", "JOBS": "2"}
            r = run_job(dict(common, VARIANTS="bf16:--precision bf16|int4:--precision int4"), base)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            r = run_job(dict(common, VARIANTS="int4-paper:--precision int4 --mode paper", BASELINE=base), out)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            runs = [e for e in os.listdir(os.path.join(out, "seed1")) if os.path.isdir(os.path.join(out, "seed1", e))]
            self.assertEqual(runs, ["int4-paper"], "only the new variant trained; the baseline is not trained again")
            self.assertTrue(os.path.isfile(os.path.join(out, "seed1", "compare-with-baseline.json")))
            with open(os.path.join(out, "seed2", "compare-with-baseline.json")) as f:
                doc = json.load(f)
            self.assertEqual([x["label"] for x in doc["runs"]], ["bf16", "int4", "int4-paper"])
            paper = doc["runs"][2]
            self.assertAlmostEqual(paper["ratio_to_reference"], 1.085 / 1.05, places=5, msg="to the baseline job's bf16")
            with open(os.path.join(out, "accuracy-summary.md")) as f:
                md = f.read()
            self.assertIn("| int4-paper |", md)
            self.assertIn("| bf16 |", md)
            self.assertIn(f"{(1.086 / 1.051 + 1.085 / 1.05) / 2:.4f}×", md)


class Summary(unittest.TestCase):
    def test_mean_spread_and_the_mean_of_per_seed_ratios(self):
        rnd = random.Random(15)
        docs, truth = [], {"bf16": [], "int4": [], "int4-g64": []}
        for seed in (1337, 1338, 1339):
            losses = {"bf16": 1.0 + rnd.uniform(0, 0.05), "int4": 1.03 + rnd.uniform(0, 0.05), "int4-g64": 1.2 + rnd.uniform(0, 0.3)}
            for k, v in losses.items():
                truth[k].append((v, v / losses["bf16"]))
            docs.append({"reference": "bf16", "runs": [
                {"label": k, "precision": k.split("-")[0], "linears": f"{k} (code mode)" if k != "bf16" else "bf16", "steps": 5000,
                 "best_val_loss": v, "ratio_to_reference": v / losses["bf16"], "seed": seed} for k, v in losses.items()]})
        docs[1]["runs"].append({"label": "fp32", "steps": 5000, "best_val_loss": None, "seed": 1338})  # no evaluation: left out
        variants, refs = accuracy_summary.collect(docs)
        self.assertEqual(refs, {"bf16"})
        self.assertEqual(set(variants), set(truth))
        for k, pairs in truth.items():
            v = variants[k]
            self.assertAlmostEqual(v.mean_best, sum(p[0] for p in pairs) / 3, places=12)
            self.assertAlmostEqual(v.spread, max(p[0] for p in pairs) - min(p[0] for p in pairs), places=12)
            self.assertAlmostEqual(v.mean_ratio, sum(p[1] for p in pairs) / 3, places=12, msg="per-seed ratio, then the mean")
            self.assertEqual(v.seeds, [1337, 1338, 1339])
        md = accuracy_summary.markdown(variants, refs, 3, target=1.01)
        body = [line for line in md.splitlines() if line.startswith("| ") and not line.startswith("| variant")]
        self.assertEqual([line.split("|")[1].strip() for line in body], ["bf16", "int4", "int4-g64"], "sorted by mean best loss")
        self.assertIn("every run trained 5000 steps", md)
        self.assertIn("| int4-g64 | int4-g64 (code mode) | 1337, 1338, 1339 |", md)
        self.assertTrue(body[0].endswith("| yes |") and body[2].endswith("| no |"))

    def test_old_compare_json_keyed_by_precision_and_different_steps(self):
        docs = [{"reference": "bf16", "runs": [{"precision": "bf16", "steps": 100, "best_val_loss": 2.0, "ratio_to_reference": 1.0, "seed": 1},
                                               {"precision": "int4", "steps": 200, "best_val_loss": 2.2, "ratio_to_reference": 1.1, "seed": 1}]}]
        variants, refs = accuracy_summary.collect(docs)
        md = accuracy_summary.markdown(variants, refs, 1)
        self.assertIn("different numbers of steps (100, 200)", md)
        self.assertIn("| int4 | – | 1 | 2.2000 | 0.0000 | 1.1000× | 1.1000–1.1000 |", md)


class Merge(unittest.TestCase):
    def test_batches_of_one_seed_merge_with_ratios_to_the_reference(self):
        a = {"title": "t", "reference": "bf16", "runs": [{"label": "bf16", "best_val_loss": 2.0, "ratio_to_reference": 1.0, "seed": 7},
                                                         {"label": "int4", "best_val_loss": 2.1, "ratio_to_reference": 1.05, "seed": 7}]}
        b = {"reference": "k", "runs": [{"label": "k", "best_val_loss": 2.3, "ratio_to_reference": 1.0, "seed": 7},
                                        {"label": "k-dyn", "best_val_loss": None, "seed": 7}]}
        m = merge_compare.merge([a, b])
        self.assertEqual([r["label"] for r in m["runs"]], ["bf16", "int4", "k", "k-dyn"])
        self.assertEqual(m["reference"], "bf16")
        self.assertAlmostEqual(m["runs"][2]["ratio_to_reference"], 2.3 / 2.0, places=12, msg="recomputed against bf16")
        self.assertIsNone(m["runs"][3]["ratio_to_reference"])
        self.assertEqual(a["runs"][1]["ratio_to_reference"], 1.05, "the inputs are left as they were")
        variants, refs = accuracy_summary.collect([m])
        self.assertEqual(refs, {"bf16"})
        self.assertAlmostEqual(variants["k"].mean_ratio, 1.15, places=12)

    def test_repeated_labels_other_seeds_and_a_missing_reference_stop_it(self):
        one = {"runs": [{"label": "bf16", "best_val_loss": 2.0, "seed": 1}]}
        with self.assertRaisesRegex(ValueError, "more than one file"):
            merge_compare.merge([one, one])
        with self.assertRaisesRegex(ValueError, "different seeds"):
            merge_compare.merge([one, {"runs": [{"label": "int4", "best_val_loss": 2.0, "seed": 2}]}])
        with self.assertRaisesRegex(ValueError, "no run labelled 'bf16'"):
            merge_compare.merge([{"runs": [{"label": "int4", "best_val_loss": 2.0, "seed": 1}]}])


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--fake-cli":
        sys.exit(fake_cli(sys.argv[2:]))
    unittest.main()
