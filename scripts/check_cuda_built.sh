#!/usr/bin/env bash
# Fails when the CUDA toolkit is installed but the build left the CUDA
# backend out (issue 9: CI must compile and link it). Run after a build.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${BUILD_DIR:-build}"
CUDA_HOME="${CUDA_HOME:-/usr/local/cuda}"
if [ ! -e "$CUDA_HOME" ]; then
  echo "check_cuda_built: no $CUDA_HOME here; CUDA backend not required"
  exit 0
fi
missing=()
for f in common/ops/cuda/libbraid_ops_cuda.a tests/gpu_ops_activation_test; do
  [ -e "$BUILD_DIR/$f" ] || missing+=("$BUILD_DIR/$f")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "check_cuda_built: $CUDA_HOME exists but the CUDA backend was not built (missing: ${missing[*]})." >&2
  echo "  Configure with -DBRAID_WITH_CUDA=AUTO (the default) or ON; see docs/GPU.md." >&2
  exit 1
fi
n=$(ctest --test-dir "$BUILD_DIR" -N -L gpu 2>/dev/null | sed -n 's/^Total Tests: //p')
echo "check_cuda_built: CUDA backend built; ${n:-0} GPU tests registered (label gpu)"
