#!/usr/bin/env bash
# run_gpu_suite.sh — the GPU runner job of issue "native library": on a machine with a GPU, nvcc and only the
# .NET runtime, from a checkout carrying stage/ (./build.sh stage-gpu) and CUTLASS (submodule or
# .carry/cutlass.tar.xz): build native/, run the whole suite with the GPU tests required, then the GPU tests once
# under compute-sanitizer memcheck and racecheck. Logs and a summary go to ${OUT:-./gpu-logs}.
set -uo pipefail
OUT=${OUT:-$PWD/gpu-logs}; mkdir -p "$OUT"
. perf/device_env.sh
use_staged_dotnet
use_carried_cutlass
{ date -u +%FT%TZ; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; nvcc --version | tail -1; dotnet --list-runtimes; } > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"
echo "== ./build.sh gpu-test =="
./build.sh gpu-test 2>&1 | tee "$OUT/gpu-test.log" | grep -E "^(failed|skipped) |passed, .* failed|error" | head -60
TESTS="dotnet stage/tests/Int4Train.Tests.dll --filter TestCategory=gpu"
export INT4TRAIN_NATIVE_DIR=$PWD/build/native INT4TRAIN_REQUIRE_GPU=1
echo "== the reference tests on ILGPU's CUDA accelerator (INT4TRAIN_REFERENCE_CUDA=1) =="
INT4TRAIN_REFERENCE_CUDA=1 dotnet stage/tests/Int4Train.Tests.dll --filter "TestCategory!=gpu" > "$OUT/reference-on-cuda.log" 2>&1
echo "exit code $?"; grep -E "^failed |total:|failed:|succeeded:|skipped:" "$OUT/reference-on-cuda.log" | head -20
for tool in memcheck racecheck; do
  echo "== compute-sanitizer --tool $tool (GPU tests) =="
  timeout 240 compute-sanitizer --tool $tool --target-processes all --error-exitcode 9 $TESTS > "$OUT/sanitizer-$tool.log" 2>&1
  echo "exit code $?"
  grep -E "ERROR SUMMARY|RACECHECK SUMMARY|total:|failed:|succeeded:" "$OUT/sanitizer-$tool.log" | tail -6
done
