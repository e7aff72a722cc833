# Shared by the bench scripts; source it right after `set -euo pipefail`.

# bench_init: to the repository root; BIN; out/bench; a temporary directory
# $tmp, removed on exit unless KEEP_TMP is set.
bench_init() {
  cd "$(dirname "$0")/.."
  BIN=build/bin
  mkdir -p out/bench
  tmp="$(mktemp -d)"
  trap '[ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"' EXIT
}

# demo_job OUT STEPS LAYOUT [REORDER [RUNS_DIR]]: writes the demo job
# (examples/fashion-mllm.yaml) to OUT with STEPS steps (5 warm-up), layouts
# from LAYOUT (encoder/llm/generator DP sizes, e.g. 3/2/1, each optionally
# with tT and pP for TP and PP, e.g. 1t2/1t2p2/1: `braid plan --evaluate`'s
# syntax), data.reorder REORDER when given, and its run directories under
# RUNS_DIR (default $tmp/runs).
demo_job() {
  local out=$1 steps=$2 layout=$3 reorder=${4:-} runs=${5:-$tmp/runs} enc llm gen
  IFS=/ read -r enc llm gen <<<"$layout"
  local args=(-e "s/^  steps: .*/  steps: $steps/" -e "s/^  warmup_steps: .*/  warmup_steps: 5/"
              -e "s#^  dir: runs .*#  dir: $runs#"
              -e "s/^  encoder: {dp: 1, tp: 1, pp: 1}/  encoder: $(layout_yaml "$enc")/"
              -e "s/^  llm: {dp: 1, tp: 1, pp: 1}/  llm: $(layout_yaml "$llm")/"
              -e "s/^  generator: {dp: 1, tp: 1, pp: 1}/  generator: $(layout_yaml "$gen")/")
  [ -n "$reorder" ] && args+=(-e "s/^  reorder: .*/  reorder: $reorder/")
  sed "${args[@]}" examples/fashion-mllm.yaml > "$out"
}

# layout_yaml D[tT][pP]: "{dp: D, tp: T, pp: P}" (T, P default 1).
layout_yaml() {
  local spec=$1 dp tp=1 pp=1
  [[ $spec =~ ^([0-9]+)(t([0-9]+))?(p([0-9]+))?$ ]] || { echo "bad module layout '$spec'" >&2; return 1; }
  dp=${BASH_REMATCH[1]}
  [ -n "${BASH_REMATCH[3]}" ] && tp=${BASH_REMATCH[3]}
  [ -n "${BASH_REMATCH[5]}" ] && pp=${BASH_REMATCH[5]}
  echo "{dp: $dp, tp: $tp, pp: $pp}"
}

# step_seconds RUN_DIR [SKIP]: the run's step_seconds (metrics.jsonl), one
# per line, after the first SKIP steps (default 5: the warm-up).
step_seconds() {
  /usr/bin/python3 -c 'import json, sys
for l in list(open(sys.argv[1] + "/metrics.jsonl"))[int(sys.argv[2]):]: print(json.loads(l)["step_seconds"])' \
    "$1" "${2:-5}"
}

# median: the median of the numbers on stdin, one per line.
median() { /usr/bin/python3 -c 'import statistics, sys; print(statistics.median(float(x) for x in sys.stdin))'; }
