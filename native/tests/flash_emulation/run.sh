#!/usr/bin/env bash
# Builds and runs the CPU emulation of the fused attention kernels (emulate.cpp). Needs clang++ (C++20 <barrier>)
# and the CUDA headers (cuda_runtime.h, cuda_bf16.h; no GPU, no nvcc). Last line: "all passed" or "FAILED n".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
native=$(cd "$here/../.." && pwd)
cxx=${CXX:-$(command -v clang++ || command -v clang++-14)}
cuda_inc=${CUDA_INCLUDE:-$(dirname "$(find /usr/include /usr/local/cuda/include -maxdepth 1 -name cuda_bf16.h 2>/dev/null | head -1)")}
out=$(mktemp -d)
"$cxx" -std=c++20 -O1 -w -I"$cuda_inc" -I"$native/include" -I"$native/src" -I"$here" "$here/emulate.cpp" -o "$out/emulate" -lpthread
"$out/emulate"
