#!/usr/bin/env python3
"""Parallel layouts against the single-process reference (issue 8,
docs/PARALLELISM.md).

Usage: parallel_equivalence_test.py BRAID CASE

`braid run` trains the demo job (examples/fashion-mllm.yaml with an LLM of
width 96 and 6 heads, so TP 2 and TP 3 both divide it) for 20 steps in real
worker processes under the case's layout:

  llm_tp2          LLM TP 2
  llm_tp3          LLM TP 3
  enc_tp2_llm_tp3  encoder TP 2 feeding LLM TP 3 (boundaries across TP layouts)
  tp_dp            encoder DP 2 x TP 2, LLM DP 2 x TP 2
  llm_pp2          LLM PP 2 (a layer per stage)
  llm_tp2_pp2      LLM TP 2 x PP 2
  resume_tp2_pp2   LLM TP 2 x PP 2 to step 10, then a new job resumes its
                   checkpoint step-10 with LLM TP 1 x PP 1 and encoder TP 2

Every step's loss, text loss and generation loss must be within 1e-4
relative of `braid train --single-process`, and the final checkpoint's
parameters (whole tensors) within 1e-4 relative (L2) per module.
"""
import array
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

from demo_job import demo_job_yaml

STEPS = 20
TOL = 1e-4
MODEL = {"llm": {"width": 96, "heads": 6, "mlp_hidden": 192}}
ONE = (1, 1, 1)
CASES = {
    "llm_tp2": {"encoder": ONE, "llm": (1, 2, 1), "generator": ONE},
    "llm_tp3": {"encoder": ONE, "llm": (1, 3, 1), "generator": ONE},
    "enc_tp2_llm_tp3": {"encoder": (1, 2, 1), "llm": (1, 3, 1), "generator": ONE},
    "tp_dp": {"encoder": (2, 2, 1), "llm": (2, 2, 1), "generator": ONE},
    "llm_pp2": {"encoder": ONE, "llm": (1, 1, 2), "generator": ONE},
    "llm_tp2_pp2": {"encoder": ONE, "llm": (1, 2, 2), "generator": ONE},
}


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def log(msg):
    print(msg, flush=True)


def read_jsonl(path):
    return [json.loads(line) for line in open(path) if line.strip()]


def read_safetensors(path):
    """{name: list of floats} of an F32 safetensors file."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        if t["dtype"] != "F32":
            fail(f"{path}: {name} is {t['dtype']}")
        a = array.array("f")
        a.frombytes(data[t["data_offsets"][0]:t["data_offsets"][1]])
        out[name] = a
    return out


def write_job(tmp, name, layout, resume_from="", steps=STEPS, every=10):
    path = os.path.join(tmp, name)
    open(path, "w").write(demo_job_yaml(steps, every, layout, resume_from=resume_from, model=MODEL))
    return path


def braid_run(braid, tmp, job):
    r = subprocess.run([braid, "run", job, "-q", "--runs-root", tmp, "--state-dir", os.path.join(tmp, "state")],
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        fail(f"braid run {job}: exit {r.returncode}\n{r.stdout}\n{r.stderr}")
    for line in r.stdout.splitlines():
        if line.startswith("RUN_DIR "):
            return line.split(" ", 1)[1]
    fail(f"braid run printed no RUN_DIR:\n{r.stdout}")


def reference(braid, tmp):
    job = write_job(tmp, "reference.yaml", CASES["llm_tp2"])  # the single-process trainer ignores the layout
    run = os.path.join(tmp, "reference")
    r = subprocess.run([braid, "train", job, "--single-process", "--run-dir", run, "-q"], capture_output=True,
                       text=True, timeout=600)
    if r.returncode != 0:
        fail(f"braid train (reference): {r.stderr}")
    return run


def check_losses(metrics, ref_metrics):
    if [m["step"] for m in metrics] != list(range(STEPS)):
        fail(f"steps {[m['step'] for m in metrics]}, want 0..{STEPS - 1} once each")
    worst = 0.0
    for m, r in zip(metrics, ref_metrics):
        for key in ("loss", "text_loss", "gen_loss"):
            rel = abs(m[key] - r[key]) / max(abs(r[key]), 1e-12)
            worst = max(worst, rel)
            if rel > TOL:
                fail(f"step {m['step']} {key} {m[key]!r} vs single-process {r[key]!r}: {rel:.2e} relative")
    log(f"ok: {STEPS} steps, worst loss difference {worst:.2e} relative")


def check_params(run_dir, ref_dir):
    for module in ("encoder", "llm", "generator"):
        got = read_safetensors(os.path.join(run_dir, "checkpoints", f"step-{STEPS}", f"{module}.safetensors"))
        want = read_safetensors(os.path.join(ref_dir, "checkpoints", f"step-{STEPS}", f"{module}.safetensors"))
        if sorted(got) != sorted(want):
            fail(f"{module}: tensors {sorted(set(got) ^ set(want))} differ between the runs")
        num = den = 0.0
        for name, w in want.items():
            g = got[name]
            if len(g) != len(w):
                fail(f"{module} {name}: {len(g)} values, the reference {len(w)}")
            num += sum((a - b) * (a - b) for a, b in zip(g, w))
            den += sum(b * b for b in w)
        rel = (num / max(den, 1e-30)) ** 0.5
        if rel > TOL:
            fail(f"{module}: final parameters {rel:.2e} relative (L2) from the single-process run")
        log(f"ok: {module} final parameters {rel:.2e} relative (L2)")


def main():
    if len(sys.argv) != 3:
        fail(__doc__)
    braid, case = os.path.abspath(sys.argv[1]), sys.argv[2]
    if case not in CASES and case != "resume_tp2_pp2":
        fail(f"unknown case {case}")
    tmp = tempfile.mkdtemp(prefix=f"braid-parallel-{case}-")
    ok = False
    try:
        ref = reference(braid, tmp)
        ref_metrics = read_jsonl(os.path.join(ref, "metrics.jsonl"))
        if case == "resume_tp2_pp2":
            first = braid_run(braid, tmp, write_job(tmp, "first.yaml", CASES["llm_tp2_pp2"], steps=STEPS, every=10))
            step10 = os.path.relpath(os.path.join(first, "checkpoints", "step-10"), tmp)
            log(f"LLM TP 2 x PP 2 run done; a job with encoder TP 2, LLM TP 1 x PP 1 resumes {step10}")
            layout = {"encoder": (1, 2, 1), "llm": ONE, "generator": ONE}
            second = braid_run(braid, tmp, write_job(tmp, "second.yaml", layout, resume_from=step10))
            metrics = [m for m in read_jsonl(os.path.join(first, "metrics.jsonl")) if m["step"] < 10]
            metrics += read_jsonl(os.path.join(second, "metrics.jsonl"))
            check_losses(metrics, ref_metrics)
            check_params(second, ref)
        else:
            run = braid_run(braid, tmp, write_job(tmp, "job.yaml", CASES[case]))
            check_losses(read_jsonl(os.path.join(run, "metrics.jsonl")), ref_metrics)
            check_params(run, ref)
        ok = True
    finally:
        if ok:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"run dirs and logs kept in {tmp}", file=sys.stderr)
    log("PASS")


if __name__ == "__main__":
    main()
