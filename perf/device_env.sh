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
