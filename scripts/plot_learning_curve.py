#!/usr/bin/python3
"""Plots a run's learning curve (metrics.jsonl) to a PNG.

Usage: scripts/plot_learning_curve.py RUN_DIR [-o out.png] [--eval eval.json]
Uses Debian's python3-matplotlib (installed by scripts/setup.sh); run it with
/usr/bin/python3, not the python3 that may be first on PATH.
"""
import argparse
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def smooth(values, k=10):
    out, acc = [], []
    for v in values:
        acc.append(v)
        if len(acc) > k:
            acc.pop(0)
        out.append(sum(acc) / len(acc))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir")
    ap.add_argument("-o", "--output", default=None, help="PNG path (default RUN_DIR/learning_curve.png)")
    ap.add_argument("--title", default=None)
    args = ap.parse_args()
    path = os.path.join(args.run_dir, "metrics.jsonl")
    try:
        rows = [json.loads(line) for line in open(path) if line.strip()]
    except OSError as e:
        sys.exit(f"plot_learning_curve: cannot read {path}: {e}")
    if not rows:
        sys.exit(f"plot_learning_curve: {path} has no steps")
    steps = [r["step"] for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    ax = axes[0]
    ax.plot(steps, [r["text_loss"] for r in rows], alpha=0.3, color="C0")
    ax.plot(steps, smooth([r["text_loss"] for r in rows]), color="C0", label="text loss (LLM cross-entropy)")
    ax.set_xlabel("step")
    ax.set_ylabel("nats / token")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    ax = axes[1]
    ax.plot(steps, [r["gen_loss"] for r in rows], alpha=0.3, color="C1")
    ax.plot(steps, smooth([r["gen_loss"] for r in rows]), color="C1", label="generator loss (noise MSE)")
    ax.set_xlabel("step")
    ax.set_ylabel("MSE")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.suptitle(args.title or f"braid learning curve: {os.path.basename(os.path.normpath(args.run_dir))}")
    fig.tight_layout()
    out = args.output or os.path.join(args.run_dir, "learning_curve.png")
    fig.savefig(out, dpi=100)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
