#!/usr/bin/env bash
# GPU suite (issue 9; docs/GPU.md, "GPU suite"). On a machine with a CUDA
# device it runs, in order:
#   1. ops:   every CUDA op against its CPU reference on fresh random inputs
#             (ctest -L gpu; the seed is printed so a failure can be replayed
#             with BRAID_GPU_TEST_SEED), normalised error within fp32 1e-5
#             (GEMM-heavy 1e-4) and bf16 1e-2;
#   2. equivalence: the in-process runtime against the single-process trainer
#             with the CUDA backend (BRAID_DEVICE=cuda);
#   3. MFU:   the cuBLASLt GEMM ceiling (bench/gpu_gemm_ceiling) and the LLM
#             step on a ~1B-parameter config (bench/gpu_llm_step), MFU and
#             the ratio to the ceiling measured in the same run.
# Without a device every part is reported SKIPPED with the reason
# (cudaGetDeviceCount's error) and the script exits 0, so it can run anywhere.
# Exit: 0 all parts passed or skipped for want of a device; 1 a part failed;
# 3 a part is not built yet (reported MISSING: never counted as a pass).
#
# Usage: bench/gpu_suite.sh [--require-gpu] [--quick]
#   --require-gpu  exit 1 instead of 0 when no device is present
#   --quick        smaller MFU shapes (a few seconds instead of a minute)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${BUILD_DIR:-build}"
require_gpu=0
quick=0
for a in "$@"; do
  case "$a" in
    --require-gpu) require_gpu=1 ;;
    --quick) quick=1 ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu_suite.sh: unknown argument '$a' (try --help)" >&2; exit 2 ;;
  esac
done

mkdir -p out/bench
report="out/bench/gpu_suite-$(date -u +%Y%m%dT%H%M%SZ).txt"
declare -A result
note() { echo "$*" | tee -a "$report"; }

if [ ! -e "$BUILD_DIR/common/ops/cuda/libbraid_ops_cuda.a" ]; then
  note "gpu_suite: the CUDA backend is not built in $BUILD_DIR (no toolkit, or -DBRAID_WITH_CUDA=OFF): nothing to run"
  exit 0
fi
export BRAID_GPU_TEST_SEED="${BRAID_GPU_TEST_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}"
note "gpu_suite: $(date -u) seed BRAID_GPU_TEST_SEED=$BRAID_GPU_TEST_SEED"

# ---- 1. ops against the CPU reference ---------------------------------------
ops_log="$(mktemp)"
set +e
ctest --test-dir "$BUILD_DIR" -L gpu --output-on-failure --timeout 900 >"$ops_log" 2>&1
ops_rc=$?
set -e
cat "$ops_log" >>"$report"
total=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\2/p' "$ops_log")
skipped=$(grep -c '(Skipped)' "$ops_log" || true)
if [ -n "$total" ] && [ "$total" -gt 0 ] && [ "$skipped" -eq "$total" ]; then
  reason=$(grep -m1 -o 'SKIPPED: .*' "$ops_log" || true)
  if [ -z "$reason" ]; then
    ctest --test-dir "$BUILD_DIR" -L gpu -V >"$ops_log.v" 2>&1 || true
    reason=$(grep -m1 -o 'SKIPPED: .*' "$ops_log.v" || echo "SKIPPED: no CUDA device")
  fi
  note "gpu_suite: no usable CUDA device: ${reason#SKIPPED: }"
  note "gpu_suite: ops SKIPPED, equivalence SKIPPED, mfu SKIPPED"
  [ "$require_gpu" -eq 1 ] && exit 1
  exit 0
fi
result[ops]=$([ "$ops_rc" -eq 0 ] && echo PASS || echo FAIL)
note "gpu_suite: ops ${result[ops]} ($total GPU test binaries; log in $report)"

# ---- 2. equivalence on CUDA ---------------------------------------------------
if [ -x "$BUILD_DIR/tests/gpu_runtime_equivalence_test" ]; then
  if "$BUILD_DIR/tests/gpu_runtime_equivalence_test" >>"$report" 2>&1; then result[equivalence]=PASS; else result[equivalence]=FAIL; fi
else
  result[equivalence]=MISSING
  note "gpu_suite: equivalence MISSING: the runtime has no CUDA path yet (docs/GPU.md step 3)"
fi

# ---- 3. MFU next to the GEMM ceiling -----------------------------------------
shape_args=()
[ "$quick" -eq 1 ] && shape_args=(4096x4096x4096)
ceiling=""
if [ -x "$BUILD_DIR/bench/gpu_gemm_ceiling" ]; then
  out=$("$BUILD_DIR/bench/gpu_gemm_ceiling" "${shape_args[@]}" 2>&1) && rc=0 || rc=$?
  echo "$out" >>"$report"
  ceiling=$(echo "$out" | sed -n 's/^ceiling_bf16_tflops=//p')
  [ "$rc" -eq 0 ] && [ -n "$ceiling" ] && result[gemm_ceiling]=PASS || result[gemm_ceiling]=FAIL
  note "gpu_suite: cuBLASLt bf16 GEMM ceiling ${ceiling:-?} TFLOP/s"
else
  result[gemm_ceiling]=MISSING
fi
if [ -x "$BUILD_DIR/bench/gpu_llm_step" ]; then
  llm_args=(--config 1b)
  [ "$quick" -eq 1 ] && llm_args=(--config 1b --steps 3)
  out=$("$BUILD_DIR/bench/gpu_llm_step" "${llm_args[@]}" 2>&1) && rc=0 || rc=$?
  echo "$out" >>"$report"
  tflops=$(echo "$out" | sed -n 's/^achieved_tflops=//p')
  mfu=$(echo "$out" | sed -n 's/^mfu=//p')
  if [ "$rc" -eq 0 ] && [ -n "$tflops" ]; then
    result[llm_mfu]=PASS
    ratio=$([ -n "$ceiling" ] && awk -v a="$tflops" -v c="$ceiling" 'BEGIN{printf "%.2f", a/c}' || echo "?")
    note "gpu_suite: LLM step ${tflops} TFLOP/s, MFU ${mfu:-?}, ${ratio} of the measured GEMM ceiling"
  else
    result[llm_mfu]=FAIL
  fi
else
  result[llm_mfu]=MISSING
  note "gpu_suite: llm_mfu MISSING: the LLM has no CUDA path yet (docs/GPU.md step 3)"
fi

# ---- summary -----------------------------------------------------------------
rc=0
for k in ops equivalence gemm_ceiling llm_mfu; do
  v=${result[$k]:-MISSING}
  note "  $k: $v"
  case "$v" in
    FAIL) rc=1 ;;
    MISSING) [ "$rc" -eq 0 ] && rc=3 ;;
  esac
done
note "gpu_suite: report in $report"
exit "$rc"
