#!/usr/bin/env bash
# Device selection (docs/GPU.md step 7) with the real binaries: a worker
# started with --device cuda checks its device before it registers and exits
# 2 with "cuda device N requested, M present" when it is missing (asking
# braid-device-check, which sits beside it); `braid up`
# and `braid run` refuse a cuda pool whose devices are missing before
# starting anything; `braid train` refuses `device: cuda` when the device is
# missing and names a bad `device`.
#   usage: tests/device_selection_test.sh BRAID LLM_WORKER   (from the repository root)
set -u

BRAID=${1:?usage: device_selection_test.sh BRAID LLM_WORKER}
WORKER=${2:?usage: device_selection_test.sh BRAID LLM_WORKER}
JOB=tests/data/jobs/tiny.yaml
[[ -x $BRAID && -x $WORKER ]] || { echo "FAIL: $BRAID or $WORKER is not executable"; exit 1; }
[[ -f $JOB ]] || { echo "FAIL: run from the repository root ($JOB not found)"; exit 1; }

source "$(dirname "${BASH_SOURCE[0]}")/shell_lib.sh"
test_begin braid-device-selection-test

# worker SECONDS ARGS...: runs the LLM worker against an address nobody
# serves (a worker that got as far as registering would retry until killed:
# RC 124), output in $T/stdout and $T/stderr.
worker() {
  local secs=$1
  shift
  timeout "$secs" "$WORKER" --orchestrator 127.0.0.1:1 --listen 127.0.0.1:0 --metrics-listen "" "$@" \
    >"$T/stdout" 2>"$T/stderr"
  RC=$?
}
run() {
  "$BRAID" "$@" >"$T/stdout" 2>"$T/stderr"
  RC=$?
}

echo "== worker flags"
"$WORKER" --help >"$T/stdout" 2>&1 || fail "--help exited $?"
grep -q -- "--device TEXT" "$T/stdout" || fail "--help does not document --device"
grep -q -- "--device-index" "$T/stdout" || fail "--help does not document --device-index"
grep -q "BRAID_DEVICE" "$T/stdout" || fail "--help does not name env BRAID_DEVICE"
ok "--help documents --device and --device-index"
worker 10 --device tpu
[[ $RC -eq 2 ]] || fail "--device tpu: exit code $RC, want 2"
grep -q -- "--device" "$T/stderr" || fail "--device tpu: the error does not name --device"
ok "--device tpu: exit 2, $(head -1 "$T/stderr")"
worker 10 --device cuda --device-index -1
[[ $RC -eq 2 ]] || fail "--device-index -1: exit code $RC, want 2"
ok "--device-index -1: exit 2"

echo "== a cuda worker without its device exits 2 before registering"
HAVE_GPU=0
worker 10 --device cuda --device-index 0
if [[ $RC -eq 124 ]]; then
  HAVE_GPU=1
  ok "device 0 is present here: the worker went on to register (skipping the no-GPU cases)"
else
  [[ $RC -eq 2 ]] || fail "--device cuda --device-index 0: exit code $RC, want 2"
  grep -Eq "^braid-llm-worker: --device cuda --device-index 0: cuda device 0 requested, none present \(no CUDA device: .+\)$" \
    "$T/stderr" || fail "--device cuda --device-index 0: stderr lacks 'cuda device 0 requested, none present (...)'"
  ok "--device-index 0: exit 2, $(cat "$T/stderr")"
fi
worker 10 --device cuda --device-index 99
[[ $RC -eq 2 ]] || fail "--device cuda --device-index 99: exit code $RC, want 2"
grep -Eq "cuda device 99 requested, (none|[0-9]+) present" "$T/stderr" ||
  fail "--device-index 99: stderr lacks 'cuda device 99 requested, N present'"
ok "--device-index 99: exit 2"
CHECKER=$(dirname "$WORKER")/braid-device-check
"$CHECKER" 99 >"$T/stdout" 2>"$T/stderr"
RC=$?
[[ $RC -eq 1 ]] || fail "braid-device-check 99: exit code $RC, want 1"
grep -Eq "^cuda device 99 requested, (none|[0-9]+) present" "$T/stdout" || fail "braid-device-check 99: stdout"
ok "braid-device-check 99: exit 1, $(cat "$T/stdout")"
BRAID_DEVICE=cuda BRAID_DEVICE_INDEX=99 worker 10
[[ $RC -eq 2 ]] && grep -q "cuda device 99 requested" "$T/stderr" || fail "BRAID_DEVICE=cuda BRAID_DEVICE_INDEX=99: exit $RC"
ok "BRAID_DEVICE / BRAID_DEVICE_INDEX: exit 2"

