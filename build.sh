#!/usr/bin/env bash
# Int4Train build entry point. Verbs (same as build.ps1):
#   build      build the .NET solution (no CUDA needed)
#   test       what CI runs: build the solution (perf/ included), the CPU test suite, then the package checks
#              (pack, the sample project on the packages, the int4train tool installed from them, build.ps1 under
#              PowerShell); ends with "N passed, N failed, N skipped", each package check counted as one test
#   pack       NuGet packages into artifacts/packages (Int4Train carries build/native/libint4train.so when present)
#   native     CMake build of native/ into build/ (needs nvcc; fetches the CUTLASS submodule when it is missing)
#   gpu-test   build native/ and run the whole suite with the GPU tests enabled (from a staged folder when
#              this machine has only the .NET runtime: see stage-gpu)
#   stage-gpu  publish the test, CLI and bench programs plus a .NET runtime archive into stage/ for a GPU runner
#   bench      kernel benchmarks (perf/), needs a GPU
#   demo       the main job: a short GPT training with INT4 matmuls (tiny preset, built-in text; CPU reference
#              path when there is no GPU); extra arguments go to `int4train demo` (train options)
#   layer-demo one INT4 linear layer forward and backward; extra arguments go to `int4train layer-demo`
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"
CONFIG="${CONFIG:-Release}"
STAGE="${STAGE:-$ROOT/stage}"
PACKAGES="$ROOT/artifacts/packages"
CUTLASS_SUBMODULE=native/third_party/cutlass
VERSION="$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' Directory.Build.props | head -1)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

have_sdk() { command -v dotnet >/dev/null 2>&1 && dotnet --list-sdks 2>/dev/null | grep -q .; }

# Test-runner output with the skipped tests collapsed: the first test skipped for a reason is shown with it on one
# line, later ones with the same reason only counted (on a CPU machine every GPU test is skipped for one reason, and
# six lines each would bury the real results). Everything else passes through unchanged.
collapse_skips() {
  awk '
    function flush() { if (name != "") { if (!(reason in seen)) { order[++n] = reason; first[reason] = name
                                                                  print name ": " reason; fflush() }
                                         seen[reason]++ } name = ""; reason = "" }
    /^skipped / { flush(); name = $0; next }
    name != "" && /^ / { if (reason == "") { reason = $0; sub(/^ +/, "", reason) } next }
    { flush(); print; fflush() }
    END { flush(); for (i = 1; i <= n; i++) if (seen[order[i]] > 1)
            print "(" seen[order[i]] - 1 " more tests skipped for the reason of " substr(first[order[i]], 9) ")" }'
}

# Reads the Microsoft.Testing.Platform summary from a log into TESTS_PASSED/FAILED/SKIPPED.
read_summary() {
  TESTS_PASSED=$(grep -E '^\s*succeeded:\s*[0-9]+' "$1" | tail -1 | grep -oE '[0-9]+' || true)
  TESTS_FAILED=$(grep -E '^\s*failed:\s*[0-9]+' "$1" | tail -1 | grep -oE '[0-9]+' || true)
  TESTS_SKIPPED=$(grep -E '^\s*skipped:\s*[0-9]+' "$1" | tail -1 | grep -oE '[0-9]+' || true)
  TESTS_PASSED=${TESTS_PASSED:-0} TESTS_FAILED=${TESTS_FAILED:-0} TESTS_SKIPPED=${TESTS_SKIPPED:-0}
}

# `dotnet test` hides what the test program says when it stops before running a test (an unknown option, say):
# name the exit code and let the program itself say why, asked only to list the tests with the same arguments.
explain_runner_exit() { # $1: exit code; the rest: the runner arguments
  local code="$1" meaning dll="tests/Int4Train.Tests/bin/$CONFIG/net10.0/Int4Train.Tests.dll"; shift
  case "$code" in
    3) meaning="the test session was aborted" ;; 5) meaning="invalid command line" ;;
    8) meaning="zero tests ran (a filter that matches no test?)" ;; *) meaning="https://aka.ms/testingplatform/exitcodes" ;;
  esac
  echo "test runner failed with exit code $code before any test result: $meaning" >&2
  [ -f "$dll" ] || dll="$STAGE/tests/Int4Train.Tests.dll"
  if [ -f "$dll" ]; then dotnet "$dll" "$@" --list-tests 2>&1 | head -n 3 | sed 's/^/  test program: /' >&2 || true; fi
}

