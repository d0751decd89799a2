# device_env.sh — sourced (from the repository root) by the GPU job scripts (perf/run_device.sh,
# perf/profile_device.sh, perf/training/run_device.sh, perf/training/run_accuracy.sh, tests/run_gpu_suite.sh,
# native/tests/run_device.sh), which run on machines that may have neither the .NET SDK nor network access.

# No `dotnet` on PATH: the runtime staged by ./build.sh stage-gpu (stage/dotnet-runtime.tar.xz) is unpacked into
# /tmp/dotnet and put on PATH. Once per job: unpacking it again while a program runs from it crashes that program.
use_staged_dotnet() {
  if ! command -v dotnet >/dev/null 2>&1 && [ -f stage/dotnet-runtime.tar.xz ]; then
    mkdir -p /tmp/dotnet && tar -xJf stage/dotnet-runtime.tar.xz -C /tmp/dotnet
    export DOTNET_ROOT=/tmp/dotnet PATH=/tmp/dotnet:$PATH
  fi
}

# No CUTLASS submodule: the headers carried in .carry/cutlass.tar.xz (native/README.md) are unpacked in its place.
use_carried_cutlass() {
  if [ ! -f native/third_party/cutlass/include/cutlass/cutlass.h ] && [ -f .carry/cutlass.tar.xz ]; then
    mkdir -p native/third_party/cutlass && tar -C native/third_party/cutlass -xJf .carry/cutlass.tar.xz
  fi
}

# Packs a job's logs into $OUT/logs.tgz without run checkpoints (*.bin): what comes back from the device is capped per
# file, and one baby-gpt checkpoint is ~40 MB (a 2026-12-01 job lost its bench and GPT-speed JSON to an archive
# that also held five of them). Safe to call after every stage: the archive is replaced atomically.
pack_logs() {  # pack_logs DIR (relative to $OUT, default logs)
  local dir=${1:-logs}
  tar -czf "$OUT/$dir.tgz.tmp" --exclude='*.bin' -C "$OUT" "$dir" && mv "$OUT/$dir.tgz.tmp" "$OUT/$dir.tgz"
}
