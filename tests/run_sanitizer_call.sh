#!/usr/bin/env bash
# run_sanitizer_call.sh — one device call of tests/run_sanitizers.sh, sized to the call: on the GPU machine (no .NET
# SDK, no network), from a checkout carrying stage/ (./build.sh stage-gpu) and CUTLASS (.carry/cutlass.tar.xz) or an
# earlier call's library (.carry/libint4train.so.xz, which skips the ~2 min build). Every run is given the call's time
# left (SANITIZER_DEADLINE_S), so the logs come back before the call's limit. The SANITIZER_* settings pass through
# (see run_sanitizers.sh); e.g. the GPT's racecheck, three runs at once:
#   SANITIZER_TOOLS=racecheck SANITIZER_DONE=tests/results/sanitizer-done.tsv SANITIZER_CASES_PER_RUN=3 \
#   SANITIZER_JOBS=3 SANITIZER_PARTS="gpt-memory gpt-graph-replay" CALL_S=540 bash tests/run_sanitizer_call.sh
# Back in $OUT: summary.txt and done.tsv (append it to tests/results/sanitizer-done.tsv), logs.tgz (every run's log,
# the timeline and nvidia-smi's utilisation samples: racecheck is bound by the GPU), and libint4train.so.xz when this
# call built the library.
#   CALL_S=540     seconds from this script's start by which everything is packed (the device call's limit less ~60)
set -uo pipefail
START=$SECONDS
OUT=${OUT:-$PWD/sanitizer-call}; mkdir -p "$OUT"
LOGS=$(mktemp -d)/logs; mkdir -p "$LOGS"  # outside $OUT: what comes back from a device call is a few files
mark() { echo "$(date -u +%T) +$((SECONDS - START)) s: $*" >> "$LOGS/timeline.txt"; }
trap 'tar -czf "$OUT/logs.tgz" -C "$LOGS/.." logs' EXIT  # whatever happens, the logs come back
. perf/device_env.sh
use_staged_dotnet
if [ -f .carry/libint4train.so.xz ]; then
  mkdir -p build/native && xz -dc .carry/libint4train.so.xz > build/native/libint4train.so
  mark "the carried library unpacked"
else
  use_carried_cutlass
  ./build.sh native > "$LOGS/build.log" 2>&1 || { mark "build failed"; tail -30 "$LOGS/build.log"; exit 1; }
  xz -T0 -3 -c build/native/libint4train.so > "$OUT/libint4train.so.xz"
  mark "built (libint4train.so.xz returned for the next calls)"
fi
nvidia-smi dmon -s u -d 2 > "$LOGS/dmon.txt" 2>&1 &
DMON=$!
# 20 s to pack; run_sanitizers.sh counts its deadline from its own start
export SANITIZER_DEADLINE_S=$(( ${CALL_S:-540} - (SECONDS - START) - 20 ))
mark "run_sanitizers.sh with SANITIZER_DEADLINE_S=$SANITIZER_DEADLINE_S"
OUT="$LOGS/runs" bash tests/run_sanitizers.sh > "$LOGS/run_sanitizers.out" 2>&1
mark "run_sanitizers.sh exit $?"
kill "$DMON" 2>/dev/null
cp "$LOGS/runs/summary.txt" "$LOGS/runs/done.tsv" "$OUT/" 2>/dev/null
cat "$OUT/summary.txt" 2>/dev/null
