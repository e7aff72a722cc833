#!/usr/bin/env python3
"""Fault injection on a disaggregated job (docs/RELIABILITY.md, issue 7).

Usage: fault_injection_test.py BRAID CASE

`braid up` (with its supervisor) runs the demo job (cut to 32 steps) with layout encoder 1 /
LLM 2 / generator 1; at a random step the test kill -9s one process:

  encoder, llm, generator   a worker (the LLM's rank 1)
  reorderer                 the data reorderer
  checkpoint                the first module rank 0 to write checkpoint
                            step-8 dies halfway through its file
                            (BRAID_FAULT_CRASH_IN_CHECKPOINT)
  orchestrator              the orchestrator (its job store is SQLite)
  llm_tp_pp                 the LLM at TP 2 x PP 2: its rank 2 (stage 1)
  resize                    no kill: a DP 2/2/1 run is cancelled after a
                            checkpoint and a new job resumes it at 1/3/2

Then the job must complete, its ledger must hold every step once with the
samples of an uninterrupted run, and every step's loss must equal the
uninterrupted single-process run's within 1e-4 relative.
"""
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from demo_job import demo_job_yaml

STEPS = 32
EVERY = 4
TOL = 1e-4


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def log(msg):
    print(msg, flush=True)


def job_yaml(layout, extra="", llm_tp_pp=(1, 1)):
    """The demo job (examples/fashion-mllm.yaml), cut to STEPS steps on one thread per rank."""
    enc, llm, gen = layout
    return demo_job_yaml(STEPS, EVERY, {"encoder": (enc, 1, 1), "llm": (llm, *llm_tp_pp), "generator": (gen, 1, 1)},
                         resume_from=extra)


def pools_yaml(enc, llm, gen):
    return ("orchestrator: {listen: \"127.0.0.1:0\", metrics_listen: \"\"}\n"
            "reorderer: {listen: \"127.0.0.1:0\", metrics_listen: \"\", threads: 1}\n"
            f"pools:\n  encoder: {{workers: {enc}, threads: 1, metrics_listen: \"\"}}\n"
            f"  llm: {{workers: {llm}, threads: 1, metrics_listen: \"\"}}\n"
            f"  generator: {{workers: {gen}, threads: 1, metrics_listen: \"\"}}\n")


def read_jsonl(path):
    if not os.path.exists(path):
        return []
    out = []
    for line in open(path):
        line = line.strip()
        if line:
            out.append(json.loads(line))
    return out


class Cluster:
    def __init__(self, braid, tmp, pools, env=None):
        self.braid, self.tmp = braid, tmp
        self.state = os.path.join(tmp, "state")
        self.env = dict(os.environ, **(env or {}))
        path = os.path.join(tmp, "pools.yaml")
        open(path, "w").write(pools)
        r = self.run("up", "--pools", path, timeout=120)
        if r.returncode != 0:
            fail(f"braid up: exit {r.returncode}: {r.stderr}")

    def run(self, *args, timeout=60):
        return subprocess.run([self.braid, *args, "--state-dir", self.state], capture_output=True, text=True,
                              timeout=timeout, cwd=self.tmp, env=self.env)

    def pid(self, name):
        st = json.load(open(os.path.join(self.state, "state.json")))
        for p in st["processes"]:
            if p["name"] == name:
                return p["pid"]
        fail(f"no process {name} in state.json")

    def submit(self, yaml_text, name):
        path = os.path.join(self.tmp, name)
        open(path, "w").write(yaml_text)
        r = self.run("submit", path)
        if r.returncode != 0:
            fail(f"braid submit: exit {r.returncode}: {r.stderr}")
        return r.stdout.strip().split()[-1]

    def job(self, job_id):
        for _ in range(20):  # the orchestrator may be restarting
            r = self.run("status", job_id, "--json", timeout=30)
            if r.returncode == 0:
                return json.loads(r.stdout)
            time.sleep(0.5)
        fail(f"braid status {job_id}: {r.stderr}")

    def wait_final(self, job_id, timeout=300):
        deadline = time.time() + timeout
        while time.time() < deadline:
            j = self.job(job_id)
            if j["state"] in ("JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED"):
                return j
            time.sleep(0.5)
        fail(f"job {job_id} not done after {timeout} s: {self.job(job_id)}")

    def down(self):
        self.run("down", timeout=120)


