#!/usr/bin/env bash
# Reordering policies on synthetic workloads (docs/REORDER.md), in the two
# regimes of the reorderer issue, and (with --runtime) the demo job trained
# with data.reorder none against balanced+ordered on a multi-rank layout.
# Usage: bench/reorder_bench.sh [--runtime [STEPS [LAYOUT]]]
#   env REORDER_BENCH_PAIRS (default 2), REORDER_BENCH_POLICIES (default "none balanced+ordered")
# Writes out/bench/reorder-latest.json and prints a markdown table.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_init

run() {  # run NAME REGIME ARGS...
  local name=$1 regime=$2; shift 2
  "$BIN/braid" reorder --synthesize "$name" --json "$@" > "$tmp/$name-$regime-$(echo "$@" | tr ' ' '_').json"
}
for w in mixed obelics llava; do
  for dp in 8 16 32; do
    run "$w" easy --count 4096 --encoder-dp "$dp" --llm-dp "$dp" --generator-dp "$dp" --microbatches 8 --seed 1
  done
  run "$w" cluster --count 1024 --encoder-dp 96 --llm-dp 64 --generator-dp 16 --microbatches 4 --seed 1
done

/usr/bin/python3 - "$tmp" <<'PY'
import glob, json, os, sys
rows = []
for f in sorted(glob.glob(sys.argv[1] + "/*.json")):
    d = json.load(open(f))
    name, regime = os.path.basename(f).split("-")[:2]
    rows.append({"workload": name, "regime": regime, "dp": d["dp"], "result": d})
json.dump(rows, open("out/bench/reorder-latest.json", "w"), indent=1)
print("| workload | regime | dp e/l/g | policy | encoder imb (vs bound) | llm imb (vs bound) | generator imb (vs bound) | makespan / bound | solve ms |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for r in rows:
    dp = r["dp"]
    for p in ("random", "lpt_per_sample", "balanced", "balanced+ordered"):
        j = r["result"]["policies"][p]
        cells = [f'{j[m]["imbalance"]:.3f} ({j[m]["imbalance_vs_bound"]:.3f})' for m in ("encoder", "llm", "generator")]
        print(f'| {r["workload"]} | {r["regime"]} | {dp["encoder"]}/{dp["llm"]}/{dp["generator"]} | {p} | '
              + " | ".join(cells) + f' | {j["makespan_vs_bound"]:.3f} | {j["solve_ms"]:.2f} |')
PY

[ "${1:-}" = "--runtime" ] || exit 0
STEPS="${2:-60}"
LAYOUT="${3:-3/2/1}"
PAIRS="${REORDER_BENCH_PAIRS:-2}"
# Runs alternate A B B A A B ... (PAIRS pairs) so that the VM's slow drift
# under sustained load falls on both policies equally.
read -r A B <<<"${REORDER_BENCH_POLICIES:-none balanced+ordered}"
order=()
for ((i = 0; i < PAIRS; i++)); do
  if ((i % 2 == 0)); then order+=("$A" "$B"); else order+=("$B" "$A"); fi
done
dirs=()
for i in "${!order[@]}"; do
  policy=${order[$i]}
  demo_job "$tmp/job-$i.yaml" "$STEPS" "$LAYOUT" "$policy" "$tmp/runs-$i"
  echo "runtime run $((i + 1))/${#order[@]}: $policy" >&2
  "$BIN/braid" run "$tmp/job-$i.yaml" -q --runs-root "$tmp" --state-dir "$tmp/state-$i" > "$tmp/run-$i.out"
  dirs+=("$policy=$(sed -n 's/^RUN_DIR //p' "$tmp/run-$i.out")")
done
/usr/bin/python3 - "$LAYOUT" "${dirs[@]}" <<'PY'
import json, sys
sys.path.insert(0, "bench")
from timeline import module_means
def summary(d):
    # (compute, wait for inputs) per module; wait = bubble + transfer waits.
    mods = {m: (v["compute"], v["bubble"] + v["transfer_wait"]) for m, v in module_means(d).items()}
    metrics = [json.loads(l) for l in open(d + "/metrics.jsonl")][5:]
    step = sum(x["step_seconds"] for x in metrics) / len(metrics)
    imb = {}
    for x in metrics:
        for m, v in x.get("imbalance", {}).items(): imb[m] = imb.get(m, 0) + v / len(metrics)
    plan_ms = sum(x.get("plan_ms", 0) for x in metrics) / len(metrics)
    return mods, step, imb, plan_ms
print(f"\nruntime, layout {sys.argv[1]}, mean per step and rank (steps 5..), runs in order:")
print("| run | policy | step s | " + " | ".join(f"{m} compute / wait s" for m in ("encoder", "llm", "generator"))
      + " | imbalance e/l/g | plan ms |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
agg = {}
for i, arg in enumerate(sys.argv[2:]):
    policy, d = arg.split("=", 1)
    mods, step, imb, plan_ms = summary(d)
    a = agg.setdefault(policy, {"n": 0, "step": 0, "wait": {}})
    a["n"] += 1; a["step"] += step
    for m, (c, w) in mods.items(): a["wait"][m] = a["wait"].get(m, 0) + w
    cells = [f"{mods[m][0]:.4f} / {mods[m][1]:.4f}" if m in mods else "-" for m in ("encoder", "llm", "generator")]
    print(f"| {i + 1} | {policy} | {step:.3f} | " + " | ".join(cells) + " | "
          + "/".join(f"{imb.get(m, 0):.3f}" for m in ("encoder", "llm", "generator")) + f" | {plan_ms:.2f} |")
print("\nmean over runs:")
for policy, a in agg.items():
    print(f"  {policy:17s} step {a['step'] / a['n']:.3f} s  wait per rank: "
          + "  ".join(f"{m} {w / a['n']:.4f} s" for m, w in sorted(a["wait"].items())))
PY
