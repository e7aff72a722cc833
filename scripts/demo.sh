#!/usr/bin/env bash
# The demo: installs dependencies, builds, trains the demo job
# (examples/fashion-mllm.yaml) on real data (Fashion-MNIST + fortunes) in one
# process, then evaluates the final checkpoint on the 10k test images.
# Usage: scripts/demo.sh [JOB.yaml]
set -euo pipefail
cd "$(dirname "$0")/.."
JOB="${1:-examples/fashion-mllm.yaml}"

bash scripts/setup.sh
bash scripts/build.sh

RUN_DIR="runs/demo-$(date +%Y%m%d-%H%M%S)"
echo "== training $JOB -> $RUN_DIR"
start=$(date +%s)
build/bin/braid train "$JOB" --single-process --run-dir "$RUN_DIR"
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
