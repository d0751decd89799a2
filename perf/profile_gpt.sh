#!/usr/bin/env bash
# profile_gpt.sh — where a GPT training step's time goes, per precision (issue 12: "why, from a profile"): Nsight
# Compute times every kernel of one warm-up and one timed step of `Int4Train.Bench gpt` and perf/ncu_summary.py sums
# them by kernel and by what they do (GEMMs, attention, the INT4 layer's passes, LayerNorm, ...). ncu serialises the
# kernels and fixes the clocks, so the shares are what to read, not the absolute milliseconds. On the GPU machine,
# from a checkout carrying stage/ and build/native:
#   bash perf/profile_gpt.sh [PRESET] [PRECISIONS]       (default: gpt2-small "bf16 int4")
#   GPT_ARGS="--layers 2"   more options of the GPT bench (e.g. a preset's widths with fewer blocks: every block
#                           runs the same kernels, so two blocks show the shares in a fraction of the time)
#   TAG=-l2                 appended to the file names
# Writes ${OUT}/gpt-<preset><tag>-<precision>-ncu.csv, -summary.md (both steps) and -step-summary.md (the timed one).
set -uo pipefail
OUT=${OUT:-$PWD/profile-logs}; mkdir -p "$OUT"
PRESET=${1:-gpt2-small}; PRECISIONS=${2:-"bf16 int4"}
. perf/device_env.sh
use_staged_dotnet
export INT4TRAIN_NATIVE_DIR=${INT4TRAIN_NATIVE_DIR:-$PWD/build/native}
DATA=${DATA:-.carry/tinyshakespeare.txt}
# the duration alone needs one pass per kernel (a step has ~100 kernels a block); METRICS="...,dram__bytes.sum,..."
# adds the throughput columns of ncu_summary.py at the cost of replays
METRICS=${METRICS:-gpu__time_duration.sum}
# one warm-up and one timed step of the GPT speed bench (precisions appended per run)
# shellcheck disable=SC2206
STEP=(dotnet stage/bench/Int4Train.Bench.dll gpt --preset "$PRESET" --data "$DATA" --warmup 1 --steps 1 --group 1 --out "$OUT/gpt-run" ${GPT_ARGS:-})
for p in $PRECISIONS; do
  base="$OUT/gpt-$PRESET${TAG:-}-$p"
  timeout "${NCU_T:-240}" ncu --target-processes all --metrics "$METRICS" \
    --csv --print-units base "${STEP[@]}" --precisions "$p" > "$base-ncu.csv" 2> "$base-ncu.err"
  echo "$PRESET${TAG:-} $p: ncu exit $? ($(grep -c '"gpu__time_duration.sum"' "$base-ncu.csv") kernel launches)"
  python3 perf/ncu_summary.py "$base-ncu.csv" > "$base-summary.md"
  python3 perf/ncu_summary.py "$base-ncu.csv" --last-step > "$base-step-summary.md" && tail -12 "$base-step-summary.md"
done
# FLASH_DETAIL=1: Nsight Compute's throughput, occupancy, launch and memory sections for the first fused-attention
# kernels of a step (forward, D, backward), as text: what holds them at their TFLOP/s.
if [ "${FLASH_DETAIL:-0}" = 1 ]; then
  timeout "${NCU_T:-240}" ncu --target-processes all --kernel-name "regex:^(forward|kv|q)_kernel" --launch-count 3 \
    --section SpeedOfLight --section Occupancy --section LaunchStats --section MemoryWorkloadAnalysis \
    --section ComputeWorkloadAnalysis --section WarpStateStats \
    "${STEP[@]}" --precisions bf16 > "$OUT/gpt-$PRESET-flash-detail.txt" 2>&1
  echo "flash detail: ncu exit $?"; grep -E "^  [a-z_:]*(forward|kv|q)_kernel|Compute \(SM\) Throughput|Memory Throughput|Achieved Occupancy|Registers Per|Theoretical Occupancy|Block Limit" "$OUT/gpt-$PRESET-flash-detail.txt" | head -40
fi