def wait_for(what, timeout, f):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = f()
        if v:
            return v
        time.sleep(0.05)
    fail(f"timed out after {timeout} s waiting for {what}")


def reference(braid, tmp):
    """The uninterrupted run: the single-process trainer."""
    path = os.path.join(tmp, "reference.yaml")
    open(path, "w").write(job_yaml((1, 1, 1)))
    ref = os.path.join(tmp, "reference")
    r = subprocess.run([braid, "train", path, "--single-process", "--run-dir", ref, "-q"], capture_output=True,
                       text=True, timeout=300, cwd=tmp)
    if r.returncode != 0:
        fail(f"braid train (reference): {r.stderr}")
    return {m["step"]: m for m in read_jsonl(os.path.join(ref, "metrics.jsonl"))}, \
        {l["step"]: l["samples"] for l in read_jsonl(os.path.join(ref, "ledger.jsonl"))}


def check_run(run_dirs, ref_metrics, ref_ledger, first_step=0):
    """Every step once, in order, the reference's samples and losses."""
    metrics = [m for d in run_dirs for m in read_jsonl(os.path.join(d, "metrics.jsonl"))]
    ledger = [l for d in run_dirs for l in read_jsonl(os.path.join(d, "ledger.jsonl"))]
    steps = [m["step"] for m in metrics]
    if steps != list(range(first_step, STEPS)):
        fail(f"metrics.jsonl steps are {steps}, want {first_step}..{STEPS - 1} once each")
    if [l["step"] for l in ledger] != list(range(first_step, STEPS)):
        fail(f"ledger.jsonl steps are {[l['step'] for l in ledger]}")
    seen = set()
    for l in ledger:
        if l["samples"] != ref_ledger[l["step"]]:
            fail(f"step {l['step']} trained on {l['samples']}, the uninterrupted run on {ref_ledger[l['step']]}")
        if seen & set(l["samples"]):
            fail(f"step {l['step']} repeats samples {sorted(seen & set(l['samples']))}")
        seen |= set(l["samples"])
    worst = 0.0
    for m in metrics:
        r = ref_metrics[m["step"]]
        for key in ("loss", "text_loss", "gen_loss"):
            rel = abs(m[key] - r[key]) / max(abs(r[key]), 1e-12)
            worst = max(worst, rel)
            if rel > TOL:
                fail(f"step {m['step']} {key} {m[key]!r} vs uninterrupted {r[key]!r}: {rel:.2e} relative")
    log(f"ok: {len(metrics)} steps, each once with the uninterrupted run's samples; worst loss difference "
        f"{worst:.2e} relative")


def check_history(job, want):
    texts = [h["text"] for h in job.get("history", [])]
    if not any(want in t for t in texts):
        fail(f"the job's history {texts} has nothing about {want!r}")
    log("history: " + " | ".join(texts))


def kill_case(braid, tmp, case, ref_metrics, ref_ledger, rng):
    env = {}
    if case == "checkpoint":
        env["BRAID_FAULT_CRASH_IN_CHECKPOINT"] = f"8:{tmp}/crashed"
    # llm_tp_pp: the LLM as TP 2 x PP 2 (4 ranks), and its rank 2 (stage 1,
    # TP rank 0) the victim: recovery re-gathers and re-slices the checkpoint.
    tp_pp = case == "llm_tp_pp"
    c = Cluster(braid, tmp, pools_yaml(1, 4 if tp_pp else 2, 1), env)
    try:
        job_id = c.submit(job_yaml((1, 1, 1), llm_tp_pp=(2, 2)) if tp_pp else job_yaml((1, 2, 1)), "job.yaml")
        run_dir = os.path.join(tmp, "runs", job_id)
        victim = {"encoder": "encoder-0", "llm": "llm-1", "llm_tp_pp": "llm-2", "generator": "generator-0",
                  "reorderer": "reorderer",
                  "orchestrator": "orchestrator"}.get(case)
        if victim:
            # The reorderer early: workers ask for 8 steps per stream, so
            # a kill late in a short job may find every stream already sent.
            at = rng.randint(2, 6) if case == "reorderer" else rng.randint(3, STEPS - 8)
            wait_for(f"step {at}", 120, lambda: len(read_jsonl(os.path.join(run_dir, "metrics.jsonl"))) >= at)
            pid = c.pid(victim)
            os.kill(pid, signal.SIGKILL)
            log(f"kill -9 {victim} (pid {pid}) after step {at}")
        job = c.wait_final(job_id)
        if job["state"] != "JOB_STATE_SUCCEEDED":
            fail(f"job ended {job['state']}: {job.get('reason')}; history {job.get('history')}")
        if case == "checkpoint":
            if not os.path.exists(f"{tmp}/crashed"):
                fail("no process crashed in checkpoint step-8")
            check_history(job, "resuming from step 4")
        elif case != "orchestrator":
            check_history(job, "at step")  # "<rank> lost at step N" or "<rank> failed at step N"
        else:
            check_history(job, "orchestrator restarted")
        if int(job.get("restarts", 0)) < 1:
            fail(f"the job reports {job.get('restarts', 0)} restarts")
        check_run([run_dir], ref_metrics, ref_ledger)
        st = json.load(open(os.path.join(c.state, "state.json")))
        restarted = [p["name"] for p in st["processes"] if p.get("restarts", 0) > 0]
        log(f"restarted by the supervisor: {restarted}")
        if not restarted:
            fail("the supervisor restarted nothing")
    finally:
        c.down()