echo "== braid up / run refuse missing devices before starting anything"
cat >"$T/cuda-pools.yaml" <<'YAML'
pools:
  encoder: {workers: 1}
  llm: {workers: 2, device: cuda, device_index: [0, 99]}
  generator: {workers: 1}
YAML
run up --pools "$T/cuda-pools.yaml" --state-dir "$T/state"
[[ $RC -eq 2 ]] || fail "up with a cuda pool: exit code $RC, want 2"
if [[ $HAVE_GPU -eq 0 ]]; then
  grep -Eq "^braid up: llm-0: cuda device 0 requested, none present \(.+\)$" "$T/stderr" || fail "up: stderr"
else
  grep -Eq "^braid up: llm-1: cuda device 99 requested, [0-9]+ present$" "$T/stderr" || fail "up: stderr"
fi
[[ ! -e $T/state/state.json ]] || fail "up: state.json was written"
ok "up: exit 2, $(cat "$T/stderr")"
sed -e 's/llm: {workers: 2, device: cuda, device_index: \[0, 99\]}/llm: {workers: 1, device: gpu}/' \
  "$T/cuda-pools.yaml" >"$T/bad-pools.yaml"
run up --pools "$T/bad-pools.yaml" --state-dir "$T/state"
[[ $RC -eq 2 ]] || fail "up with device: gpu: exit code $RC, want 2"
grep -qx "pools.llm.device: must be one of cpu, cuda, got 'gpu'" "$T/stderr" || fail "up with device: gpu: stderr"
ok "up: $(cat "$T/stderr")"
if [[ $HAVE_GPU -eq 0 ]]; then
  { cat "$JOB"; echo "device: cuda"; } >"$T/cuda-job.yaml"
  run run "$T/cuda-job.yaml" --state-dir "$T/run-state" -q
  [[ $RC -eq 2 ]] || fail "run with device: cuda: exit code $RC, want 2"
  grep -Eq "^braid run: encoder-0: cuda device 0 requested, none present \(.+\)$" "$T/stderr" || fail "run: stderr"
  ok "run: exit 2, $(cat "$T/stderr")"
fi

echo "== braid devices lists the CUDA devices, or says why there are none"
run devices
if [[ $HAVE_GPU -eq 1 ]]; then
  [[ $RC -eq 0 ]] || fail "devices: exit code $RC with a GPU present"
  grep -Eq "^cuda 0: .+ \(sm_[0-9]+, .+ GiB\)$" "$T/stdout" || fail "devices: stdout lacks 'cuda 0: NAME (sm_XY, N GiB)'"
else
  [[ $RC -eq 1 ]] || fail "devices without a GPU: exit code $RC, want 1"
  grep -Eq "^no CUDA device: .+" "$T/stdout" || fail "devices without a GPU: stdout lacks the reason"
fi
ok "devices: exit $RC, $(head -1 "$T/stdout")"

echo "== braid train: device: cuda without a device is refused, a bad device is named"
{ cat "$JOB"; echo "device: cuda"; } >"$T/cuda-job.yaml"
run train "$T/cuda-job.yaml" --single-process --run-dir "$T/train-run"
[[ $RC -eq 2 ]] || fail "train with device: cuda: exit code $RC, want 2"
grep -Eq "^braid train: device: cuda: cuda device 0 requested, none present \(.+\)$" \
  "$T/stderr" || fail "train with device: cuda: stderr"
[[ ! -e $T/train-run ]] || fail "train with device: cuda: the run dir was created"
ok "train: $(cat "$T/stderr")"
{ cat "$JOB"; echo "device: gpu"; } >"$T/gpu-job.yaml"
run train "$T/gpu-job.yaml" --single-process --run-dir "$T/train-run"
[[ $RC -eq 2 ]] || fail "train with device: gpu: exit code $RC, want 2"
grep -qx "device: must be one of cpu, cuda, got 'gpu'" "$T/stderr" || fail "train with device: gpu: stderr"
ok "train: $(cat "$T/stderr")"

echo "PASS ($CHECKS checks)"
