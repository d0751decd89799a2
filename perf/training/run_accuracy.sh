#!/usr/bin/env bash
# run_accuracy.sh — issue 15's accuracy runs on one GPU: every PRECISION × SEED training of the baby-gpt recipe at
# once (a baby GPT uses a few GB and part of the H200, so several share it; JOBS bounds how many run together), then
# `int4train compare --from` per seed (compare.md/.json/.png) and perf/training/accuracy_summary.py over the seeds
# (mean best validation loss per precision, the seed-to-seed spread, the mean ratio to bf16).
#   PRECISIONS="bf16 int4 int4-lsq"  SEEDS="1337 1338"  STEPS=5000  EVAL_EVERY=250  JOBS=4  TRAIN_ARGS="..."
# DATA defaults to .carry/linux-kernel-c.txt, then ../shared/data/linux-kernel-c.txt. Expects stage/ (./build.sh
# stage-gpu) and build/native (perf/training/run_device.sh builds it). Results in ${OUT:-./accuracy-runs}.
set -uo pipefail
OUT=${OUT:-$PWD/accuracy-runs}; mkdir -p "$OUT"
DATA=${DATA:-$( [ -f .carry/linux-kernel-c.txt ] && echo .carry/linux-kernel-c.txt || echo ../shared/data/linux-kernel-c.txt )}
PRECISIONS=${PRECISIONS:-"bf16 int4"}; SEEDS=${SEEDS:-"1337 1338"}; JOBS=${JOBS:-4}
. perf/device_env.sh
use_staged_dotnet
export INT4TRAIN_NATIVE_DIR=${INT4TRAIN_NATIVE_DIR:-$PWD/build/native}
CLI="dotnet stage/cli/Int4Train.Cli.dll"
running=0
for seed in $SEEDS; do
  for prec in $PRECISIONS; do
    dir="$OUT/seed$seed/$prec"
    # shellcheck disable=SC2086 # TRAIN_ARGS is a list of options
    ( $CLI train --device gpu --data "$DATA" --preset baby-gpt --precision "$prec" --seed "$seed" --steps "${STEPS:-5000}" \
        --eval-every "${EVAL_EVERY:-250}" --out "$dir" --plain ${TRAIN_ARGS:-} > "$OUT/seed$seed-$prec.log" 2>&1
      echo "seed $seed $prec: exit $? | $(tail -1 "$OUT/seed$seed-$prec.log")" ) &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then wait -n; running=$((running - 1)); fi
  done
done
wait
for seed in $SEEDS; do
  from=$(for prec in $PRECISIONS; do printf '%s,' "$OUT/seed$seed/$prec"; done); from=${from%,}
  $CLI compare --from "$from" --out "$OUT/seed$seed" --title "baby-gpt on $(basename "$DATA"), seed $seed" > "$OUT/seed$seed-compare.log" 2>&1 \
    || tail -3 "$OUT/seed$seed-compare.log"
done
python3 perf/training/accuracy_summary.py "$OUT"/seed*/compare.json | tee "$OUT/accuracy-summary.md"
