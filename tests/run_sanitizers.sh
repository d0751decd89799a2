#!/usr/bin/env bash
# run_sanitizers.sh — compute-sanitizer's four tools (memcheck, racecheck, initcheck, synccheck) over the native
# self-test (--quick) and over the whole GPU suite of the .NET tests (the device GPT included), the suite split into
# parts so that each tool/part pair finishes inside one device call. Expects build/native (./build.sh native) and the
# staged test program (stage/tests, ./build.sh stage-gpu); TESTS overrides the test command.
#   SANITIZER_TOOLS="memcheck racecheck"  the tools (default: all four)
#   SANITIZER_PARTS="selftest ops"        the parts (default: all; see filter_of; test:NAME = the tests whose name
#                                         contains NAME; selftest:GROUP[,GROUP] = those self-test groups alone,
#                                         int4train_selftest --quick --only: racecheck of the whole self-test runs
#                                         past a device call)
#   SANITIZER_JOBS=8                      how many tool/part runs at once (default 1: one after another). The
#                                         GPT parts run the ILGPU CPU reference: 36 runs at once on 16 cores (H200,
#                                         2026-12-01) starved them and cut four parts off; keep it near the core count
#                                         and give each call a few parts (SANITIZER_PARTS). Keep trainings off
#                                         the GPU meanwhile: beside 6 of them every GPT run crawled (a 0.1 s test
#                                         took 75 s under memcheck), while 17 small test:NAME runs alone on the GPU
#                                         finished in 140-210 s (H200, 2026-12-02)
#   SANITIZER_TIMEOUT_S=480               the limit of each run
#   SANITIZER_DEADLINE_S=500              the limit of the whole script, counted from its start: a run started late (a
#                                         wave after the first) gets only the time left, and a run that would get less
#                                         than 30 s is not started ("not started" in summary.txt), so a device call can
#                                         queue more runs than fit and still return its logs in time
#   SANITIZER_RACECHECK_SKIP_VENDOR=1     leave cuBLAS's own kernels (nvjet*, *xmma*) out of racecheck, by name
#                                         (default: every kernel is checked). Do not use it with compute-sanitizer
#                                         2025.3.1 on the GPT: there every run whose cases ran a BF16 linear
#                                         (cuBLAS's nvjet GEMMs) ended in "Internal Sanitizer Error: The Sanitizer
#                                         failed to handle a hardware exception" and a dead context, 9 of 12 runs,
#                                         0 hazards reported (H200, 2026-12-02, twelfth session); the same cases are
#                                         clean under racecheck with the kernels instrumented (eleventh session)
#   SANITIZER_SHARDS=4                    run each test part as this many runs side by side (default 1): its cases
#                                         (the test program's --list-tests on the part's filter) dealt round robin,
#                                         each run's filter naming its cases, "(PART'S FILTER)&(Name=CASE|...)"; the
#                                         runs are PART#1..#N. For a part too long for one call: every run pays the
#                                         tool's start (on the H200 the first GPT test of a process took 30-60 s
#                                         under memcheck/initcheck/synccheck, 60-120 s under racecheck; the next
#                                         ones a few seconds), so shard the long parts only
#   SANITIZER_CASES_PER_RUN=6             instead of a number of shards, a run per this many cases of a part (a part
#                                         of n cases in ceil(n/6) runs, one run if n <= 6): parts of 3 to 18 cases
#                                         then make runs of similar length, and SANITIZER_JOBS near their count
#                                         runs them in one wave
#   SANITIZER_DONE=FILE                   leave out the cases FILE lists as clean (lines TOOL<TAB>PART<TAB>CASE, CASE
#                                         the display name --list-tests prints): a later call runs only what an
#                                         earlier one cut off (tests/results/sanitizer-done.tsv); each tool then
#                                         has its own runs, and a part with every case clean under a tool none
#   SANITIZER_COLLECT=1                   write done.tsv anew from the logs in $OUT of a script run still going on
#                                         (the runs it started so far, in $OUT/runs.tsv) and exit
#   SANITIZER_LIST=1                      print each part of SANITIZER_PARTS with its test filter (tab-separated;
#                                         "-" for the self-test) and exit: SanitizerPartsTests checks that the
#                                         default parts cover every GPU test; with SANITIZER_DONE, TOOL:PART
# The GPU fuzz runs 20 cases under a sanitizer (INT4TRAIN_FUZZ_CASES; its 1,000 cases run without one).
# Logs and summary.txt go to ${OUT:-./sanitizer-logs}; a run that hits its limit says "cut off" there; done.tsv there
# lists the cases that finished with no report (SANITIZER_DONE's format: append it to tests/results/sanitizer-done.tsv).
set -uo pipefail
OUT=${OUT:-$PWD/sanitizer-logs}; mkdir -p "$OUT"
# The cases a run finished with no report of its tool, as SANITIZER_DONE lines in $OUT/done.tsv, so that a later
# call leaves them out. A run whose log holds any line of the tool's other than its banner, its zero summaries and its
# note on a process stopped by the limit gives none (wherever in the log that line is); a cut-off run's finished cases
# count, as a case prints "passed" only after its kernels have ended, and the tool reports a hazard or an error when
# the kernel that made it ends.
record_done() {  # tool part log
  [ -f "$3" ] || return 0  # listed in runs.tsv, its tool not started yet
  local quiet='^========= (COMPUTE-SANITIZER|ERROR SUMMARY: 0 errors|RACECHECK SUMMARY: 0 hazards|LEAK SUMMARY: 0 bytes|Error: process didn.t terminate successfully|Target application returned an error)'
  grep -E '^=========' "$3" | grep -qvE "$quiet" && return
  # the test program's --output Detailed: "passed NAME (DURATION)", DURATION as "4m 12s 078ms" or "14ms"
  sed -nE 's/^passed (.*) \([0-9][0-9hms ]*\)$/\1/p' "$3" | awk -v OFS='\t' -v tool="$1" -v part="$2" '{ print tool, part, $0 }' >> "$OUT/done.tsv"
}