def resize_case(braid, tmp, ref_metrics, ref_ledger):
    c = Cluster(braid, tmp, pools_yaml(2, 3, 2))
    try:
        first = c.submit(job_yaml((2, 2, 1)), "first.yaml")
        first_dir = os.path.join(tmp, "runs", first)
        wait_for("checkpoint step-8", 120, lambda: os.path.isdir(os.path.join(first_dir, "checkpoints", "step-8")))
        r = c.run("cancel", first)
        if r.returncode != 0 and "already" not in r.stderr:  # a fast run may have finished meanwhile
            fail(f"braid cancel: {r.stderr}")
        c.wait_final(first)
        # Resume from step-8 itself, whatever the first run got to.
        resume = 8
        log(f"DP 2/2/1 run stopped; a 1/3/2 job resumes from its checkpoint step-{resume}")
        second = c.submit(job_yaml((1, 3, 2), f"runs/{first}/checkpoints/step-{resume}"),
                          "second.yaml")
        job = c.wait_final(second)
        if job["state"] != "JOB_STATE_SUCCEEDED":
            fail(f"the 1/3/2 job ended {job['state']}: {job.get('reason')}")
        second_dir = os.path.join(tmp, "runs", second)
        # The first run's committed steps before the checkpoint, then the second's.
        kept = [m for m in read_jsonl(os.path.join(first_dir, "metrics.jsonl")) if m["step"] < resume]
        kept_ledger = [l for l in read_jsonl(os.path.join(first_dir, "ledger.jsonl")) if l["step"] < resume]
        stitched = os.path.join(tmp, "stitched")
        os.makedirs(stitched)
        with open(os.path.join(stitched, "metrics.jsonl"), "w") as f:
            for m in kept + read_jsonl(os.path.join(second_dir, "metrics.jsonl")):
                f.write(json.dumps(m) + "\n")
        with open(os.path.join(stitched, "ledger.jsonl"), "w") as f:
            for l in kept_ledger + read_jsonl(os.path.join(second_dir, "ledger.jsonl")):
                f.write(json.dumps(l) + "\n")
        check_run([stitched], ref_metrics, ref_ledger)
    finally:
        c.down()


def main():
    if len(sys.argv) != 3:
        fail(__doc__)
    braid, case = os.path.abspath(sys.argv[1]), sys.argv[2]
    seed = int(os.environ.get("BRAID_FAULT_SEED", time.time_ns() % 100000))
    log(f"case {case}, seed {seed} (BRAID_FAULT_SEED={seed} repeats it)")
    rng = random.Random(seed)
    tmp = tempfile.mkdtemp(prefix=f"braid-fault-{case}-")
    ok = False
    try:
        ref_metrics, ref_ledger = reference(braid, tmp)
        if case == "resize":
            resize_case(braid, tmp, ref_metrics, ref_ledger)
        elif case in ("encoder", "llm", "llm_tp_pp", "generator", "reorderer", "checkpoint", "orchestrator"):
            kill_case(braid, tmp, case, ref_metrics, ref_ledger, rng)
        else:
            fail(f"unknown case {case}")
        ok = True
    finally:
        if ok:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"logs kept in {tmp}/state/logs", file=sys.stderr)
    log("PASS")


if __name__ == "__main__":
    main()
