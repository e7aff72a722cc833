#!/usr/bin/env bash
# The demo: installs dependencies, builds, trains the demo job
# (examples/fashion-mllm.yaml) on real data (Fashion-MNIST + fortunes) with
# `braid run`: an orchestrator, a reorderer and one pool of worker processes
# per module (encoder, LLM, generator; the job's `parallel:` layout), UCX
# between modules; then evaluates the final checkpoint on the 10k test images.
# Usage: scripts/demo.sh [JOB.yaml]
#   BRAID_DEMO_SINGLE_PROCESS=1 scripts/demo.sh   trains in one process instead
set -euo pipefail
cd "$(dirname "$0")/.."
JOB="${1:-examples/fashion-mllm.yaml}"

bash scripts/setup.sh
bash scripts/build.sh

start=$(date +%s)
if [ -n "${BRAID_DEMO_SINGLE_PROCESS:-}" ]; then
  RUN_DIR="runs/demo-$(date +%Y%m%d-%H%M%S)"
  echo "== training $JOB in one process -> $RUN_DIR"
  build/bin/braid train "$JOB" --single-process --run-dir "$RUN_DIR"
else
  echo "== training $JOB with braid run (orchestrator, reorderer, one worker pool per module)"
  log="$(mktemp)"
  trap 'rm -f "$log"' EXIT
  build/bin/braid run "$JOB" | tee "$log"
  RUN_DIR="$(sed -n 's/^RUN_DIR //p' "$log")"
  [ -n "$RUN_DIR" ] || { echo "demo: braid run printed no RUN_DIR" >&2; exit 1; }
fi
end=$(date +%s)
echo "== trained in $((end - start)) s"

echo "== evaluating the initial weights (step 0) and the final checkpoint on the test split"
build/bin/braid eval --init "$JOB" --json > "$RUN_DIR/eval-init.json"
build/bin/braid eval --checkpoint "$RUN_DIR" --json --samples "$RUN_DIR/samples.png" > "$RUN_DIR/eval.json"
echo "initial: $(cat "$RUN_DIR/eval-init.json")"
echo "final:   $(cat "$RUN_DIR/eval.json")"
if /usr/bin/python3 -c "import matplotlib" 2>/dev/null; then
  /usr/bin/python3 scripts/plot_learning_curve.py "$RUN_DIR" -o "$RUN_DIR/learning_curve.png"
fi
echo "== run directory: $RUN_DIR (metrics.jsonl, ledger.jsonl, checkpoints/, samples.png)"
