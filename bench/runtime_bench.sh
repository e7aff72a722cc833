#!/usr/bin/env bash
# Disaggregated runtime vs the single-process trainer, in the same run, on the
# demo job: tokens/s of each (mean over steps after a warm-up) and, for the
# disaggregated run, the per-module time split of its last step (compute,
# communication, exposed communication) from `braid status --json`.
# Usage: bench/runtime_bench.sh [STEPS] [LAYOUT e.g. 1/1/1] [POOLS_FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS="${1:-100}"
LAYOUT="${2:-1/1/1}"
POOLS="${3:-}"
BIN=build/bin
IFS=/ read -r ENC LLM GEN <<<"$LAYOUT"
tmp="$(mktemp -d)"
trap '[ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"' EXIT
sed -e "s/^  steps: .*/  steps: $STEPS/" -e "s/^  warmup_steps: .*/  warmup_steps: 5/" \
    -e "s#^  dir: runs .*#  dir: $tmp/runs#" \
    -e "s/^  encoder: {dp: 1, tp: 1, pp: 1}/  encoder: {dp: $ENC, tp: 1, pp: 1}/" \
    -e "s/^  llm: {dp: 1, tp: 1, pp: 1}/  llm: {dp: $LLM, tp: 1, pp: 1}/" \
    -e "s/^  generator: {dp: 1, tp: 1, pp: 1}/  generator: {dp: $GEN, tp: 1, pp: 1}/" \
    examples/fashion-mllm.yaml > "$tmp/job.yaml"
echo "load before the run: $(uptime)"
echo "== single-process ($STEPS steps)"
"$BIN/braid" train "$tmp/job.yaml" --single-process --run-dir "$tmp/single" -q > /dev/null
echo "== braid run, layout $LAYOUT ($STEPS steps)"
pools_args=()
[ -n "$POOLS" ] && pools_args=(--pools "$POOLS")
"$BIN/braid" run "$tmp/job.yaml" -q --keep-up --state-dir "$tmp/state" "${pools_args[@]}" > "$tmp/run.out"
job_id="$(sed -n 's/^RUN_ID //p' "$tmp/run.out")"
run_dir="$(sed -n 's/^RUN_DIR //p' "$tmp/run.out")"
"$BIN/braid" status "$job_id" --json --state-dir "$tmp/state" > "$tmp/status.json"
"$BIN/braid" down --state-dir "$tmp/state" 2> /dev/null
mkdir -p out/bench
/usr/bin/python3 - "$tmp/single" "$run_dir" "$tmp/status.json" "$LAYOUT" <<'PY'
import json, sys
single, disagg, status, layout = sys.argv[1:5]
def rate(d):
    rows = [json.loads(l) for l in open(d + "/metrics.jsonl")][5:]
    return sum(r["tokens"] for r in rows) / sum(r["step_seconds"] for r in rows), sum(r["step_seconds"] for r in rows) / len(rows)
s_rate, s_step = rate(single)
d_rate, d_step = rate(disagg)
a = [json.loads(l)["loss"] for l in open(single + "/metrics.jsonl")]
b = [json.loads(l)["loss"] for l in open(disagg + "/metrics.jsonl")]
worst = max(abs(x - y) / abs(x) for x, y in zip(a, b))
job = json.load(open(status))
out = {"layout": layout, "single_tokens_per_s": s_rate, "single_step_s": s_step,
       "disaggregated_tokens_per_s": d_rate, "disaggregated_step_s": d_step,
       "throughput_ratio": d_rate / s_rate, "max_loss_rel_diff": worst, "timeline": job.get("timeline", [])}
print(f"single-process : {s_rate:8.0f} tok/s  ({s_step:.3f} s/step)")
print(f"braid run {layout}: {d_rate:8.0f} tok/s  ({d_step:.3f} s/step)  ratio {d_rate / s_rate:.2f}")
print(f"max per-step loss rel diff: {worst:.2e}")
print("last step, per module (averaged over ranks):")
for t in job.get("timeline", []):
    comm, exp = t["communication_seconds"], t["exposed_communication_seconds"]
    hidden = 1 - exp / comm if comm > 0 else 1.0
    print(f"  {t['module'][7:]:9s} compute {t['compute_seconds']:.3f} s  communication {comm:.3f} s  "
          f"exposed {exp:.3f} s  hidden {hidden:.0%}")
json.dump(out, open("out/bench/runtime-latest.json", "w"), indent=2)
print("wrote out/bench/runtime-latest.json")
PY
