# Package checks of `./build.sh test` (sourced by build.sh, which defines ROOT, CONFIG, PACKAGES, VERSION and
# pack_packages): the packages as a user gets them. Each check counts as one test in the closing line
# (CHECKS_PASSED / CHECKS_FAILED); its output is shown only when it fails.
PWSH_VERSION=7.6.9
CHECKS_PASSED=0 CHECKS_FAILED=0

check() { # $1: name; the rest: the command
  local name="$1" log t0=$SECONDS rc=0; shift
  log="$(mktemp)"
  "$@" >"$log" 2>&1 || rc=$?
  if [ "$rc" -eq 0 ]; then
    CHECKS_PASSED=$((CHECKS_PASSED + 1))
    echo "passed $name ($((SECONDS - t0)) s): $(grep -v '^\s*$' "$log" | tail -1 | cut -c1-150)"
  else
    CHECKS_FAILED=$((CHECKS_FAILED + 1))
    echo "failed $name (exit $rc, $((SECONDS - t0)) s); its last output:"
    tail -n 40 "$log" | sed 's/^/  | /'
  fi
  rm -f "$log"
}

# The sample (samples/Int4Train.Sample, not in the solution) restores Int4Train from artifacts/packages into its own
# packages folder; the copy there from an earlier pack is removed so that this pack is the one tested.
run_sample() {
  local dir="$ROOT/samples/Int4Train.Sample"
  rm -rf "$dir/bin" "$dir/obj" "$dir"/packages/int4train*
  dotnet run --project "$dir" -c "$CONFIG" -p:Int4TrainVersion="$VERSION"
}

# `dotnet tool install` as a user runs it, with a private NuGet cache (an older Int4Train.Cli of the same version in
# ~/.nuget/packages would otherwise be installed instead).
install_tool() {
  NUGET_PACKAGES="$CHECK_DIR/nuget" dotnet tool install --tool-path "$CHECK_DIR/tools" --add-source "$PACKAGES" \
    --version "$VERSION" Int4Train.Cli
}

tool_version() {
  "$CHECK_DIR/tools/int4train" --version
}

tool_train() {
  "$CHECK_DIR/tools/int4train" train --device cpu --steps 2 --eval-every 2 --batch 4 --context 16 --plain \
    --out "$CHECK_DIR/run" && test -s "$CHECK_DIR/run/loss.csv" && test -s "$CHECK_DIR/run/checkpoint.bin" \
    && echo "wrote loss.csv ($(wc -l < "$CHECK_DIR/run/loss.csv") lines) and checkpoint.bin"
}

# PowerShell from PATH, else installed once as a .NET tool into artifacts/tools.
pwsh_path() {
  if command -v pwsh >/dev/null 2>&1; then command -v pwsh; return 0; fi
  if [ ! -x "$ROOT/artifacts/tools/pwsh" ]; then
    dotnet tool install --tool-path "$ROOT/artifacts/tools" PowerShell --version "$PWSH_VERSION" >&2 || return 1
  fi
  echo "$ROOT/artifacts/tools/pwsh"
}

build_ps1() { local pwsh; pwsh="$(pwsh_path)" && "$pwsh" -NoProfile -NonInteractive -File "$ROOT/build.ps1" "$@"; }

run_package_checks() {
  CHECK_DIR="$(mktemp -d)"
  check "pack (artifacts/packages)" pack_packages --no-build
  check "sample: Int4Linear from the Int4Train package" run_sample
  check "dotnet tool install Int4Train.Cli" install_tool
  check "int4train --version" tool_version
  check "int4train train (2 steps, CPU)" tool_train
  check "build.ps1 build (PowerShell)" build_ps1 build
  check "build.ps1 layer-demo --in/--out (PowerShell)" build_ps1 layer-demo --tokens 32 --in 64 --out 16 --cpu
  rm -rf "$CHECK_DIR"
}