# SANITIZER_COLLECT=1: done.tsv again from the logs of the runs started so far (runs.tsv), those still running
# included, and exit: a look at a script run that goes on in the background (run_sanitizer_call.sh), before anything
# below (the tool's --help, the case lists of that run in $OUT) is touched
if [ "${SANITIZER_COLLECT:-0}" = 1 ]; then
  : > "$OUT/done.tsv"
  [ -f "$OUT/runs.tsv" ] && while IFS=$'\t' read -r tool part log; do record_done "$tool" "$part" "$log"; done < "$OUT/runs.tsv"
  exit 0
fi
rm -f "$OUT"/.cases-*  # this run's case lists (cases_of_part)
# --output Detailed: a "passed NAME" line per case, so a run cut off still names the cases it finished (sanitizer-done.tsv)
TESTS=${TESTS:-"dotnet stage/tests/Int4Train.Tests.dll --output Detailed"}
export INT4TRAIN_NATIVE_DIR=${INT4TRAIN_NATIVE_DIR:-$PWD/build/native} INT4TRAIN_REQUIRE_GPU=1
export INT4TRAIN_FUZZ_CASES=${INT4TRAIN_FUZZ_CASES:-20}
TOOLS=${SANITIZER_TOOLS:-"memcheck racecheck initcheck synccheck"}
PARTS=${SANITIZER_PARTS:-"selftest ops gpt-fp32 gpt-lowprec gpt-resume gpt-misc gpt-graph-replay gpt-graph-passes gpt-graph-shape gpt-accumulation gpt-attention gpt-bf16 gpt-layout gpt-memory gpt-ablation gpt-smoothing"}
JOBS=${SANITIZER_JOBS:-1}
# The tool's options, read once into a variable: under pipefail, `compute-sanitizer --help | grep -q` fails whenever
# grep stops reading before the tool has written everything (SIGPIPE), which on the H200 (2026-12-02) dropped the
# racecheck exclusion below from one call and kept it in the next.
HELP=$(compute-sanitizer --help 2>/dev/null)
# NVTX marks tell initcheck what the SM90 GEMMs' TMA stores wrote (native/src/runtime/tool_marks.cuh)
NVTX=""; grep -q -- "--nvtx" <<< "$HELP" && NVTX="--nvtx yes"
# kns = a substring of the kernel's name (compute-sanitizer --help: --kernel-name-exclude key=val); read from --help
# so that a tool version without the option runs everything rather than failing. Opt-in only (see the header).
VENDOR_EXCLUDE=""
if [ "${SANITIZER_RACECHECK_SKIP_VENDOR:-0}" = 1 ] && grep -q -- "--kernel-name-exclude" <<< "$HELP"; then
  VENDOR_EXCLUDE="--kernel-name-exclude kns=nvjet --kernel-name-exclude kns=xmma"
