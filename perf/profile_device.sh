#!/usr/bin/env bash
# profile_device.sh — Nsight Compute profile of the benchmark at one shape (issue 5: "what the profile shows is in the
# way"). On the GPU machine, from a checkout carrying stage/ and build/native (or CUTLASS to build it):
#   bash perf/profile_device.sh ["SHAPE[,SHAPE]"]      (default: the paper's largest size, 15360x8704x10752)
#   PROFILE_OPS="linear_int4,linear_fp8" profiles only those operations (no phase breakdown)
# Writes ${OUT}/ncu.csv (per kernel launch: duration, DRAM and SM throughput as % of peak) and ${OUT}/ncu-summary.md
# (aggregated by kernel name) — perf/ncu_summary.py does the aggregation.
set -uo pipefail
OUT=${OUT:-$PWD/profile-logs}; mkdir -p "$OUT"
SHAPES=${1:-15360x8704x10752}
. perf/device_env.sh
use_staged_dotnet
if [ ! -f build/native/libint4train_bench.so ]; then
  use_carried_cutlass
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > "$OUT/build.log" 2>&1 && cmake --build build -j "$(nproc)" >> "$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; exit 1; }
fi
export INT4TRAIN_NATIVE_DIR=$PWD/build/native
METRICS=gpu__time_duration.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed,sm__throughput.avg.pct_of_peak_sustained_elapsed,dram__bytes.sum
timeout "${NCU_T:-500}" ncu --target-processes all --metrics "$METRICS" --csv --print-units base \
  dotnet stage/bench/Int4Train.Bench.dll --no-configs --runs 1 --warmup 0 --sets 1 --only "$SHAPES" --out "$OUT" --name profiled \
  ${PROFILE_OPS:+--ops "$PROFILE_OPS" --no-phases} \
  > "$OUT/ncu.csv" 2> "$OUT/ncu.err"
echo "ncu exit $? ($(grep -c '"gpu__time_duration.sum"' "$OUT/ncu.csv") kernel launches)"
python3 perf/ncu_summary.py "$OUT/ncu.csv" > "$OUT/ncu-summary.md" && head -45 "$OUT/ncu-summary.md"
