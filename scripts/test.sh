#!/usr/bin/env bash
# Installs dependencies, builds (warnings are errors under CI), and runs the
# whole test suite with ctest. Extra arguments go to ctest (e.g. -R Ops).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
BUILD_DIR="${BUILD_DIR:-build}"
cd "$BUILD_DIR"
ctest -j2 --output-on-failure --timeout 900 "$@"
