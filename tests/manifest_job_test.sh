#!/usr/bin/env bash
# Trains examples/manifest-job.yaml (the user JSONL manifest format) for a few
# steps and checks that the ledger carries the manifest's own sample ids, one
# epoch per step (global batch = the 8 samples), and that the loss falls.
# Usage: manifest_job_test.sh BRAID_BINARY
set -euo pipefail
BRAID="$1"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

"$BRAID" train examples/manifest-job.yaml --single-process --run-dir "$tmp/run" --steps 12 -q > "$tmp/out.txt"
/usr/bin/python3 - "$tmp/run" <<'PY'
import json, sys
run = sys.argv[1]
ledger = [json.loads(l) for l in open(f"{run}/ledger.jsonl")]
metrics = [json.loads(l) for l in open(f"{run}/metrics.jsonl")]
expected = set(range(100, 108))
assert len(ledger) == 12, f"ledger has {len(ledger)} steps, expected 12"
for row in ledger:
    assert set(row["samples"]) == expected, f"step {row['step']}: samples {row['samples']} are not the manifest ids {sorted(expected)}"
first, last = metrics[0]["loss"], metrics[-1]["loss"]
assert last < 0.7 * first, f"loss did not fall: {first} -> {last}"
assert all(m["gen_targets"] == 3 for m in metrics), "the manifest has 3 generation targets per epoch"
assert all(m["images"] == 9 for m in metrics), "the manifest has 9 input images per epoch"
print(f"ok: ledger ids are the manifest ids; loss {first:.3f} -> {last:.3f}")
PY