fi

filter_of() {  # the GPU suite in parts of similar cost (the device GPT's tests are the slow ones under the tools)
  local D="FullyQualifiedName~DeviceGptTests." G="FullyQualifiedName~DeviceGptGraphTests."
  case "$1" in
    ops) echo "TestCategory=gpu&FullyQualifiedName!~DeviceGpt" ;;
    gpt-fp32) echo "${D}Fp32" ;;
    gpt-lowprec) echo "${D}LowPrecision" ;;
    gpt-resume) echo "${D}Resume|${D}Checkpoint" ;;
    gpt-misc) echo "${D}Reinit|${D}NextToken|${D}BadInput|${D}AnInt4ClassSubset|${D}StepSizeLrScale" ;;
    # gpt-graph and gpt-other did not finish under any tool in 370-500 s on the H200 (2026-12-01), 15 runs at once:
    # the finer parts below are what one device call can finish; the two names stay as their unions.
    gpt-graph) echo "FullyQualifiedName~DeviceGptGraphTests" ;;
    gpt-graph-replay) echo "${G}ReplayedSteps|${G}QueuedSteps" ;;
    gpt-graph-passes) echo "${G}MicroBatches|${G}MorePasses" ;;
    gpt-graph-shape) echo "FullyQualifiedName~DeviceGptGraphTests&FullyQualifiedName!~ReplayedSteps&FullyQualifiedName!~QueuedSteps&FullyQualifiedName!~MicroBatches&FullyQualifiedName!~MorePasses" ;;
    gpt-other) echo "FullyQualifiedName~DeviceGpt&FullyQualifiedName!~DeviceGptTests&FullyQualifiedName!~DeviceGptGraphTests" ;;
    gpt-accumulation) echo "FullyQualifiedName~DeviceGptAccumulationTests" ;;
    gpt-attention) echo "FullyQualifiedName~DeviceGptAttentionTests" ;;
    gpt-bf16) echo "FullyQualifiedName~DeviceGptBf16Tests" ;;
    gpt-layout) echo "FullyQualifiedName~DeviceGptLayoutTests" ;;
    gpt-memory) echo "FullyQualifiedName~DeviceGptMemoryTests" ;;
    gpt-ablation) echo "FullyQualifiedName~DeviceGptAblationTests" ;;
    gpt-smoothing) echo "FullyQualifiedName~DeviceGptSmoothingTests" ;;
    # any finer part: test:NAME runs the tests whose full name contains NAME (e.g. test:DeviceGptAttentionTests.Fused,
    # test:DeviceGptGraphTests.ReplayedSteps): racecheck needs parts this small to finish the GPT in one device call
    test:?*) echo "FullyQualifiedName~${1#test:}" ;;
    *) echo "unknown part $1" >&2; return 1 ;;
  esac
}

# The display names of the tests a filter selects, one a line (the test program's --list-tests).
list_cases() {
  # shellcheck disable=SC2086
  $TESTS --list-tests --filter "$1" 2>/dev/null |
    awk '/Test discovery complete/ { on = 1; next } /Test discovery summary/ { on = 0 } on && /^  [^ ]/ { sub(/^  /, ""); print }'
}
# A part's cases, listed once a script run: with SANITIZER_DONE each tool's runs ask for them again, and every
# --list-tests costs a start of the test program (seconds of device time each).
cases_of_part() {  # part filter
  local cache="$OUT/.cases-${1//[^A-Za-z0-9._-]/_}"
  [ -f "$cache" ] || list_cases "$2" > "$cache"
  cat "$cache"
}
# A value inside a test filter: the syntax's operators and parentheses taken literally (a case's display name has
# parentheses, commas, quotes, '=' ...).
filter_value() { sed -e 's/[\\()&|=!~]/\\&/g'; }

