#!/usr/bin/env bash
# The simulator against the runtime on this machine (docs/PLANNER.md,
# "Simulator against reality"): for each layout, the demo job trained with
# `braid run` (median step_seconds after warm-up) next to `braid plan
# --evaluate` of the same layout on the same batches, calibrated by the demo
# model's `braid profile` measured right before and right after that run (each
# step's prediction is the mean of the two) and deploy/clusters/local-cpu.yaml.
# This VM's speed drifts by 20-35% within minutes, so the layouts run in
# ROUNDS rounds (default 2), round-robin, and each layout's medians pool its
# rounds.
# With CALIBRATE=1 the first layout is a reference: its measured / predicted
# ratio becomes the profiles' runtime_overhead for every later layout, which
# are then the validation layouts (their runs are never used by their
# predictions). By default nothing is calibrated (runtime_overhead 1): one
# noisy reference run moves every prediction with it.
# Usage: [ROUNDS=2] [REPEATS=15] [CALIBRATE=0|1] bench/plan_vs_runtime.sh [STEPS [LAYOUT...]]
#        (default 40; 1/1/1 2/1/1 1/2/1 3/2/1 2/2/2)
# Writes out/bench/plan-vs-runtime.json and prints a markdown table.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_init
STEPS="${1:-40}"
shift || true
LAYOUTS=("${@:-1/1/1 2/1/1 1/2/1 3/2/1 2/2/2}")
read -r -a LAYOUTS <<<"${LAYOUTS[*]}"
SKIP=5                    # warm-up steps left out of the median
ROUNDS="${ROUNDS:-2}"     # runs of every layout, round-robin
REPEATS="${REPEATS:-15}"  # timed runs per profile measurement (their median counts)
CALIBRATE="${CALIBRATE:-0}"

profile() {  # OUT
  "$BIN/braid" profile examples/fashion-mllm.yaml --repeats "$REPEATS" -o "$1" 2>/dev/null
}

# Phase 1: the runs, each bracketed by two profiles: $tmp/r<round>-<layout>/{before,after}.yaml, run.dir.
for ((r = 1; r <= ROUNDS; r++)); do
  for layout in "${LAYOUTS[@]}"; do
    d="$tmp/r$r-${layout//\//-}"
    mkdir -p "$d"
    echo "round $r/$ROUNDS, layout $layout: profile, braid run ($STEPS steps), profile..." >&2
    profile "$d/before.yaml"
    demo_job "$d/job.yaml" "$STEPS" "$layout"
    "$BIN/braid" run "$d/job.yaml" -q --runs-root "$tmp" --state-dir "$d/state" > "$d/run.out"
    sed -n 's/^RUN_DIR //p' "$d/run.out" > "$d/run.dir"
    profile "$d/after.yaml"
  done
done

# predict LAYOUT OVERHEAD: for every round's run of LAYOUT, one prediction per
# 5th step after the warm-up (the mean of its before and after profiles', with
# runtime_overhead OVERHEAD), one per line.
predict() {
  local layout=$1 overhead=$2 r s p d
  for ((r = 1; r <= ROUNDS; r++)); do
    d="$tmp/r$r-${layout//\//-}"
    for p in before after; do
      sed "s/^runtime_overhead: .*/runtime_overhead: $overhead/" "$d/$p.yaml" > "$d/$p-cal.yaml"
    done
    for ((s = SKIP; s < STEPS; s += 5)); do
      for p in before after; do
        "$BIN/braid" plan --job "$d/job.yaml" --cluster deploy/clusters/local-cpu.yaml --job-data --step "$s" \
          --profile "$d/$p-cal.yaml" --evaluate "$layout" --json |
          /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["predicted"]["step_seconds"])'
      done | /usr/bin/python3 -c 'import sys
v = [float(l) for l in sys.stdin]
print(sum(v) / len(v))'
    done
  done
}
# measured LAYOUT: every round's step_seconds after the warm-up, one per line.
measured() {
  local r
  for ((r = 1; r <= ROUNDS; r++)); do step_seconds "$(cat "$tmp/r$r-${1//\//-}/run.dir")" "$SKIP"; done
}

# Phase 2: with CALIBRATE=1, the reference calibrates runtime_overhead;
# phase 3: the predictions.
ref="${LAYOUTS[0]}"
overhead=1
if [ "$CALIBRATE" = 1 ]; then
  overhead="$(/usr/bin/python3 -c 'import sys; print("%.4f" % (float(sys.argv[1]) / float(sys.argv[2])))' \
    "$(measured "$ref" | median)" "$(predict "$ref" 1 | median)")"
  echo "reference $ref: runtime_overhead $overhead for the other layouts" >&2
else
  ref=""
fi
rows=()
for layout in "${LAYOUTS[@]}"; do
  o=$overhead
  [ "$layout" = "$ref" ] && o=1
  rows+=("$layout $o $(measured "$layout" | median) $(predict "$layout" "$o" | median)")
done
cp "$tmp/r1-${LAYOUTS[0]//\//-}/before.yaml" out/bench/plan-vs-runtime-profile.yaml
/usr/bin/python3 - "$ROUNDS" "$CALIBRATE" "${rows[@]}" <<'PY'
import json, sys
rounds, calibrated = int(sys.argv[1]), sys.argv[2] == "1"
out = []
print(f"| layout | runtime_overhead | measured median step s ({rounds} runs) | predicted median s | predicted / measured |")
print("| --- | --- | --- | --- | --- |")
for i, row in enumerate(sys.argv[3:]):
    layout, overhead, meas, pred = row.split()
    overhead, meas, pred = float(overhead), float(meas), float(pred)
    reference = calibrated and i == 0
    out.append({"layout": layout, "reference": reference, "runtime_overhead": overhead, "rounds": rounds,
                "measured_median": meas, "predicted_median": pred, "ratio": pred / meas})
    name = f"{layout} (reference)" if reference else layout
    print(f"| {name} | {overhead:.3f} | {meas:.4f} | {pred:.4f} | {pred / meas:.3f} |")
json.dump(out, open("out/bench/plan-vs-runtime.json", "w"), indent=1)
PY
