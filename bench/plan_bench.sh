#!/usr/bin/env bash
# Planner projections and solve time (docs/PLANNER.md "Against the paper",
# docs/PERFORMANCE.md "Planner solve time"): braid's plan and the
# Megatron-style baseline for DistTrain's settings, and the solve time at
# 64, 1,172 and 10,000 devices.
# Usage: bench/plan_bench.sh   Writes out/bench/plan-latest.json; prints markdown tables.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_init
sed 's/^  compute: 0.6 .*/  compute: 0.75/; s/^  compute: 0.6$/  compute: 0.75/' deploy/clusters/h100-1172.yaml \
  | sed 's/^name: h100-1172/name: h100-1172-eff075/' > "$tmp/h100-1172-eff075.yaml"
cases=(
  "72b h100-1172 deploy/clusters/h100-1172.yaml 0 mixed 0"
  "72b h100-1172-eff0.75 $tmp/h100-1172-eff075.yaml 0 mixed 0"
  "72b h100-1172 deploy/clusters/h100-1172.yaml 0 obelics 0"
  "72b h100-1172 deploy/clusters/h100-1172.yaml 0 mixed 8192"
  "72b a100-1024 deploy/clusters/a100-1024.yaml 0 mixed 0"
  "13b h100-256 deploy/clusters/h100-256.yaml 256 mixed 0"
  "13b h100-256 deploy/clusters/h100-256.yaml 128 mixed 0"
  "7b h100-256 deploy/clusters/h100-256.yaml 128 mixed 0"
  "7b h100-256 deploy/clusters/h100-256.yaml 64 mixed 0"
  "7b a100-64 deploy/clusters/a100-64.yaml 64 mixed 0"
  "72b h100-10000 deploy/clusters/h100-10000.yaml 0 mixed 32768"
)
i=0
for c in "${cases[@]}"; do
  read -r model cname cfile devices workload count <<<"$c"
  args=(--job "examples/disttrain-$model.yaml" --cluster "$cfile" --synthesize "$workload" --json)
  [ "$devices" != 0 ] && args+=(--devices "$devices")
  [ "$count" != 0 ] && args+=(--count "$count")
  echo "plan $model on $cname ${devices/#0/all} devices, $workload ${count/#0/job batch}..." >&2
  "$BIN/braid" plan "${args[@]}" > "$tmp/$i.json"
  echo "$model $cname $workload $tmp/$i.json" >> "$tmp/index"
  i=$((i + 1))
done
/usr/bin/python3 - "$tmp/index" <<'PY'
import json, sys
rows = []
for line in open(sys.argv[1]):
    model, cname, workload, f = line.split()
    d = json.load(open(f))
    rows.append({"model": model, "cluster": cname, "workload": workload, "result": d})
json.dump(rows, open("out/bench/plan-latest.json", "w"), indent=1)
def lay(p):
    if p["colocated"]:
        l = p["llm"]; return f'colocated tp {l["tp"]} pp {l["pp"]} dp {l["dp"]}'
    return " / ".join(f'{p[m]["devices"]}:{p[m]["tp"]}x{p[m]["pp"]}x{p[m]["dp"]}' for m in ("encoder", "llm", "generator"))
print("| model | cluster | devices | batch | braid plan (devices:tp x pp x dp enc / llm / gen), M | step s | MFU | baseline, M | step s | MFU | speedup | solve ms |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for r in rows:
    d = r["result"]; p, b = d["plan"], d["baseline"]
    print(f'| {r["model"]} | {r["cluster"]} | {d["budget"]} | {d["samples"]} {r["workload"]} | {lay(p)}, {p["microbatches"]}'
          f'{" rc" if p["recompute"] else ""} | {d["predicted"]["step_seconds"]:.3f} | {d["predicted"]["mfu"]:.3f} | '
          f'{lay(b)}, {b["microbatches"]}{" rc" if b["recompute"] else ""} | {b["predicted"]["step_seconds"]:.3f} | '
          f'{b["predicted"]["mfu"]:.3f} | {d["speedup"]:.2f} | {d["solve_ms"]:.0f} |')
PY
