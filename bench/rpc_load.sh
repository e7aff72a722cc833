#!/usr/bin/env bash
# RPC load on a running orchestrator with a job training (issue 7;
# docs/PERFORMANCE.md, "RPC load"). `braid up` (1/1/1, one thread each),
# the tiny job (tests/data/jobs/tiny.yaml) with steps enough to train
# throughout; then ROUNDS times: the job's step rate (metrics.jsonl lines per
# second) over WINDOW seconds without load, then CLIENTS concurrent clients x
# RPCS calls each (build/bench/braid_rpc_load: GetJob, ListJobs, invalid
# SubmitJob) and the step rate over that load. Alternating the two sides
# puts this VM's drift on both alike.
# Usage: bench/rpc_load.sh [CLIENTS [RPCS [ROUNDS [WINDOW]]]]   (default 64 200 3 5)
# Env: BRAID_TOKEN_FILE (the cluster's token, when it has one), KEEP_TMP.
# Fails when any call failed unexpectedly or the job is not RUNNING after the load.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_init
CLIENTS="${1:-64}"
RPCS="${2:-200}"
ROUNDS="${3:-3}"
WINDOW="${4:-5}"
ROOT="$PWD"
LOAD="$ROOT/build/bench/braid_rpc_load"
[ -x "$LOAD" ] || { echo "no $LOAD: ninja -C build braid_rpc_load" >&2; exit 1; }
braid() { (cd "$tmp" && "$ROOT/$BIN/braid" "$@" --state-dir "$tmp/state"); }
trap 'braid down >/dev/null 2>&1 || true; [ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"' EXIT

cat > "$tmp/pools.yaml" <<YAML
orchestrator: {listen: "127.0.0.1:0", metrics_listen: ""}
reorderer: {listen: "127.0.0.1:0", metrics_listen: "", threads: 1}
pools:
  encoder: {workers: 1, threads: 1, metrics_listen: ""}
  llm: {workers: 1, threads: 1, metrics_listen: ""}
  generator: {workers: 1, threads: 1, metrics_listen: ""}
YAML
sed -e 's/^  steps: .*/  steps: 10000000/' -e 's/^  every: .*/  every: 100/' -e 's/^  keep: .*/  keep: 2/' \
  tests/data/jobs/tiny.yaml > "$tmp/job.yaml"

braid up --pools "$tmp/pools.yaml" --runs-root "$tmp" > "$tmp/up.log" 2>&1 || { cat "$tmp/up.log" >&2; exit 1; }
ORCH=$(/usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["orchestrator"])' "$tmp/state/state.json")
JOB=$(braid submit "$tmp/job.yaml" 2>/dev/null | awk '{print $NF; exit}')
[ -n "$JOB" ] || { echo "braid submit failed" >&2; exit 1; }
METRICS="$tmp/runs/$JOB/metrics.jsonl"
token=()
[ -n "${BRAID_TOKEN_FILE:-}" ] && token=(--token-file "$BRAID_TOKEN_FILE")
echo "orchestrator $ORCH, job $JOB; $CLIENTS clients x $RPCS RPCs, $ROUNDS rounds, ${WINDOW} s windows without load"

steps() { if [ -f "$METRICS" ]; then wc -l < "$METRICS"; else echo 0; fi; }
now() { date +%s.%N; }
for _ in $(seq 600); do [ "$(steps)" -ge 20 ] && break; sleep 0.1; done  # past warm-up
[ "$(steps)" -ge 20 ] || { echo "the job did not start training: $(braid status "$JOB")" >&2; exit 1; }

idle_steps=0 idle_s=0 load_steps=0 load_s=0 failed=0
rate() { awk -v s="$1" -v t="$2" 'BEGIN { printf "%.1f", s / t }'; }
for r in $(seq "$ROUNDS"); do
  s0=$(steps) t0=$(now)
  sleep "$WINDOW"
  s1=$(steps) t1=$(now)
  "$LOAD" --orchestrator "$ORCH" --clients "$CLIENTS" --rpcs "$RPCS" --job "$JOB" "${token[@]}" \
    > "$tmp/load-$r.txt" || failed=1
  s2=$(steps) t2=$(now)
  di=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') dl=$(awk -v a="$t1" -v b="$t2" 'BEGIN { print b - a }')
  echo "--- round $r"
  cat "$tmp/load-$r.txt"
  echo "steps/s without load $(rate $((s1 - s0)) "$di"), with load $(rate $((s2 - s1)) "$dl")"
  idle_steps=$((idle_steps + s1 - s0)) load_steps=$((load_steps + s2 - s1))
  idle_s=$(awk -v a="$idle_s" -v b="$di" 'BEGIN { print a + b }')
  load_s=$(awk -v a="$load_s" -v b="$dl" 'BEGIN { print a + b }')
done

state=$(braid status "$JOB" --json | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["state"])')
# Every step committed once, in order (metrics.jsonl "step" 0, 1, 2, ...).
gaps=$(/usr/bin/python3 -c 'import json, sys
steps = [json.loads(l)["step"] for l in open(sys.argv[1]) if l.strip()]
print(sum(1 for i, s in enumerate(steps) if s != steps[0] + i))' "$METRICS")
jobs=$(braid list --json | /usr/bin/python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')
echo "=== summary"
awk -v is="$idle_steps" -v it="$idle_s" -v ls="$load_steps" -v lt="$load_s" 'BEGIN {
  printf "steps/s without load %.1f (%d steps in %.1f s), with load %.1f (%d steps in %.1f s), ratio %.2f\n",
    is / it, is, it, ls / lt, ls, lt, (ls / lt) / (is / it) }'
echo "job $JOB after the load: $state; jobs on the orchestrator: $jobs (the invalid submits queued none)"
echo "steps out of order or repeated in metrics.jsonl: $gaps"
[ "$failed" = 0 ] || { echo "FAIL: unexpected RPC errors (see the rounds above)" >&2; exit 1; }
[ "$state" = JOB_STATE_RUNNING ] || { echo "FAIL: the job is $state, not RUNNING" >&2; exit 1; }
[ "$gaps" = 0 ] || { echo "FAIL: $gaps steps out of order or repeated" >&2; exit 1; }
[ "$jobs" = 1 ] || { echo "FAIL: $jobs jobs on the orchestrator, want 1" >&2; exit 1; }
echo "OK: 0 unexpected errors, job still RUNNING, every step committed once"
