#!/usr/bin/env bash
# Cost of the Prometheus metrics (docs/PERFORMANCE.md, "Metrics overhead"):
# the demo job (examples/fashion-mllm.yaml, 1/1/1) trained with `braid run`
# with metrics on in every process, every one scraped once a second, against
# metrics off (every metrics_listen ""), in alternating pairs (on, off, off,
# on, ...) so this VM's drift falls on both alike. SCRAPER=curl (default)
# fetches every target's /metrics with curl; SCRAPER=prometheus runs a real
# Prometheus on the same two cores (its own TSDB work then counts too).
# Usage: [SCRAPER=curl|prometheus] bench/metrics_overhead.sh [STEPS [PAIRS]]   (default 200 steps, 2 pairs)
# Prints the median step time of each run and of each side, on/off per pair
# (the drift-robust number: each pair ran back to back) and of the medians.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_init
STEPS="${1:-200}"
PAIRS="${2:-2}"
SCRAPER="${SCRAPER:-curl}"
SKIP=5
demo_job "$tmp/job.yaml" "$STEPS" 1/1/1
pools() {  # OUT METRICS_LISTEN
  cat > "$1" <<YAML
orchestrator: {listen: "127.0.0.1:0", metrics_listen: "$2"}
reorderer: {listen: "127.0.0.1:0", metrics_listen: "$2", threads: 1}
pools:
  encoder: {workers: 1, threads: 1, metrics_listen: "$2"}
  llm: {workers: 1, threads: 2, adaptive_threads: true, metrics_listen: "$2"}
  generator: {workers: 1, threads: 1, metrics_listen: "$2"}
YAML
}
pools "$tmp/on.yaml" "127.0.0.1:0"
pools "$tmp/off.yaml" ""

run_one() {  # SIDE N -> prints the run's median step seconds
  local side=$1 n=$2 state="$tmp/state-$1-$2" prom=""
  if [ "$side" = on ] && [ "$SCRAPER" = curl ]; then
    mkdir -p "$state"
    (  # once targets.json exists, every target once a second until braid run removes it
      while [ ! -f "$state/targets.json" ]; do sleep 0.2; done
      mapfile -t urls < <(/usr/bin/python3 -c 'import json, sys
for g in json.load(open(sys.argv[1])): print("http://%s/metrics" % g["targets"][0])' "$state/targets.json")
      while [ -f "$state/targets.json" ]; do
        for u in "${urls[@]}"; do curl -s -o /dev/null "$u" || true; done
        sleep 1
      done
    ) &
    prom=$!
  elif [ "$side" = on ]; then
    mkdir -p "$state"
    cat > "$tmp/prometheus.yml" <<YAML
global: {scrape_interval: 1s}
scrape_configs:
  - job_name: braid
    honor_labels: true
    file_sd_configs: [{files: ['$state/targets.json'], refresh_interval: 1s}]
YAML
    /usr/bin/prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/prom-$n" \
      --web.listen-address=127.0.0.1:0 > "$tmp/prom-$n.log" 2>&1 &
    prom=$!
  fi
  "$BIN/braid" run "$tmp/job.yaml" -q --runs-root "$tmp" --pools "$tmp/$side.yaml" --state-dir "$state" > "$tmp/run.out"
  [ -n "$prom" ] && { kill "$prom"; wait "$prom" 2>/dev/null || true; }
  step_seconds "$(sed -n 's/^RUN_DIR //p' "$tmp/run.out")" "$SKIP" | median
}

echo "warm-up run (metrics off, not counted)..." >&2
run_one off 0 > /dev/null
on=() off=()
for ((p = 1; p <= PAIRS; p++)); do
  order=(on off)
  ((p % 2 == 0)) && order=(off on)
  for side in "${order[@]}"; do
    echo "pair $p: metrics $side, $STEPS steps..." >&2
    m="$(run_one "$side" "$p")"
    echo "  metrics $side: median step $m s" >&2
    if [ "$side" = on ]; then on+=("$m"); else off+=("$m"); fi
  done
done
/usr/bin/python3 - "${on[*]}" "${off[*]}" <<'PY'
import statistics, sys
on = [float(x) for x in sys.argv[1].split()]
off = [float(x) for x in sys.argv[2].split()]
mon, moff = statistics.median(on), statistics.median(off)
print(f"metrics on (scraped every 1 s): runs {', '.join(f'{x:.4f}' for x in on)}; median {mon:.4f} s")
print(f"metrics off:                    runs {', '.join(f'{x:.4f}' for x in off)}; median {moff:.4f} s")
pairs = [a / b for a, b in zip(on, off)]
print(f"on / off per pair: {', '.join(f'{x:.3f}' for x in pairs)}; median {statistics.median(pairs):.3f}")
print(f"on / off (medians) = {mon / moff:.3f}")
PY