# Runs the suite (extra arguments go to the test runner), shows its output, sets TESTS_* and TESTS_RC. A runner that
# exits non-zero without any test result counts as one failure, with the reason.
run_tests() {
  local log; log="$(mktemp)"
  set +e
  if have_sdk; then
    dotnet test tests/Int4Train.Tests -c "$CONFIG" ${TEST_NO_BUILD:+--no-build} -- "$@" 2>&1 | collapse_skips | tee "$log"
  else
    dotnet "$STAGE/tests/Int4Train.Tests.dll" "$@" 2>&1 | collapse_skips | tee "$log"
  fi
  TESTS_RC=${PIPESTATUS[0]}
  set -e
  read_summary "$log"
  if [ "$TESTS_RC" -ne 0 ] && [ $((TESTS_PASSED + TESTS_FAILED + TESTS_SKIPPED)) -eq 0 ]; then
    explain_runner_exit "$TESTS_RC" "$@"
    TESTS_FAILED=$((TESTS_FAILED + 1))
  fi
  rm -f "$log"
}

# CUTLASS (headers only) for the SM90 GEMM: INT4TRAIN_CUTLASS_DIR, else the submodule, fetched here when missing.
ensure_cutlass() {
  if [ -n "${INT4TRAIN_CUTLASS_DIR:-}" ]; then
    [ -f "$INT4TRAIN_CUTLASS_DIR/include/cutlass/cutlass.h" ] && return 0
    echo "native: INT4TRAIN_CUTLASS_DIR=$INT4TRAIN_CUTLASS_DIR has no include/cutlass/cutlass.h" >&2; exit 2
  fi
  [ -f "$CUTLASS_SUBMODULE/include/cutlass/cutlass.h" ] && return 0
  echo "native: CUTLASS is missing; fetching it: git submodule update --init $CUTLASS_SUBMODULE"
  if git submodule update --init "$CUTLASS_SUBMODULE" && [ -f "$CUTLASS_SUBMODULE/include/cutlass/cutlass.h" ]; then return 0; fi
  echo "native: could not fetch the CUTLASS submodule (not a git clone, or github.com unreachable). Run" >&2
  echo "        git submodule update --init $CUTLASS_SUBMODULE  where GitHub is reachable, or download CUTLASS v4.7.0" >&2
  echo "        and set INT4TRAIN_CUTLASS_DIR=<its folder>." >&2
  exit 2
}

# An nvcc that runs, on PATH or in /usr/local/cuda/bin (a distribution's /usr/bin/nvcc wrapper can point at nothing).
find_nvcc() {
  if command -v nvcc >/dev/null 2>&1 && nvcc --version >/dev/null 2>&1; then return 0; fi
  /usr/local/cuda/bin/nvcc --version >/dev/null 2>&1 && export PATH="/usr/local/cuda/bin:$PATH"
}

build_native() {
  if ! find_nvcc; then
    echo "native: no working nvcc (the CUDA toolkit) was found. The native library needs CUDA 12+ and CMake;" >&2
    echo "        the C# reference path and './build.sh test' do not need it." >&2
    exit 2
  fi
  ensure_cutlass
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release ${INT4TRAIN_CUTLASS_DIR:+-DINT4TRAIN_CUTLASS_DIR=$INT4TRAIN_CUTLASS_DIR}
  cmake --build build -j "$(nproc)"
}

