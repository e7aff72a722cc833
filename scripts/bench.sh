#!/usr/bin/env bash
# Builds braid_bench and runs it: CPU op throughput and the demo train step,
# each as a fraction of ceilings (OpenBLAS sgemm, memcpy) measured in the same
# run. JSON goes to out/bench/bench-<timestamp>.json (and out/bench/latest.json).
# Usage: scripts/bench.sh [--threads=N] [google benchmark flags, e.g. --benchmark_filter=Matmul]
# Env: BUILD_DIR (default build), BRAID_BENCH_THREADS (default 0 = all cores).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${BUILD_DIR:-build}"
BUILD_DIR="$BUILD_DIR" bash scripts/build.sh

mkdir -p out/bench
out="out/bench/bench-$(date +%Y%m%d-%H%M%S).json"
echo "load before the run: $(uptime)"
"$BUILD_DIR/bench/braid_bench" --benchmark_min_time=0.2 \
  --benchmark_out="$out" --benchmark_out_format=json "$@"
cp "$out" out/bench/latest.json
echo "wrote $out"
