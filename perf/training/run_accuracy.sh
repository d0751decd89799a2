#!/usr/bin/env bash
# run_accuracy.sh — issue 15's accuracy runs on one GPU: every VARIANT × SEED training of the baby-gpt recipe at once
# (a baby GPT allocates about 4 GB — perf/results/*-h200-gpt-speed-baby-gpt.md — so many share an H200; JOBS bounds how
# many run together), then `int4train compare --from` per seed (OUTDIR/seedS/compare.md/.json/.png, each run labelled
# by its variant) and perf/training/accuracy_summary.py over the seeds (per variant: mean best validation loss, the
# seed-to-seed spread, the mean of the per-seed ratios to bf16) into OUTDIR/accuracy-summary.md.
#
#   VARIANTS  named runs, "NAME:ARGS|NAME:ARGS|…": ARGS are train options (--precision, --mode, --group, --sampling,
#             --cold-start, --reinit-step, --step-lr-scale, --int4-layers, --smooth, --smooth-layers, --int4-ablation, …), NAME ([A-Za-z0-9._-]) names the run's
#             folder and its row; one variant should be the bf16 baseline (the ratios are to the run labelled bf16, else
#             to the bf16 checkpoint). E.g.
#             VARIANTS="bf16:--precision bf16|int4:--precision int4|int4-paper:--precision int4 --mode paper|int4-g128:--precision int4 --group 128|int4-slr0.1:--precision int4 --step-lr-scale 0.1"
#             Which block-linear class limits the accuracy (issue 15; the classes not named run as bf16 runs them):
#             VARIANTS="bf16:--precision bf16|int4:--precision int4|int4-only-qkv:--precision int4 --int4-layers qkv|int4-only-proj:--precision int4 --int4-layers proj|int4-only-up:--precision int4 --int4-layers up|int4-only-down:--precision int4 --int4-layers down"
#             Per-input-channel smoothing (issue 15; GPU only): of the LayerNorm-output linears (qkv, up), and of all four:
#             VARIANTS="bf16:--precision bf16|int4:--precision int4|int4-smooth0.5:--precision int4 --smooth 0.5|int4-smooth0.5-all:--precision int4 --smooth 0.5 --smooth-layers qkv,proj,up,down"
#             Forward or backward quantizer (issue 15's diagnostic; GPU only; docs/conventions.md "INT4 ablations"):
#             VARIANTS="bf16:--precision bf16|int4:--precision int4|int4-fwd:--precision int4 --int4-ablation forward-only|int4-bwd:--precision int4 --int4-ablation backward-only"
#             Whether finer forward steps (one per token of XH, one per output channel of WH) remove the forward's cost
#             (issue 15's diagnostic, GPU only; compare fine* with int4-fwd, which has the same exact backward):
#             VARIANTS="bf16:--precision bf16|int4:--precision int4|int4-fwd:--precision int4 --int4-ablation forward-only|fine:--precision int4 --int4-ablation fine-scales|fine-x:--precision int4 --int4-ablation fine-x|fine-w:--precision int4 --int4-ablation fine-w"
#   PRECISIONS  without VARIANTS: one variant per precision, named by it (default "bf16 int4")
#   PRESET=baby-gpt (issue 12's sanity check at a new size: PRESET=gpt2-small STEPS=1000)
#   SEEDS="1337 1338"  STEPS=5000  EVAL_EVERY=250  JOBS=4  TRAIN_ARGS="..." (added to every run)  TARGET=1.01 (the
#   summary marks each variant whose mean ratio to bf16 is at most this)
#   Quick ranking: fewer steps, e.g. STEPS=2000 EVAL_EVERY=250 (the cosine schedule is as long as STEPS, so a ranking
#   run is a shorter recipe, not the first part of the 5000-step one); the 200-batch validation costs about a third of
#   a training step per batch, so EVAL_EVERY=500 halves its share.
#   DATA defaults to .carry/linux-kernel-c.txt, then ../shared/data/linux-kernel-c.txt. OUT: results folder (default
#   ./accuracy-runs). CLI: the int4train command (default the staged one, `dotnet stage/cli/Int4Train.Cli.dll`, which
#   needs stage/ from ./build.sh stage-gpu and build/native from perf/training/run_device.sh).
#   BASELINE=DIR  an earlier job's OUT on the same SEEDS, STEPS and data (e.g. its bf16 and int4 runs): per seed its
#             compare.json and this job's merge into OUT/seedS/compare-with-baseline.json (perf/training/
#             merge_compare.py, ratios recomputed to bf16), which the summary then reads, so a new batch of variants
#             need not train the baselines again (device time). By hand: merge_compare.py over any batches of a seed.
#   DRY_RUN=1 prints each train command line instead of running it (and skips compare and the summary).
#   MPS=1 (opt-in, untested here) starts an NVIDIA MPS daemon for the job (pipes and logs under OUT/mps), so the runs'
#   kernels share the GPU at once instead of time-slicing between processes; stopped when the job ends; without
#   nvidia-cuda-mps-control, or if it does not start, the job runs without it.
set -uo pipefail
OUT=${OUT:-$PWD/accuracy-runs}; mkdir -p "$OUT"
DATA=${DATA:-$( [ -f .carry/linux-kernel-c.txt ] && echo .carry/linux-kernel-c.txt || echo ../shared/data/linux-kernel-c.txt )}
SEEDS=${SEEDS:-"1337 1338"}; JOBS=${JOBS:-4}; PRESET=${PRESET:-baby-gpt}
if [ -z "${CLI:-}" ]; then
  . perf/device_env.sh
  use_staged_dotnet
  export INT4TRAIN_NATIVE_DIR=${INT4TRAIN_NATIVE_DIR:-$PWD/build/native}
  CLI="dotnet stage/cli/Int4Train.Cli.dll"