pack_packages() { # $@: extra dotnet-pack arguments
  rm -rf "$PACKAGES"
  dotnet pack Int4Train.sln -c "$CONFIG" "$@"
  # The same file Int4Train.csproj packs (NativeLibraryFile).
  if [ -f build/native/libint4train.so ]; then echo "pack: Int4Train carries build/native/libint4train.so (runtimes/linux-x64/native)"
  else echo "pack: no build/native/libint4train.so: Int4Train is CPU-only (./build.sh native first for the CUDA library)"; fi
  echo "packages in $PACKAGES:"; ls "$PACKAGES"
}

source "$ROOT/.ci/package-checks.sh"

verb="${1:-build}"; shift || true
case "$verb" in
  build) dotnet build Int4Train.sln -c "$CONFIG" ;;
  test)
    if ! dotnet build Int4Train.sln -c "$CONFIG"; then echo "0 passed, 1 failed, 0 skipped"; exit 1; fi
    TEST_NO_BUILD=1 run_tests "$@"
    run_package_checks
    echo "$((TESTS_PASSED + CHECKS_PASSED)) passed, $((TESTS_FAILED + CHECKS_FAILED)) failed, $TESTS_SKIPPED skipped"
    [ "$TESTS_RC" -ne 0 ] && exit "$TESTS_RC"
    [ "$CHECKS_FAILED" -eq 0 ] || exit 1 ;;
  pack) pack_packages ;;
  native) build_native ;;
  gpu-test)
    build_native
    export INT4TRAIN_NATIVE_DIR="$ROOT/build/native" INT4TRAIN_REQUIRE_GPU=1
    run_tests "$@"
    echo "$TESTS_PASSED passed, $TESTS_FAILED failed, $TESTS_SKIPPED skipped"
    exit "$TESTS_RC" ;;
  stage-gpu)
    rm -rf "$STAGE"; mkdir -p "$STAGE"
    # One folder for the three programs (their shared assemblies and SkiaSharp natives once: the staged tree must stay
    # small enough to travel), reached as stage/tests, stage/cli and stage/bench.
    dotnet publish tests/Int4Train.Tests -c "$CONFIG" -o "$STAGE/app" --no-self-contained
    dotnet publish managed/Int4Train.Cli -c "$CONFIG" -o "$STAGE/app" --no-self-contained
    dotnet publish perf/Int4Train.Bench -c "$CONFIG" -o "$STAGE/app" --no-self-contained
    for d in tests cli bench; do ln -s app "$STAGE/$d"; done
    DOTNET_DIR="$(dirname "$(readlink -f "$(command -v dotnet)")")"
    tar -C "$DOTNET_DIR" -cJf "$STAGE/dotnet-runtime.tar.xz" dotnet host shared/Microsoft.NETCore.App
    echo "staged into $STAGE: on the GPU runner run  tar -xJf stage/dotnet-runtime.tar.xz -C /tmp/dotnet && DOTNET_ROOT=/tmp/dotnet PATH=/tmp/dotnet:\$PATH ./build.sh gpu-test" ;;
  bench)
    build_native; export INT4TRAIN_NATIVE_DIR="$ROOT/build/native"
    if have_sdk; then dotnet run --project perf/Int4Train.Bench -c "$CONFIG" -- "$@"; else dotnet "$STAGE/bench/Int4Train.Bench.dll" "$@"; fi ;;
  demo | layer-demo)
    if have_sdk; then
      # A cold first run restores and compiles for a minute or two: say so instead of staying silent.
      echo "building the CLI (the first run restores packages and compiles: about 1-2 minutes)..." >&2
      if ! build_log=$(dotnet build managed/Int4Train.Cli -c "$CONFIG" -v quiet -nologo 2>&1); then
        echo "$build_log" >&2; exit 1
      fi
      dotnet run --no-build --project managed/Int4Train.Cli -c "$CONFIG" -- "$verb" "$@"
    else dotnet "$STAGE/cli/Int4Train.Cli.dll" "$verb" "$@"; fi ;;
  *) echo "usage: ./build.sh {build|test|pack|native|gpu-test|stage-gpu|bench|demo|layer-demo} [arguments]" >&2; exit 2 ;;
esac
