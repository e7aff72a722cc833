#!/usr/bin/env bash
# Builds and runs the test suite under sanitizers (docs/RELIABILITY.md,
# "Fuzzing and sanitizers"):
#   asan: build-asan/, gcc with -fsanitize=address,undefined, the whole ctest
#         suite (-LE gpu); any ASan, LSan or UBSan report fails its test.
#   tsan: build-tsan/, gcc with -fsanitize=thread, the threaded tests (the
#         orchestrator, comm, worker and rpc ones: TSAN_TESTS below).
#
#   scripts/sanitize.sh [asan|tsan|all]   (default all; extra args go to ctest)
#
# Suppressions (scripts/sanitizers/*.supp) name third-party libraries only,
# each with the reason; tests that cannot run under a sanitizer are listed in
# ASAN_EXCLUDE / TSAN_EXCLUDE below with theirs.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE="${1:-all}"
if [ $# -gt 0 ]; then shift; fi
case "$MODE" in asan|tsan|all) ;; *) echo "usage: $0 [asan|tsan|all] [ctest args]" >&2; exit 2 ;; esac
JOBS="${JOBS:-2}"
SUPP="$PWD/scripts/sanitizers"
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"

# Tests left out, as a ctest -E regex (each with its reason).
ASAN_EXCLUDE="${ASAN_EXCLUDE:-^$}"
TSAN_EXCLUDE="${TSAN_EXCLUDE:-^$}"
# The threaded parts: every test of the orchestrator, comm and worker
# executables (gtest names them Suite.Test, so by label) plus the RPC tests.
TSAN_LABELS="${TSAN_LABELS:-orchestrator|comm|worker|security}"
TSAN_TESTS="${TSAN_TESTS:-^(Rpc|rpc|Orchestrator|orchestrator|Comm|comm|Worker|worker)}"

configure_and_build() {  # dir, flags
  local dir="$1" flags="$2"
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBRAID_WITH_CUDA=OFF \
    -DBRAID_BUILD_BENCH=OFF -DBRAID_WERROR=OFF \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
    -DCMAKE_EXE_LINKER_FLAGS="$flags" -DCMAKE_SHARED_LINKER_FLAGS="$flags" >/dev/null
  ninja -C "$dir" -j"$JOBS"
}

status=0
start=$(date +%s)

if [ "$MODE" = asan ] || [ "$MODE" = all ]; then
  echo "sanitize: ASan + UBSan build in build-asan/"
  configure_and_build build-asan "-fsanitize=address,undefined -fno-omit-frame-pointer"
  export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:abort_on_error=0:print_stacktrace=1:suppressions=$SUPP/asan.supp"
  export LSAN_OPTIONS="suppressions=$SUPP/lsan.supp:print_suppressions=0"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$SUPP/ubsan.supp"
  echo "sanitize: ctest (ASan + UBSan)"
  (cd build-asan && ctest -j"$JOBS" -LE gpu -E "$ASAN_EXCLUDE" --output-on-failure --timeout 1800 "$@") || status=1
  unset ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS
fi

if [ "$MODE" = tsan ] || [ "$MODE" = all ]; then
  echo "sanitize: TSan build in build-tsan/"
  configure_and_build build-tsan "-fsanitize=thread -fno-omit-frame-pointer"
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:print_suppressions=0:suppressions=$SUPP/tsan.supp"
  echo "sanitize: ctest (TSan), labels /$TSAN_LABELS/ and names /$TSAN_TESTS/"
  (cd build-tsan && ctest -j"$JOBS" -LE gpu -L "$TSAN_LABELS" -E "$TSAN_EXCLUDE" --output-on-failure --timeout 1800 "$@") || status=1
  (cd build-tsan && ctest -j"$JOBS" -LE "gpu|$TSAN_LABELS" -R "$TSAN_TESTS" -E "$TSAN_EXCLUDE" --output-on-failure --timeout 1800 "$@") || status=1
  unset TSAN_OPTIONS
fi

echo "sanitize: $MODE $([ $status -eq 0 ] && echo passed || echo FAILED) in $(( $(date +%s) - start )) s"
exit $status