fi

# VARIANTS (or PRECISIONS) into the parallel arrays NAMES and ARGS; a malformed or repeated name stops the job before
# anything runs.
if [ -z "${VARIANTS:-}" ]; then
  VARIANTS=$(for p in ${PRECISIONS:-bf16 int4}; do printf '%s:--precision %s|' "$p" "$p"; done); VARIANTS=${VARIANTS%|}
fi
NAMES=(); ARGS=()
IFS='|' read -r -a entries <<< "$VARIANTS"
for entry in "${entries[@]}"; do
  entry=$(echo "$entry" | sed 's/^ *//; s/ *$//')
  [ -z "$entry" ] && continue
  name=${entry%%:*}; args=""
  [ "$name" != "$entry" ] && args=${entry#*:}
  if ! [[ "$name" =~ ^[A-Za-z0-9._-]+$ ]]; then echo "run_accuracy.sh: bad variant name '$name' in '$entry' (NAME:ARGS, NAME of A-Z a-z 0-9 . _ -)" >&2; exit 2; fi
  for seen in "${NAMES[@]}"; do
    if [ "$seen" = "$name" ]; then echo "run_accuracy.sh: variant '$name' is named twice" >&2; exit 2; fi
  done
  NAMES+=("$name"); ARGS+=("$args")
done
if [ "${#NAMES[@]}" -eq 0 ]; then echo "run_accuracy.sh: no variants (VARIANTS='$VARIANTS')" >&2; exit 2; fi
echo "variants: ${NAMES[*]}; seeds: $SEEDS; steps ${STEPS:-5000}, eval every ${EVAL_EVERY:-250}; $JOBS at once; into $OUT"

if [ "${MPS:-0}" = 1 ] && [ "${DRY_RUN:-0}" != 1 ]; then
  export CUDA_MPS_PIPE_DIRECTORY="$OUT/mps/pipe" CUDA_MPS_LOG_DIRECTORY="$OUT/mps/log"
  mkdir -p "$CUDA_MPS_PIPE_DIRECTORY" "$CUDA_MPS_LOG_DIRECTORY"
  if command -v nvidia-cuda-mps-control >/dev/null 2>&1 && nvidia-cuda-mps-control -d; then
    trap 'echo quit | nvidia-cuda-mps-control' EXIT
    echo "MPS daemon started (pipes in $CUDA_MPS_PIPE_DIRECTORY)"
  else
    unset CUDA_MPS_PIPE_DIRECTORY CUDA_MPS_LOG_DIRECTORY
    echo "MPS=1: no MPS daemon (nvidia-cuda-mps-control missing or failed); the runs time-slice the GPU"
  fi
fi

running=0
for seed in $SEEDS; do
  for i in "${!NAMES[@]}"; do
    name=${NAMES[$i]}; dir="$OUT/seed$seed/$name"; log="$OUT/seed$seed-$name.log"
    # shellcheck disable=SC2206 # a variant's ARGS and TRAIN_ARGS are lists of options
    cmd=($CLI train --device gpu --data "$DATA" --preset "$PRESET" --seed "$seed" --steps "${STEPS:-5000}"
         --eval-every "${EVAL_EVERY:-250}" --out "$dir" --plain ${ARGS[$i]} ${TRAIN_ARGS:-})
    if [ "${DRY_RUN:-0}" = 1 ]; then echo "${cmd[*]}"; continue; fi
    ( "${cmd[@]}" > "$log" 2>&1
      echo "seed $seed $name: exit $? | $(tail -1 "$log")" ) &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then wait -n; running=$((running - 1)); fi
  done
done
wait
[ "${DRY_RUN:-0}" = 1 ] && exit 0
for seed in $SEEDS; do
  from=$(for name in "${NAMES[@]}"; do [ -f "$OUT/seed$seed/$name/loss.csv" ] && printf '%s,' "$OUT/seed$seed/$name"; done); from=${from%,}
  if [ -z "$from" ]; then echo "seed $seed: no run wrote a loss curve (see $OUT/seed$seed-*.log)"; continue; fi
  $CLI compare --from "$from" --out "$OUT/seed$seed" --title "$PRESET on $(basename "$DATA"), seed $seed" > "$OUT/seed$seed-compare.log" 2>&1 \
    || tail -3 "$OUT/seed$seed-compare.log"
done
summarised=("$OUT"/seed*/compare.json)
if [ -n "${BASELINE:-}" ]; then
  summarised=()
  for seed in $SEEDS; do
    [ -f "$OUT/seed$seed/compare.json" ] || continue
    if [ ! -f "$BASELINE/seed$seed/compare.json" ]; then echo "seed $seed: no $BASELINE/seed$seed/compare.json (BASELINE)"; continue; fi
    python3 perf/training/merge_compare.py --out "$OUT/seed$seed/compare-with-baseline.json" \
      "$BASELINE/seed$seed/compare.json" "$OUT/seed$seed/compare.json" && summarised+=("$OUT/seed$seed/compare-with-baseline.json")
  done
fi
python3 perf/training/accuracy_summary.py --target "${TARGET:-1.01}" --title "$PRESET on $(basename "$DATA"), ${STEPS:-5000} steps: best validation loss by variant" \
  "${summarised[@]}" | tee "$OUT/accuracy-summary.md"
