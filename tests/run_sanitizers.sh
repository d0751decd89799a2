#!/usr/bin/env bash
# run_sanitizers.sh — compute-sanitizer's four tools (memcheck, racecheck, initcheck, synccheck) over the native
# self-test (--quick) and, with memcheck, over the GPU tests of the .NET suite. Expects build/native (./build.sh native)
# and a test program (dotnet stage/tests/Int4Train.Tests.dll, or set TESTS; SANITIZE_GPU_TESTS=0 skips it).
# Summaries to ${OUT:-./sanitizer-logs}.
set -uo pipefail
OUT=${OUT:-$PWD/sanitizer-logs}; mkdir -p "$OUT"
TESTS=${TESTS:-"dotnet stage/tests/Int4Train.Tests.dll --filter TestCategory=gpu"}
export INT4TRAIN_NATIVE_DIR=${INT4TRAIN_NATIVE_DIR:-$PWD/build/native} INT4TRAIN_REQUIRE_GPU=1
export INT4TRAIN_FUZZ_CASES=${INT4TRAIN_FUZZ_CASES:-20}  # the 1,000-case GPU fuzz is far too slow under a sanitizer
for tool in memcheck racecheck initcheck synccheck; do
  extra=""; [ "$tool" = memcheck ] && extra="--leak-check full"
  timeout "${SANITIZER_TIMEOUT_S:-240}" compute-sanitizer --tool "$tool" $extra --error-exitcode 9 \
    build/native/int4train_selftest --quick > "$OUT/selftest-$tool.log" 2>&1
  echo "selftest --quick under $tool: exit $? | $(grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$OUT/selftest-$tool.log" | tail -1) | $(grep -E "passed, " "$OUT/selftest-$tool.log" | tail -1)"
done
[ "${SANITIZE_GPU_TESTS:-1}" = 1 ] || exit 0
timeout "${SANITIZER_TIMEOUT_S:-240}" compute-sanitizer --tool memcheck --target-processes all --error-exitcode 9 $TESTS \
  > "$OUT/gpu-tests-memcheck.log" 2>&1
echo "GPU tests under memcheck: exit $? | $(grep -E "ERROR SUMMARY" "$OUT/gpu-tests-memcheck.log" | tail -1) | $(grep -E "succeeded:|failed:" "$OUT/gpu-tests-memcheck.log" | tr -s ' ' | tr '\n' ' ')"
