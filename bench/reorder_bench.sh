#!/usr/bin/env bash
# Reordering policies on synthetic workloads (docs/REORDER.md), in the two
# regimes of the reorderer issue, and (with --runtime) the demo job trained
# with data.reorder none against balanced+ordered on a multi-rank layout.
# Usage: bench/reorder_bench.sh [--runtime [STEPS [LAYOUT]]]
# Writes out/bench/reorder-latest.json and prints a markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=build/bin
mkdir -p out/bench
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

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
IFS=/ read -r ENC LLM GEN <<<"$LAYOUT"
for policy in ${REORDER_BENCH_POLICIES:-none balanced+ordered}; do
  sed -e "s/^  steps: .*/  steps: $STEPS/" -e "s/^  warmup_steps: .*/  warmup_steps: 5/" \
      -e "s#^  dir: runs .*#  dir: $tmp/runs-$policy#" -e "s/^  reorder: .*/  reorder: $policy/" \
      -e "s/^  encoder: {dp: 1, tp: 1, pp: 1}/  encoder: {dp: $ENC, tp: 1, pp: 1}/" \
      -e "s/^  llm: {dp: 1, tp: 1, pp: 1}/  llm: {dp: $LLM, tp: 1, pp: 1}/" \
      -e "s/^  generator: {dp: 1, tp: 1, pp: 1}/  generator: {dp: $GEN, tp: 1, pp: 1}/" \
      examples/fashion-mllm.yaml > "$tmp/job-$policy.yaml"
  "$BIN/braid" run "$tmp/job-$policy.yaml" -q --state-dir "$tmp/state-$policy" > "$tmp/run-$policy.out"
  sed -n 's/^RUN_DIR //p' "$tmp/run-$policy.out" > "$tmp/dir-$policy"
done
/usr/bin/python3 - "$(cat "$tmp/dir-none")" "$(cat "$tmp/dir-balanced+ordered")" "$LAYOUT" <<'PY'
import json, sys
def summary(d):
    rows = [json.loads(l) for l in open(d + "/timeline.jsonl")][5:]
    wait, comp, ranks = {}, {}, {}
    for st in rows:
        for r in st["ranks"]:
            m = r["module"]
            ranks.setdefault(m, set()).add(r["rank"])
            for kind, mb, start, sec in r["spans"]:
                if kind in ("recv_wait", "transfer_wait"): wait[m] = wait.get(m, 0) + sec
                if kind in ("compute", "optimizer"): comp[m] = comp.get(m, 0) + sec
    period = [json.loads(l)["step_seconds"] for l in open(d + "/metrics.jsonl")][5:]
    n = len(rows)
    return {m: (comp[m] / n / len(ranks[m]), wait[m] / n / len(ranks[m])) for m in ranks}, sum(period) / len(period)
print(f"\nruntime, layout {sys.argv[3]}, mean per step and rank (steps 5..):")
for name, d in (("none", sys.argv[1]), ("balanced+ordered", sys.argv[2])):
    mods, step = summary(d)
    print(f"  {name:17s} step {step:.3f} s  " + "  ".join(f"{m} compute {c:.4f} s wait {w:.4f} s" for m, (c, w) in sorted(mods.items())))
PY
