#!/usr/bin/env bash
# run_device.sh — on a GPU machine (the H100 of the device tool), from a checkout carrying stage/ (./build.sh stage-gpu)
# and CUTLASS (submodule or .carry/cutlass.tar.xz): build native/ for sm_90a (libint4train + libint4train_bench),
# list the tensor-core instructions, run the self-test (--quick: bit-exactness with the tuned GEMM table), then
# the benchmark. Logs, JSON and Markdown go to ${OUT:-./bench-logs}. Extra arguments go to the benchmark.
set -uo pipefail
T0=$(date +%s)
OUT=${OUT:-$PWD/bench-logs}; mkdir -p "$OUT"
BUDGET=${BENCH_BUDGET_S:-560}
. perf/device_env.sh
use_staged_dotnet
use_carried_cutlass
{ nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv,noheader; nvcc --version | tail -1; } 2>&1 | tee "$OUT/env.txt"
build() { cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90a "$@" && cmake --build build -j16; }
if ! build > "$OUT/build.log" 2>&1; then
  echo "BUILD FAILED with the tuned GEMM table; errors:"; grep -E "error" "$OUT/build.log" | head -20
  echo "retrying with -DINT4TRAIN_GEMM_DQ=OFF (dequantize as a separate pass)"
  if ! build -DINT4TRAIN_GEMM_DQ=OFF > "$OUT/build_nodq.log" 2>&1; then
    grep -E "error" "$OUT/build_nodq.log" | head -20
    echo "retrying with -DINT4TRAIN_GEMM_TUNED=OFF -DINT4TRAIN_GEMM_DQ=OFF"
    build -DINT4TRAIN_GEMM_TUNED=OFF -DINT4TRAIN_GEMM_DQ=OFF > "$OUT/build_untuned.log" 2>&1 || { grep -E "error" "$OUT/build_untuned.log" | head -20; exit 1; }
  fi
fi
echo "build took $(( $(date +%s) - T0 )) s"
cuobjdump --dump-sass build/native/libint4train_bench.so 2>/dev/null | awk '/Function :/{f=$3} /IGMMA|HGMMA|IMMA/{match($0,/(IGMMA|HGMMA|IMMA)[.A-Z0-9_]*/); c[f" "substr($0,RSTART,RLENGTH)]++} END{for(k in c) print c[k], k}' | sort -k2 > "$OUT/sass.txt"
echo "tensor-core instructions by kernel: $(wc -l < "$OUT/sass.txt") kernel/instruction pairs"; cut -c1-160 "$OUT/sass.txt" | head -12
echo "== selftest --quick (bit-exactness, tuned GEMM table) =="
timeout 120 build/native/int4train_selftest --quick > "$OUT/selftest.log" 2>&1; echo "selftest exit $?"; grep -E "FAIL|passed" "$OUT/selftest.log" | tail -5
echo "== benchmark =="
LEFT=$(( BUDGET - ($(date +%s) - T0) ))
INT4TRAIN_NATIVE_DIR=$PWD/build/native timeout "$LEFT" dotnet stage/bench/Int4Train.Bench.dll --out "$OUT" "$@" > "$OUT/bench.log" 2>&1
echo "bench exit $? after $(( $(date +%s) - T0 )) s"
grep -E "ERROR|FAILED|CUDA graph|phases" "$OUT/bench.log" | cut -c1-400 | head -30
sed -n '/^# Int4Train benchmark/,$p' "$OUT/bench.log" | head -80
