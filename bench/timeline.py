"""Per-module span totals of a `braid run` directory's timeline.jsonl, shared
by the bench scripts (docs/PERFORMANCE.md defines the span kinds)."""
import json


def module_means(run_dir, skip=5):
    """Per module, the mean per step (steps skip..) and rank of: compute
    (compute + optimizer spans), bubble (recv_wait: the peer still computing),
    transfer_wait (waits after the data was sent), sends (send + allreduce
    spans) and communication (the boundary transfer time, at least the
    transfer waits, plus sends)."""
    steps = [json.loads(l) for l in open(run_dir + "/timeline.jsonl")][skip:]
    mods = {}
    for st in steps:
        for r in st["ranks"]:
            m = mods.setdefault(r["module"], {"compute": 0.0, "bubble": 0.0, "transfer_wait": 0.0, "sends": 0.0,
                                              "communication": 0.0, "ranks": set()})
            m["ranks"].add(r["rank"])
            waited = 0.0
            for kind, mb, start, sec in r["spans"]:
                if kind in ("compute", "optimizer"): m["compute"] += sec
                elif kind == "recv_wait": m["bubble"] += sec
                elif kind == "transfer_wait": waited += sec
                elif kind in ("send", "allreduce"): m["sends"] += sec
            m["transfer_wait"] += waited
            m["communication"] += max(r["transfer_seconds"][0], waited)
    out = {}
    for name, m in mods.items():
        k = len(steps) * len(m["ranks"])
        out[name] = {x: m[x] / k for x in ("compute", "bubble", "transfer_wait", "sends")}
        out[name]["communication"] = (m["communication"] + m["sends"]) / k
    return out
