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
#   SANITIZER_BACKGROUND_S=1600
#                  run run_sanitizers.sh in a process session of its own (setsid), from a copy of what it needs in
#                  /tmp/int4train-sanitizers, for this many seconds: it goes on after the call returns, as long as the
#                  machine is held (a next call within the 30 s it stays warm), so a call's end cuts off no case. This
#                  call and each later one with the setting wait for it until CALL_S and bring back what it has so far
#                  (done.tsv from the logs, SANITIZER_COLLECT); a later call starts nothing while it runs, nor after it
#                  ended (state.txt says which). On 2026-12-02 (thirteenth session) three calls of 1,550 s
#                  in all so finished 25 GPT cases under racecheck, 4 runs at once; none was lost to a call's end.
set -uo pipefail
START=$SECONDS
OUT=${OUT:-$PWD/sanitizer-call}; mkdir -p "$OUT"
LOGS=$(mktemp -d)/logs; mkdir -p "$LOGS"  # outside $OUT: what comes back from a device call is a few files
mark() { echo "$(date -u +%T) +$((SECONDS - START)) s: $*" >> "$LOGS/timeline.txt"; }
trap 'tar -czf "$OUT/logs.tgz" -C "$LOGS/.." logs' EXIT  # whatever happens, the logs come back
nvidia-smi dmon -s u -d 2 > "$LOGS/dmon.txt" 2>&1 &
DMON=$!
. perf/device_env.sh
# build/native/libint4train.so: the carried one, or built here (and returned, compressed, for the next calls)
library_ready() {
  if [ -f .carry/libint4train.so.xz ]; then
    mkdir -p build/native && xz -dc .carry/libint4train.so.xz > build/native/libint4train.so
    mark "the carried library unpacked"
  else
    use_carried_cutlass
    ./build.sh native > "$LOGS/build.log" 2>&1 || { mark "build failed"; tail -30 "$LOGS/build.log"; exit 1; }
    xz -T0 -3 -c build/native/libint4train.so > "$OUT/libint4train.so.xz"
    mark "built (libint4train.so.xz returned for the next calls)"
  fi
}
# the summary and done.tsv of run_sanitizers.sh's folder $1 into $OUT, the summary printed
bring_back() {
  kill "$DMON" 2>/dev/null
  cp "$1/summary.txt" "$1/done.tsv" "$OUT/" 2>/dev/null
  cat "$OUT/summary.txt" 2>/dev/null
}
BG=/tmp/int4train-sanitizers
if [ -n "${SANITIZER_BACKGROUND_S:-}" ]; then
  if [ -f "$BG/pid" ] && kill -0 "$(cat "$BG/pid")" 2>/dev/null; then
    mark "the background run (pid $(cat "$BG/pid")) is still going: waiting for it"
  elif [ -f "$BG/pid" ]; then
    mark "the background run has ended: its results again"
  else
    # a fresh machine (the one that ran the earlier calls went back): this call starts a new run, from what it carries
    if [ ! -f stage/dotnet-runtime.tar.xz ]; then
      mark "no background run here and no stage/ to start one"
      echo "no background run here and no stage/ to start one: carry stage (./build.sh stage-gpu)" >&2; exit 1
    fi
    # a copy of what the run reads: a later call's working tree replaces stage/ and build/ under a running program
    # (a runtime unpacked twice under a running program crashed it, 2026-12-01), and /tmp/dotnet is the jobs'
    mkdir -p "$BG/repo/tests/results" "$BG/repo/build/native" "$BG/dotnet"
    cp -a stage "$BG/repo/" && cp tests/run_sanitizers.sh "$BG/repo/tests/" && cp -a tests/results/sanitizer-done.tsv "$BG/repo/tests/results/"
    tar -xJf stage/dotnet-runtime.tar.xz -C "$BG/dotnet"
    library_ready && cp build/native/libint4train.so "$BG/repo/build/native/"
    # the run writes its own pid (the call waits on it) before it becomes run_sanitizers.sh
    (cd "$BG/repo" && DOTNET_ROOT="$BG/dotnet" PATH="$BG/dotnet:$PATH" OUT="$BG/runs" \
      SANITIZER_DEADLINE_S="$SANITIZER_BACKGROUND_S" SANITIZER_TIMEOUT_S="$SANITIZER_BACKGROUND_S" \
      setsid bash -c 'echo $$ > "$0"; exec bash tests/run_sanitizers.sh' "$BG/pid" > "$BG/run_sanitizers.out" 2>&1 < /dev/null &)
    for _ in $(seq 50); do [ -s "$BG/pid" ] && break; sleep 0.1; done
    mark "run_sanitizers.sh started in the background for $SANITIZER_BACKGROUND_S s (pid $(cat "$BG/pid"))"
  fi
  PID=$(cat "$BG/pid")
  while kill -0 "$PID" 2>/dev/null && [ $((SECONDS - START)) -lt $((${CALL_S:-540} - 20)) ]; do sleep 5; done
  if kill -0 "$PID" 2>/dev/null; then echo "running" > "$OUT/state.txt"; else echo "ended" > "$OUT/state.txt"; fi
  (cd "$BG/repo" && OUT="$BG/runs" SANITIZER_COLLECT=1 bash tests/run_sanitizers.sh)
  mark "background run $(cat "$OUT/state.txt"); $(wc -l < "$BG/runs/done.tsv") cases done so far"
  cp -r "$BG/runs" "$BG/run_sanitizers.out" "$LOGS/" 2>/dev/null
  cat "$OUT/state.txt"
  bring_back "$BG/runs"
  exit 0
fi
use_staged_dotnet
library_ready
# 20 s to pack; run_sanitizers.sh counts its deadline from its own start
export SANITIZER_DEADLINE_S=$(( ${CALL_S:-540} - (SECONDS - START) - 20 ))
mark "run_sanitizers.sh with SANITIZER_DEADLINE_S=$SANITIZER_DEADLINE_S"
OUT="$LOGS/runs" bash tests/run_sanitizers.sh > "$LOGS/run_sanitizers.out" 2>&1
mark "run_sanitizers.sh exit $?"
bring_back "$LOGS/runs"
