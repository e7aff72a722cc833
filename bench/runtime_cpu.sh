#!/usr/bin/env bash
# Where the runtime's time goes beyond the step's compute (docs/PLANNER.md,
# "Simulator against reality"): the demo job on LAYOUT trained twice with
# `braid run` under /usr/bin/time, SHORT and LONG steps; the difference of the
# two runs' user + system CPU over the difference of their summed
# step_seconds is the CPU the whole service (every process) burns per step,
# start-up and shutdown cancelling out. Also the median gap between a rank's
# consecutive steps (timeline.jsonl: one step's end to the next one's start),
# the per-step control-plane cost.
# Usage: bench/runtime_cpu.sh [LAYOUT [SHORT LONG]]   (default 3/2/1 10 70)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_init
LAYOUT="${1:-3/2/1}"
SHORT="${2:-10}"
LONG="${3:-70}"
for n in "$SHORT" "$LONG"; do
  demo_job "$tmp/job$n.yaml" "$n" "$LAYOUT"
  echo "layout $LAYOUT: braid run, $n steps..." >&2
  /usr/bin/time -f "%U %S" -o "$tmp/cpu$n" "$BIN/braid" run "$tmp/job$n.yaml" -q --runs-root "$tmp" --state-dir "$tmp/s$n" > "$tmp/run$n.out"
  sed -n 's/^RUN_DIR //p' "$tmp/run$n.out" > "$tmp/dir$n"
done
/usr/bin/python3 - "$LAYOUT" "$tmp" "$SHORT" "$LONG" <<'PY'
import json, statistics, sys
layout, tmp, short, long_ = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
def run(n):
    d = open(f"{tmp}/dir{n}").read().strip()
    user, system = map(float, open(f"{tmp}/cpu{n}").read().split())
    steps = [json.loads(l)["step_seconds"] for l in open(d + "/metrics.jsonl")]
    return d, user + system, sum(steps), len(steps)
_, cpu_s, wall_s, n_s = run(short)
d, cpu_l, wall_l, n_l = run(long_)
per_step_cpu = (cpu_l - cpu_s) / (n_l - n_s)
per_step_wall = (wall_l - wall_s) / (n_l - n_s)
gaps = []
tl = [json.loads(l) for l in open(d + "/timeline.jsonl")][5:]
for a, b in zip(tl, tl[1:]):
    prev = {(r["module"], r["rank"]): r for r in a["ranks"]}
    for r in b["ranks"]:
        p = prev[(r["module"], r["rank"])]
        gaps.append(b["start_unix"] + r["start"] - (a["start_unix"] + p["start"] + p["seconds"]))
print(f"layout {layout}: {per_step_cpu:.3f} CPU seconds per step over {per_step_wall:.3f} s of step time "
      f"({per_step_cpu / per_step_wall:.2f} cores busy); median gap between a rank's steps "
      f"{1e3 * statistics.median(gaps):.1f} ms")
PY