# The case names on stdin less those SANITIZER_DONE lists as clean under TOOL in PART (its lines: TOOL<TAB>PART<TAB>CASE,
# the display name as --list-tests prints it; other lines, e.g. comments, match nothing).
drop_done() {  # TOOL PART
  if [ -z "$1" ] || [ -z "${SANITIZER_DONE:-}" ]; then cat; return; fi
  awk -F'\t' -v tool="$1" -v part="$2" 'NR == FNR { if ($1 == tool && $2 == part) done[$3] = 1; next } !($0 in done)' \
    "$SANITIZER_DONE" -
}

# The runs of SANITIZER_PARTS, one a line: NAME<TAB>FILTER ("-" for the self-test); a test part in SHARDS runs when
# SANITIZER_SHARDS > 1 or SANITIZER_CASES_PER_RUN (see the header), an empty shard left out. With a TOOL (given when
# SANITIZER_DONE is set) the part's cases that file lists as clean under TOOL are left out, and a part with none left
# makes no run.
runs_of_parts() {  # [TOOL]
  local tool=${1:-} part filter shards per=${SANITIZER_CASES_PER_RUN:-0} k listed cases
  for part in $PARTS; do
    case "$part" in selftest|selftest:?*) printf '%s\t-\n' "$part"; continue ;; esac
    filter=$(filter_of "$part") || return 2
    shards=${SANITIZER_SHARDS:-1}
    if [ "$shards" -le 1 ] && [ "$per" -le 0 ] && [ -z "$tool" ]; then printf '%s\t%s\n' "$part" "$filter"; continue; fi
    mapfile -t listed < <(cases_of_part "$part" "$filter")
    if [ "${#listed[@]}" -eq 0 ]; then echo "part $part: its filter selects no test ($filter; the cases listed by: $TESTS --list-tests)" >&2; return 2; fi
    mapfile -t cases < <(printf '%s\n' "${listed[@]}" | drop_done "$tool" "$part")
    if [ "${#cases[@]}" -eq 0 ]; then echo "part $part under $tool: every case is clean in $SANITIZER_DONE, no run" >&2; continue; fi
    [ "$per" -gt 0 ] && shards=$(( (${#cases[@]} + per - 1) / per ))
    if [ "$shards" -le 1 ] && [ "${#cases[@]}" -eq "${#listed[@]}" ]; then printf '%s\t%s\n' "$part" "$filter"; continue; fi
    [ "$shards" -lt 1 ] && shards=1
    for ((k = 0; k < shards && k < ${#cases[@]}; k++)); do
      local i names="" name=$part
      for ((i = k; i < ${#cases[@]}; i += shards)); do
        names+="${names:+|}Name=$(printf '%s' "${cases[$i]}" | filter_value)"
      done
      [ "$shards" -gt 1 ] && name="$part#$((k + 1))"
      printf '%s\t(%s)&(%s)\n' "$name" "$filter" "$names"
    done
  done
}

# Every run of every tool, one a line: TOOL<TAB>NAME<TAB>FILTER; without SANITIZER_DONE the tools of one part follow
# each other (the parts' runs are the same for every tool), with it each tool has its own runs.
runs_of_tools() {
  local tool runs name filter
  if [ -z "${SANITIZER_DONE:-}" ]; then
    runs=$(runs_of_parts) || return 2
    while IFS=$'\t' read -r name filter; do
      [ -z "$name" ] && continue
      for tool in $TOOLS; do printf '%s\t%s\t%s\n' "$tool" "$name" "$filter"; done
    done <<< "$runs"
    return 0
  fi
  [ -f "$SANITIZER_DONE" ] || { echo "SANITIZER_DONE: no file $SANITIZER_DONE" >&2; return 2; }
  for tool in $TOOLS; do
    runs=$(runs_of_parts "$tool") || return 2
    [ -z "$runs" ] && continue
    while IFS=$'\t' read -r name filter; do printf '%s\t%s\t%s\n' "$tool" "$name" "$filter"; done <<< "$runs"
  done
}

# The limit of a run started now: SANITIZER_TIMEOUT_S, or less where SANITIZER_DEADLINE_S leaves less.
limit_now() {
  local limit=${SANITIZER_TIMEOUT_S:-480}
  if [ -n "${SANITIZER_DEADLINE_S:-}" ] && [ $((SANITIZER_DEADLINE_S - SECONDS)) -lt "$limit" ]; then
    limit=$((SANITIZER_DEADLINE_S - SECONDS))
  fi
  echo "$limit"
}

run_one() {  # tool part filter ("-": the self-test)
  local tool=$1 part=$2 filter=$3 log="$OUT/${2//[^A-Za-z0-9._-]/_}-$1.log" extra="" start=$SECONDS limit
  limit=$(limit_now)
  if [ "$limit" -lt 30 ]; then echo "$part under $tool: not started (SANITIZER_DEADLINE_S: ${limit} s left) | |" >> "$OUT/summary.txt"; return; fi
  printf '%s\t%s\t%s\n' "$tool" "${part%#*}" "$log" >> "$OUT/runs.tsv"  # for SANITIZER_COLLECT
  [ "$tool" = memcheck ] && extra="--leak-check full"
  [ "$tool" = racecheck ] && extra="$VENDOR_EXCLUDE"
  if [ "$part" = selftest ] || [[ "$part" == selftest:?* ]]; then
    local only=(); [ "$part" != selftest ] && only=(--only "${part#selftest:}")
    # shellcheck disable=SC2086
    timeout "$limit" compute-sanitizer --tool "$tool" $extra $NVTX --error-exitcode 9 \
      build/native/int4train_selftest --quick "${only[@]}" > "$log" 2>&1
  else
    # shellcheck disable=SC2086
    timeout "$limit" compute-sanitizer --tool "$tool" $extra $NVTX --target-processes all \
      --error-exitcode 9 $TESTS --filter "$filter" > "$log" 2>&1
  fi
  local rc=$? verdict
  # timeout's SIGTERM can reach the test program through compute-sanitizer, which then reports "process didn't
  # terminate successfully" and exits with --error-exitcode (9), not 124: a run that lasted its whole limit was cut off
  # (seen on the H200, 2026-12-02: a racecheck run cut off at its limit read "ERRORS" with 0 hazards)
  [ "$rc" -ne 0 ] && [ $((SECONDS - start)) -ge "$limit" ] && rc=124
  case $rc in 0) verdict="clean" ;; 124) verdict="cut off at $limit s" ;; 9) verdict="ERRORS" ;; *) verdict="exit $rc" ;; esac
  [ "$tool" = racecheck ] && [ -n "$VENDOR_EXCLUDE" ] && verdict="$verdict (cuBLAS kernels excluded)"
  echo "$part under $tool: $verdict | $(grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$log" | tail -1 | sed 's/=* *//') | $(grep -E "passed, .*failed|total:|succeeded:|failed:" "$log" | tr -s ' ' | tr '\n' ' ')" >> "$OUT/summary.txt"
  record_done "$tool" "${part%#*}" "$log"
}

RUNS=$(runs_of_tools) || exit 2
if [ "${SANITIZER_LIST:-0}" = 1 ]; then
  # NAME<TAB>FILTER, once a run (the same for every tool); with SANITIZER_DONE, TOOL:NAME<TAB>FILTER
  if [ -n "${SANITIZER_DONE:-}" ]; then awk -F'\t' -v OFS='\t' '$0 != "" { print $1 ":" $2, $3 }' <<< "$RUNS"
  else awk -F'\t' -v OFS='\t' '$0 != "" && !seen[$2]++ { print $2, $3 }' <<< "$RUNS"; fi
  exit 0
fi

: > "$OUT/summary.txt"; : > "$OUT/done.tsv"; : > "$OUT/runs.tsv"
running=0
while IFS=$'\t' read -r tool part filter; do
  [ -z "$tool" ] && continue
  run_one "$tool" "$part" "$filter" &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then wait -n; running=$((running - 1)); fi
done <<< "$RUNS"
wait
sort "$OUT/summary.txt" -o "$OUT/summary.txt"
cat "$OUT/summary.txt"
