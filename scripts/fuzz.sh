#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang + ASan + UBSan) into build-fuzz/
# and runs each for a fixed number of executions (docs/RELIABILITY.md,
# "Fuzzing and sanitizers"). Exits non-zero when any target crashes.
#
#   scripts/fuzz.sh                  # every target, RUNS=100000 each
#   RUNS=1000 scripts/fuzz.sh idx    # some targets, fewer runs
#
# Env: RUNS (executions per target), SEED (libFuzzer -seed, fixed so runs
# repeat), MAX_TIME (seconds per target before the run stops early, default
# 1800; a process still alive 60 s later, e.g. hung in an out-of-memory
# report, is killed and counts as a failure), BUILD_DIR (default build-fuzz),
# FUZZ_ARGS (more libFuzzer flags).
# The seeds in fuzz/corpus/<target>/ are read, never written: new inputs go to
# $BUILD_DIR/fuzz-corpus/<target>/, crashes to $BUILD_DIR/fuzz-artifacts/
# (copy one into tests/data/fuzz/<target>/ once fixed: ctest replays it).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-100000}"
SEED="${SEED:-1}"
MAX_TIME="${MAX_TIME:-1800}"
BUILD_DIR="${BUILD_DIR:-build-fuzz}"
ALL_TARGETS=(job_yaml pools_yaml manifest_jsonl idx image safetensors rpc)
TARGETS=("$@")
if [ "${#TARGETS[@]}" -eq 0 ]; then TARGETS=("${ALL_TARGETS[@]}"); fi

export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DBRAID_FUZZ=ON \
  -DBRAID_BUILD_TESTS=OFF -DBRAID_BUILD_BENCH=OFF -DBRAID_WITH_CUDA=OFF >/dev/null
ninja -C "$BUILD_DIR" -j"${JOBS:-2}" $(printf 'fuzz_%s ' "${TARGETS[@]}")

# Leaks are findings too; UBSan aborts (the build uses -fno-sanitize-recover).
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

failed=0
summary=()
for t in "${TARGETS[@]}"; do
  corpus="$BUILD_DIR/fuzz-corpus/$t"
  artifacts="$BUILD_DIR/fuzz-artifacts/$t/"
  log="$BUILD_DIR/fuzz-logs/$t.log"
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  echo "fuzz: $t: $RUNS runs (log $log)"
  start=$(date +%s%N)
  set +e
  timeout -s KILL $((MAX_TIME + 60)) "$BUILD_DIR/fuzz/fuzz_$t" -runs="$RUNS" -seed="$SEED" -timeout=30 \
    -rss_limit_mb=2048 -max_total_time="$MAX_TIME" -print_final_stats=1 \
    -artifact_prefix="$artifacts" ${FUZZ_ARGS:-} "$corpus" "fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  set -e
  secs=$(awk -v a="$start" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
  corpus_n=$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -1)
  if [ "$rc" -eq 0 ] && [ "${execs:-0}" -lt "$RUNS" ]; then
    result="ok, but stopped by MAX_TIME after ${execs:-0} of $RUNS runs"
  elif [ "$rc" -eq 0 ]; then
    result=ok
  else
    result="CRASH (rc $rc): $(grep -oE '(ERROR: [A-Za-z]+Sanitizer: [^ ]+|runtime error: .*|FUZZ_CHECK failed: .*|ERROR: libFuzzer: [a-z-]+)' "$log" | head -1)"
    result="$result; input: $(ls -t "$artifacts" 2>/dev/null | head -1 | sed "s|^|$artifacts|")"
    failed=1
  fi
  line=$(printf '%-15s %8s execs %7.1f s  %-18s %-16s %s' "$t" "${execs:-?}" "$secs" "${cov:-cov: ?}" "${corpus_n:-}" "$result")
  echo "fuzz: $line"
  summary+=("$line")
done

echo
echo "fuzz summary (RUNS=$RUNS SEED=$SEED, $(nproc) cores, $(clang++ --version | head -1)):"
printf '  %s\n' "${summary[@]}"
exit "$failed"
