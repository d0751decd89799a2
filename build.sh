#!/usr/bin/env bash
# Int4Train build entry point. Verbs (same as build.ps1):
#   build      build the .NET solution (no CUDA needed)
#   test       CPU test suite (what CI runs); ends with "N passed, N failed, N skipped"
#   native     CMake build of native/ into build/ (needs nvcc and the CUTLASS submodule)
#   gpu-test   build native/ and run the whole suite with the GPU tests enabled (from a staged folder when
#              this machine has only the .NET runtime: see stage-gpu)
#   stage-gpu  publish the test and CLI programs plus a .NET runtime archive into stage/ for a GPU runner
#   bench      kernel benchmarks (perf/), needs a GPU
#   demo       the main job: a short GPT training with INT4 matmuls (tiny preset, built-in text; CPU reference
#              path when there is no GPU); extra arguments go to `int4train demo` (train options)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"
CONFIG="${CONFIG:-Release}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

have_sdk() { command -v dotnet >/dev/null 2>&1 && dotnet --list-sdks 2>/dev/null | grep -q .; }

# Reads the Microsoft.Testing.Platform summary from a log and prints the plain closing line CI reads.
summarize() {
  local log="$1" passed failed skipped
  passed=$(grep -E '^\s*succeeded:\s*[0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || true)
  failed=$(grep -E '^\s*failed:\s*[0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || true)
  skipped=$(grep -E '^\s*skipped:\s*[0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || true)
  echo "${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped"
}

run_tests() { # $@: extra arguments for the test runner
  local log rc
  log="$(mktemp)"
  set +e
  if have_sdk; then
    dotnet test tests/Int4Train.Tests -c "$CONFIG" -- "$@" 2>&1 | tee "$log"
  else
    dotnet "$STAGE/tests/Int4Train.Tests.dll" "$@" 2>&1 | tee "$log"
  fi
  rc=${PIPESTATUS[0]}
  set -e
  summarize "$log"
  rm -f "$log"
  return "$rc"
}

build_native() {
  if ! command -v nvcc >/dev/null 2>&1 && [ ! -x /usr/local/cuda/bin/nvcc ]; then
    echo "native: nvcc (the CUDA toolkit) was not found. The native library needs CUDA 12+ and CMake;" >&2
    echo "        the C# reference path and './build.sh test' do not need it." >&2
    exit 2
  fi
  [ -x /usr/local/cuda/bin/nvcc ] && export PATH="/usr/local/cuda/bin:$PATH"
  if [ ! -f native/third_party/cutlass/include/cutlass/cutlass.h ] && [ -z "${INT4TRAIN_CUTLASS_DIR:-}" ]; then
    echo "native: CUTLASS is missing. Run: git submodule update --init native/third_party/cutlass" >&2
    exit 2
  fi
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release ${INT4TRAIN_CUTLASS_DIR:+-DINT4TRAIN_CUTLASS_DIR=$INT4TRAIN_CUTLASS_DIR}
  cmake --build build -j "$(nproc)"
}

STAGE="${STAGE:-$ROOT/stage}"
verb="${1:-build}"; shift || true
case "$verb" in
  build) dotnet build Int4Train.sln -c "$CONFIG" ;;
  test) run_tests "$@" ;;
  native) build_native ;;
  gpu-test)
    build_native
    export INT4TRAIN_NATIVE_DIR="$ROOT/build/native" INT4TRAIN_REQUIRE_GPU=1
    run_tests "$@" ;;
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
    if [ -d perf/Int4Train.Bench ]; then build_native; export INT4TRAIN_NATIVE_DIR="$ROOT/build/native"
      if have_sdk; then dotnet run --project perf/Int4Train.Bench -c "$CONFIG" -- "$@"; else dotnet "$STAGE/bench/Int4Train.Bench.dll" "$@"; fi
    else echo "bench: the benchmark harness (perf/) is not available yet (issue: fast INT4 kernels)."; fi ;;
  demo)
    if have_sdk; then dotnet run --project managed/Int4Train.Cli -c "$CONFIG" -- demo "$@"; else dotnet "$STAGE/cli/Int4Train.Cli.dll" demo "$@"; fi ;;
  layer-demo)
    if have_sdk; then dotnet run --project managed/Int4Train.Cli -c "$CONFIG" -- layer-demo "$@"; else dotnet "$STAGE/cli/Int4Train.Cli.dll" layer-demo "$@"; fi ;;
  *) echo "usage: ./build.sh {build|test|native|gpu-test|stage-gpu|bench|demo|layer-demo}" >&2; exit 2 ;;
esac
