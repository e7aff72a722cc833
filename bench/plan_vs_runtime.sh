#!/usr/bin/env bash
# The simulator against the runtime on this machine (docs/PLANNER.md,
# "Simulator against reality"): for each layout, the demo job trained with
# `braid run` (median step_seconds after warm-up) next to `braid plan
# --evaluate` of the same layout on the same batches, with the demo model's
# `braid profile` (measured just before the layout's run) as calibration and
# deploy/clusters/local-cpu.yaml.
# Usage: bench/plan_vs_runtime.sh [STEPS [LAYOUT...]]   (default 40; 1/1/1 2/1/1 1/2/1 3/2/1 2/2/2)
# Writes out/bench/plan-vs-runtime.json and prints a markdown table.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_init
STEPS="${1:-40}"
shift || true
LAYOUTS=("${@:-1/1/1 2/1/1 1/2/1 3/2/1 2/2/2}")
read -r -a LAYOUTS <<<"${LAYOUTS[*]}"
SKIP=5  # warm-up steps left out of the median

rows=()
for layout in "${LAYOUTS[@]}"; do
  # This VM's speed drifts by 20-30% within minutes: calibrate right before
  # each layout's run, not once for all.
  echo "layout $layout: profiling the demo model (costs on 1 thread, speedups on all cores)..." >&2
  "$BIN/braid" profile examples/fashion-mllm.yaml --repeats 7 -o "$tmp/profile.yaml" 2>/dev/null
  cp "$tmp/profile.yaml" "out/bench/plan-vs-runtime-profile-${layout//\//-}.yaml"
  demo_job "$tmp/job.yaml" "$STEPS" "$layout"
  echo "layout $layout: braid run, $STEPS steps..." >&2
  "$BIN/braid" run "$tmp/job.yaml" -q --state-dir "$tmp/state-${layout//\//-}" > "$tmp/run.out"
  dir="$(sed -n 's/^RUN_DIR //p' "$tmp/run.out")"
  preds=()
  for ((s = SKIP; s < STEPS; s += 5)); do
    preds+=("$("$BIN/braid" plan --job "$tmp/job.yaml" --cluster deploy/clusters/local-cpu.yaml --job-data --step "$s" \
      --profile "$tmp/profile.yaml" --evaluate "$layout" --json | /usr/bin/python3 -c \
      'import json,sys; print(json.load(sys.stdin)["predicted"]["step_seconds"])')")
  done
  rows+=("$layout $dir ${preds[*]}")
done
/usr/bin/python3 - "$SKIP" "${rows[@]}" <<'PY'
import json, statistics, sys
skip = int(sys.argv[1])
out = []
print("| layout | measured median step s | predicted median s | predicted / measured |")
print("| --- | --- | --- | --- |")
for row in sys.argv[2:]:
    layout, d, *preds = row.split()
    steps = [json.loads(l)["step_seconds"] for l in open(d + "/metrics.jsonl")][skip:]
    meas, pred = statistics.median(steps), statistics.median(float(p) for p in preds)
    out.append({"layout": layout, "measured_median": meas, "predicted_median": pred, "ratio": pred / meas,
                "measured_steps": len(steps), "predicted_steps": len(preds)})
    print(f"| {layout} | {meas:.4f} | {pred:.4f} | {pred / meas:.3f} |")
json.dump(out, open("out/bench/plan-vs-runtime.json", "w"), indent=1)
PY
