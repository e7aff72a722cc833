#!/usr/bin/env bash
# Disaggregated runtime vs the single-process trainer, in the same run, on the
# demo job: tokens/s of each (mean over steps after a warm-up; the
# single-process baseline runs before and after the disaggregated run and
# counts both, so drift of the shared machine hits both sides) and, for the
# disaggregated run, the per-module time split of its last step (compute,
# communication, exposed communication) from `braid status --json`.
# Usage: bench/runtime_bench.sh [STEPS] [LAYOUT e.g. 1/1/1] [POOLS_FILE]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_init
STEPS="${1:-100}"
LAYOUT="${2:-1/1/1}"
POOLS="${3:-}"
demo_job "$tmp/job.yaml" "$STEPS" "$LAYOUT"
echo "load before the run: $(uptime)"
echo "== single-process ($STEPS steps)"
"$BIN/braid" train "$tmp/job.yaml" --single-process --run-dir "$tmp/single" -q > /dev/null
echo "== braid run, layout $LAYOUT ($STEPS steps)"
pools_args=()
[ -n "$POOLS" ] && pools_args=(--pools "$POOLS")
"$BIN/braid" run "$tmp/job.yaml" -q --runs-root "$tmp" --keep-up --state-dir "$tmp/state" "${pools_args[@]}" > "$tmp/run.out"
job_id="$(sed -n 's/^RUN_ID //p' "$tmp/run.out")"
run_dir="$(sed -n 's/^RUN_DIR //p' "$tmp/run.out")"
"$BIN/braid" status "$job_id" --json --state-dir "$tmp/state" > "$tmp/status.json"
"$BIN/braid" down --state-dir "$tmp/state" 2> /dev/null
echo "== single-process again ($STEPS steps)"
"$BIN/braid" train "$tmp/job.yaml" --single-process --run-dir "$tmp/single2" -q > /dev/null
/usr/bin/python3 - "$tmp/single" "$run_dir" "$tmp/status.json" "$LAYOUT" "$tmp/single2" <<'PY'
import json, sys
single, disagg, status, layout, single2 = sys.argv[1:6]
def rows(d):
    return [json.loads(l) for l in open(d + "/metrics.jsonl")][5:]
def rate(rs):
    return sum(r["tokens"] for r in rs) / sum(r["step_seconds"] for r in rs), sum(r["step_seconds"] for r in rs) / len(rs)
s_rate, s_step = rate(rows(single) + rows(single2))
s1_step, s2_step = rate(rows(single))[1], rate(rows(single2))[1]
d_rate, d_step = rate(rows(disagg))
a = [json.loads(l)["loss"] for l in open(single + "/metrics.jsonl")]
b = [json.loads(l)["loss"] for l in open(disagg + "/metrics.jsonl")]
worst = max(abs(x - y) / abs(x) for x, y in zip(a, b))
job = json.load(open(status))
# Per module, mean over steps 5.. of timeline.jsonl (every rank's spans):
# compute; bubble (waiting for a peer still computing); communication =
# boundary transfer time (send to arrival, lower bound) + sends + all-reduce;
# exposed = waits after the data was sent + sends + all-reduce.
sys.path.insert(0, "bench")
from timeline import module_means
modules = {name: {"compute": m["compute"], "bubble": m["bubble"], "communication": m["communication"],
                  "exposed": m["transfer_wait"] + m["sends"]}
           for name, m in module_means(disagg).items()}
comm = sum(m["communication"] for m in modules.values())
exposed = sum(m["exposed"] for m in modules.values())
hidden = 1 - exposed / comm if comm > 0 else 1.0
out = {"layout": layout, "single_tokens_per_s": s_rate, "single_step_s": s_step,
       "disaggregated_tokens_per_s": d_rate, "disaggregated_step_s": d_step,
       "throughput_ratio": d_rate / s_rate, "max_loss_rel_diff": worst,
       "communication_hidden": hidden, "modules": modules, "timeline": job.get("timeline", [])}
print(f"single-process : {s_rate:8.0f} tok/s  ({s_step:.3f} s/step; {s1_step:.3f} before, {s2_step:.3f} after)")
print(f"braid run {layout}: {d_rate:8.0f} tok/s  ({d_step:.3f} s/step)  ratio {d_rate / s_rate:.2f}")
print(f"max per-step loss rel diff: {worst:.2e}")
print("per module, mean per step and rank (steps 5..):")
for name in ("encoder", "llm", "generator"):
    m = modules.get(name)
    if m: print(f"  {name:9s} compute {m['compute']:.4f} s  bubble {m['bubble']:.4f} s  "
                f"communication {m['communication']:.4f} s  exposed {m['exposed']:.4f} s")
print(f"communication hidden behind compute: {hidden:.1%} (all modules)")
json.dump(out, open("out/bench/runtime-latest.json", "w"), indent=2)
print("wrote out/bench/runtime-latest.json")
PY
