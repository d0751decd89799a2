#!/usr/bin/env bash
# run_gpu_fuzz.sh — the 1,000-case GPU fuzz of the layer (tests/Int4Train.Tests/Gpu/NativeFuzzTests.cs) in PARTS
# processes at once (default 4; the ILGPU CPU reference is the slow side, ~0.4 s a case), seeds 1..CASES split
# evenly. Expects build/native and stage/tests. Logs and summary.txt go to ${OUT:-./fuzz-logs}.
set -uo pipefail
OUT=${OUT:-$PWD/fuzz-logs}; mkdir -p "$OUT"
CASES=${CASES:-1000}; PARTS=${PARTS:-4}
export INT4TRAIN_NATIVE_DIR=${INT4TRAIN_NATIVE_DIR:-$PWD/build/native} INT4TRAIN_REQUIRE_GPU=1
per=$(( (CASES + PARTS - 1) / PARTS ))
for ((p = 0; p < PARTS; p++)); do
  first=$((1 + p * per)); count=$per; [ $((first + count - 1)) -gt "$CASES" ] && count=$((CASES - first + 1))
  ( INT4TRAIN_FUZZ_SEED=$first INT4TRAIN_FUZZ_CASES=$count timeout "${FUZZ_TIMEOUT_S:-540}" \
      dotnet stage/tests/Int4Train.Tests.dll --filter "FullyQualifiedName~NativeFuzzTests" > "$OUT/fuzz-$first.log" 2>&1
    echo "seeds $first..$((first + count - 1)): exit $? | $(grep -E "succeeded:|failed:|duration:" "$OUT/fuzz-$first.log" | tr -s ' ' | tr '\n' ' ')" > "$OUT/fuzz-$first.summary" ) &
done
wait
cat "$OUT"/fuzz-*.summary > "$OUT/summary.txt"; rm -f "$OUT"/fuzz-*.summary
grep -h -A3 "^failed" "$OUT"/fuzz-*.log >> "$OUT/summary.txt"
cat "$OUT/summary.txt"
