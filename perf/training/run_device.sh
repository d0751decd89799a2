#!/usr/bin/env bash
# run_device.sh — the GPU job of issues 6 and 12 on a machine with a GPU, nvcc, PyTorch and only the .NET runtime,
# from a checkout carrying stage/ (./build.sh stage-gpu) and CUTLASS (.carry/cutlass.tar.xz): builds native/, runs the
# device-GPT GPU tests, then (optional verbs) the speed comparison with PyTorch and training runs.
#   bash perf/training/run_device.sh [test] [speed [PRESET]] [train PRECISION STEPS [RESUME_DIR]] ...
# speed PRESET (default baby-gpt; tiny, small, baby-gpt, gpt2-small, gpt-1b) times every precision of our device GPT
# and then PyTorch BF16 on the same configuration (the bench passes the sizes to torch_gpt.py) in this one job, and
# writes $OUT/<date>-<gpu>-gpt-speed-PRESET.json/.md; SPEED_ARGS adds bench options (--micro-batch 4, --steps 20 …).
# train: PRESET (default baby-gpt) into $OUT/PRECISION (baby-gpt) or $OUT/PRESET-PRECISION; TRAIN_ARGS adds CLI
# options, EVAL_EVERY the validation interval (default 250).
# Logs and results go to ${OUT:-./train-logs}. DATA defaults to .carry/tinyshakespeare.txt.
set -uo pipefail
OUT=${OUT:-$PWD/train-logs}; mkdir -p "$OUT"
DATA=${DATA:-.carry/tinyshakespeare.txt}
. perf/device_env.sh
use_staged_dotnet
use_carried_cutlass
if [ ! -f build/native/libint4train.so ] || [ -n "${REBUILD:-}" ]; then
  t0=$(date +%s)
  { cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build -j "$(nproc)"; } > "$OUT/native-build.log" 2>&1 \
    || { tail -40 "$OUT/native-build.log"; exit 1; }
  echo "native build: $(( $(date +%s) - t0 )) s"
  mkdir -p "$OUT/lib" && cp build/native/*.so "$OUT/lib/"  # a later call can carry build/native instead of rebuilding
fi
export INT4TRAIN_NATIVE_DIR=$PWD/build/native INT4TRAIN_REQUIRE_GPU=1
while [ $# -gt 0 ]; do
  case "$1" in
    test)
      dotnet stage/tests/Int4Train.Tests.dll --filter "FullyQualifiedName~DeviceGpt" > "$OUT/device-gpt-tests.log" 2>&1
      echo "device GPT tests: exit $?"; grep -E "^failed |^\s+(Expected|But was|at Int4Train)|loss .* -> |total:|failed:|succeeded:|skipped:" "$OUT/device-gpt-tests.log" | head -40
      shift ;;
    speed)
      preset=baby-gpt; shift
      case "${1:-}" in tiny|small|baby-gpt|gpt2-small|gpt-1b) preset=$1; shift ;; esac
      # shellcheck disable=SC2086 # SPEED_ARGS is a list of options
      dotnet stage/bench/Int4Train.Bench.dll gpt --preset "$preset" --data "$DATA" --torch-script perf/training/torch_gpt.py \
        --out "$OUT" ${SPEED_ARGS:-} 2>&1 | tail -12
      ;;
    train)
      prec=$2; steps=$3; shift 3
      extra=()
      if [ $# -gt 0 ] && [ -d "$1" ]; then extra=(--resume "$1/checkpoint.bin"); shift; fi
      preset=${PRESET:-baby-gpt}; dir="$OUT/$prec"; [ "$preset" = baby-gpt ] || dir="$OUT/$preset-$prec"
      # shellcheck disable=SC2086 # TRAIN_ARGS is a list of options (--micro-batch 4 …)
      dotnet stage/cli/Int4Train.Cli.dll train --device gpu --data "$DATA" --preset "$preset" --precision "$prec" \
        --steps "${TOTAL_STEPS:-$steps}" --eval-every "${EVAL_EVERY:-250}" --out "$dir" ${TRAIN_ARGS:-} "${extra[@]}" 2>&1 | tail -15
      ;;
    *) echo "unknown verb $1"; exit 2 ;;
  esac
done
