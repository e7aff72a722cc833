#!/usr/bin/python3
"""Checks the Grafana dashboard against docs/METRICS.md.

usage: grafana_dashboard_check.py [DASHBOARD.json [METRICS.md]] [--emit-rules FILE]
       (defaults: deploy/grafana/braid.json docs/METRICS.md, from the repo root)

Fails (exit 1) when the dashboard is not valid JSON, has no panels or no
queries, or a panel query (or template variable query) uses a metric that
docs/METRICS.md does not list. Metrics are the identifiers starting with
`braid_` or `process_`; `NAME_bucket`, `NAME_sum` and `NAME_count` are
accepted when NAME is a histogram in METRICS.md. Prometheus' own series
(`up`, ...) are not braid metrics and are not checked.

--emit-rules FILE writes every query as a recording rule (Grafana variables
replaced by plain values) so `promtool check rules FILE` can check the
PromQL syntax.

Python standard library only (run with /usr/bin/python3).
"""
import json
import re
import sys

METRIC_RE = re.compile(r"(?<![A-Za-z0-9_:])((?:braid|process)_[A-Za-z0-9_:]*)")
HIST_SUFFIXES = ("_bucket", "_sum", "_count")


def load_metrics(path):
    """Returns {name: type} from the first column of METRICS.md's tables."""
    metrics = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line.startswith("|"):
                continue
            cells = [c.strip() for c in line.strip("|").split("|")]
            m = re.fullmatch(r"`([A-Za-z_:][A-Za-z0-9_:]*)`", cells[0])
            if m:
                metrics[m.group(1)] = cells[1] if len(cells) > 1 else ""
    return metrics


def walk_panels(panels):
    for p in panels or []:
        yield p
        # Collapsed rows keep their panels inside.
        yield from walk_panels(p.get("panels"))


def queries(dash):
    """Yields (where, expr) for every panel target and query variable."""
    for p in walk_panels(dash.get("panels")):
        for t in p.get("targets") or []:
            expr = t.get("expr")
            if expr is not None:
                yield 'panel %r (id %s) target %s' % (p.get("title"), p.get("id"), t.get("refId")), expr
    for v in (dash.get("templating") or {}).get("list") or []:
        if v.get("type") != "query":
            continue
        q = v.get("query")
        if isinstance(q, dict):
            q = q.get("query")
        if q:
            yield "variable %r" % v.get("name"), q


def check_name(name, metrics):
    if name in metrics:
        return True
    for suffix in HIST_SUFFIXES:
        if name.endswith(suffix) and metrics.get(name[: -len(suffix)]) == "histogram":
            return True
    return False


def as_promql(expr):
    """Grafana query -> plain PromQL for promtool (variables -> values)."""
    expr = re.sub(r"label_values\(\s*([^,()]+?)\s*,\s*\w+\s*\)", r"\1", expr)
    for var, value in (("$__rate_interval", "1m"), ("$__interval", "1m"), ("$__range", "1h")):
        expr = expr.replace(var, value)
    return re.sub(r"\$\{?\w+\}?", ".*", expr)


def main(argv):
    args = list(argv)
    emit = None
    if "--emit-rules" in args:
        i = args.index("--emit-rules")
        if i + 1 >= len(args):
            print("FAIL: --emit-rules needs a file", file=sys.stderr)
            return 2
        emit = args[i + 1]
        del args[i : i + 2]
    dash_path = args[0] if len(args) > 0 else "deploy/grafana/braid.json"
    metrics_path = args[1] if len(args) > 1 else "docs/METRICS.md"

    try:
        with open(dash_path, encoding="utf-8") as f:
            dash = json.load(f)
    except (OSError, ValueError) as e:
        print("FAIL: %s: %s" % (dash_path, e))
        return 1
    try:
        metrics = load_metrics(metrics_path)
    except OSError as e:
        print("FAIL: %s: %s" % (metrics_path, e))
        return 1
    if not metrics:
        print("FAIL: %s: no metric names found in its tables" % metrics_path)
        return 1
    if not isinstance(dash, dict) or not dash.get("panels"):
        print("FAIL: %s: no panels" % dash_path)
        return 1

    errors = []
    exprs = list(queries(dash))
    if not exprs:
        errors.append("no panel queries")
    used = set()
    for where, expr in exprs:
        if not expr.strip():
            errors.append("%s: empty expr" % where)
        for name in METRIC_RE.findall(expr):
            used.add(name)
            if not check_name(name, metrics):
                errors.append("%s: metric %s is not in %s" % (where, name, metrics_path))
    for e in errors:
        print("FAIL: %s: %s" % (dash_path, e))
    if errors:
        return 1

    if emit:
        rules = [{"record": "dashboard_query_%d" % i, "expr": as_promql(expr)}
                 for i, (_, expr) in enumerate(exprs)]
        with open(emit, "w", encoding="utf-8") as f:
            json.dump({"groups": [{"name": "dashboard", "rules": rules}]}, f, indent=1)

    panels = sum(1 for p in walk_panels(dash["panels"]) if p.get("type") != "row")
    print("ok   %s: %d panels, %d queries, %d metric names, all in %s"
          % (dash_path, panels, len(exprs), len(used), metrics_path))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
