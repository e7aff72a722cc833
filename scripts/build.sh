#!/usr/bin/env bash
# Configures and builds braid into build/ (Ninja, ccache). Used by demo.sh and
# test.sh; safe to run repeatedly. BUILD_DIR and BRAID_WERROR override.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${BUILD_DIR:-build}"
WERROR="${BRAID_WERROR:-OFF}"
if [ -n "${CI:-}" ]; then WERROR=ON; fi
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBRAID_WERROR="$WERROR" \
  -DBRAID_SKIP_DIRS="" -DBRAID_TEST_PARTS_SKIP="" ${BRAID_CMAKE_ARGS:-}
ninja -C "$BUILD_DIR" -j"$(nproc)"
