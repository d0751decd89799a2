#!/usr/bin/env bash
# run_device.sh — build libint4train on a GPU machine, run the self-test (plain and under compute-sanitizer
# memcheck) and list the tensor-core instructions of the GEMM. Logs go to $OUT (default ./device-logs).
# Usage (from the repository root): bash native/tests/run_device.sh
# Expects CUTLASS at native/third_party/cutlass, or .carry/cutlass.tar.xz (include/ and tools/util/include/).
set -uo pipefail
OUT=${OUT:-$PWD/device-logs}
mkdir -p "$OUT"
. perf/device_env.sh
use_carried_cutlass
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; nvcc --version | tail -2; cmake --version | head -1; } 2>&1 | tee "$OUT/env.log"
ARCH=${INT4TRAIN_ARCH:-90a}
t0=$(date +%s)
if ! { cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES="$ARCH" && cmake --build build -j16; } > "$OUT/build.log" 2>&1; then
  echo "BUILD FAILED for $ARCH (see build.log); errors:"; grep -E "error|Error" "$OUT/build.log" | head -40
  if [ "$ARCH" = "90a" ]; then
    echo "retrying with CUDA_ARCHITECTURES=90 (fallback GEMM) to test the rest"
    ARCH=90
    rm -rf build
    { cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 && cmake --build build -j16; } > "$OUT/build90.log" 2>&1 || { grep -E "error" "$OUT/build90.log" | head -40; exit 1; }
  else
    exit 1
  fi
fi
echo "build ($ARCH) took $(( $(date +%s) - t0 )) s"
grep -E "warning" "$OUT/build.log" | grep -v cutlass | head -20
nm -D --defined-only build/native/libint4train.so | awk '{print $3}' | sort > "$OUT/exports.txt"
echo "exported symbols: $(wc -l < "$OUT/exports.txt") ($(grep -vc '^int4train_' "$OUT/exports.txt") not int4train_*)"
echo "== SASS tensor-core instructions =="
cuobjdump --dump-sass build/native/libint4train.so 2>/dev/null | grep -oE '\b(IGMMA|HGMMA|QGMMA|IMMA|HMMA)[.A-Z0-9_]*' | sort | uniq -c | tee "$OUT/sass.txt"
echo "== selftest =="
build/native/int4train_selftest 2>&1 | tee "$OUT/selftest.log" | grep -E "FAIL|passed|device|TOPS|workspace|timing"
echo "== selftest --quick with the portable fallback GEMM (INT4TRAIN_FORCE_FALLBACK_GEMM=1) =="
INT4TRAIN_FORCE_FALLBACK_GEMM=1 build/native/int4train_selftest --quick > "$OUT/selftest_fallback.log" 2>&1
echo "exit $?"; grep -E "FAIL|passed" "$OUT/selftest_fallback.log"
echo "== selftest --quick under compute-sanitizer memcheck =="
compute-sanitizer --tool memcheck --leak-check full --error-exitcode 9 build/native/int4train_selftest --quick > "$OUT/sanitizer.log" 2>&1
echo "sanitizer exit code $?"
grep -E "ERROR SUMMARY|LEAK SUMMARY|passed" "$OUT/sanitizer.log" | tail -3
grep -m5 -E "Invalid|error" "$OUT/sanitizer.log"
