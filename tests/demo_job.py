"""The demo job (examples/fashion-mllm.yaml) edited for integration tests:
shared by fault_injection_test.py and parallel_equivalence_test.py."""
import re


def demo_job_yaml(steps, every, layout, keep=10, resume_from="", model=None):
    """The demo job cut to `steps` steps (a checkpoint every `every`) on one
    thread per rank, with layout {module: (dp, tp, pp)} and optional model
    overrides {"llm": {"width": 96, ...}}."""
    text = open("examples/fashion-mllm.yaml").read()

    def put(key, value, current=r"[^#\n]*", section=None):
        nonlocal text
        start = 0
        if section:  # only inside "  <section>:" (a model block)
            start = text.index(f"\n  {section}:")
        head, tail = text[:start], text[start:]
        tail, n = re.subn(rf"(?m)^( +){key}: {current}", rf"\g<1>{key}: {value} ", tail, count=1)
        if n != 1:
            raise ValueError(f"examples/fashion-mllm.yaml has no '{key}:' line to override")
        text = head + tail

    put("steps", steps)
    put("every", every)
    put("keep", keep)
    put("threads", 1)
    put("warmup_steps", 4)
    put("epoch_samples", 2000)
    for module, (dp, tp, pp) in layout.items():
        put(module, f"{{dp: {dp}, tp: {tp}, pp: {pp}}}", r"\{dp: \d+, tp: \d+, pp: \d+\}")
    if resume_from:
        put("resume_from", resume_from)
    for module, fields in (model or {}).items():
        for key, value in fields.items():
            put(key, value, section=module)
    return text
