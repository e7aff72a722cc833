#!/usr/bin/env bash
# Checks the monitoring configuration (issue 6):
#   deploy/prometheus/prometheus.yml   promtool check config (also its rule files),
#                                      with no targets file and with one in the
#                                      format `braid up` writes
#   deploy/prometheus/alerts.yml       promtool check rules (lint errors fatal)
#   deploy/prometheus/alerts_test.yml  promtool test rules (every alert firing
#                                      and not firing)
#   deploy/grafana/braid.json          tests/grafana_dashboard_check.py (JSON,
#                                      panels, metric names in docs/METRICS.md)
#                                      + promtool check rules on its queries
#   usage: tests/prometheus_config_test.sh [REPO_ROOT]   (default: this script's ..)
# A missing tool is a failure, not a skip (scripts/setup.sh installs them).
set -u

ROOT=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
cd "$ROOT" || { echo "FAIL: cannot cd to $ROOT"; exit 1; }
PROMTOOL=${PROMTOOL:-/usr/bin/promtool}
PYTHON=${PYTHON:-/usr/bin/python3}
PROM=deploy/prometheus

source tests/shell_lib.sh
test_begin braid-prom-test

# check DESCRIPTION CMD...: runs CMD, output in $T/out; fails on non-zero exit.
check() {
  local what=$1
  shift
  "$@" >"$T/out" 2>&1 || fail "$what (exit $?): $*"
  ok "$what"
}

[[ -x $PROMTOOL ]] || fail "promtool not found at $PROMTOOL (Debian package prometheus; run scripts/setup.sh)"
[[ -x $PYTHON ]] || fail "python3 not found at $PYTHON"
for f in $PROM/prometheus.yml $PROM/alerts.yml $PROM/alerts_test.yml deploy/grafana/braid.json docs/METRICS.md; do
  [[ -f $f ]] || fail "$f not found (run from the repository root)"
done

# prometheus.yml and the rule files it names. Checked on copies so that a
# developer's own targets*.json next to the real file does not matter:
# first with no targets file (file_sd only warns), then with one in the format
# `braid up` writes to its state directory.
mkdir -p "$T/no-targets" "$T/targets"
cp $PROM/prometheus.yml $PROM/alerts.yml "$T/no-targets/"
cp $PROM/prometheus.yml $PROM/alerts.yml "$T/targets/"
cat >"$T/targets/targets.json" <<'EOF'
[
  {"targets": ["127.0.0.1:39001"], "labels": {"role": "orchestrator", "instance_name": "orchestrator"}},
  {"targets": ["127.0.0.1:39002"], "labels": {"role": "reorderer", "instance_name": "reorderer"}},
  {"targets": ["127.0.0.1:39003"], "labels": {"role": "encoder", "instance_name": "encoder-0"}},
  {"targets": ["127.0.0.1:39004"], "labels": {"role": "llm", "instance_name": "llm-0"}},
  {"targets": ["127.0.0.1:39005"], "labels": {"role": "generator", "instance_name": "generator-0"}}
]
EOF
check "prometheus.yml: promtool check config (no targets file)" \
  "$PROMTOOL" check config --lint-fatal "$T/no-targets/prometheus.yml"
grep -q "SUCCESS: 1 rule files found" "$T/out" || fail "prometheus.yml does not load exactly its rule file alerts.yml"
check "prometheus.yml: promtool check config (braid up targets.json)" \
  "$PROMTOOL" check config --lint-fatal "$T/targets/prometheus.yml"
if grep -q WARNING "$T/out"; then fail "prometheus.yml did not read the sample targets.json"; fi

check "alerts.yml: promtool check rules" "$PROMTOOL" check rules --lint-fatal $PROM/alerts.yml
for alert in BraidWorkerDown BraidStepTimeRegression BraidLossNaN BraidModuleImbalanceHigh; do
  grep -q "alert: $alert\$" $PROM/alerts.yml || fail "alerts.yml has no alert $alert"
  grep -q "alertname: $alert\$" $PROM/alerts_test.yml || fail "alerts_test.yml does not test $alert"
done
ok "alerts.yml: every alert present and tested"
check "alerts_test.yml: promtool test rules" "$PROMTOOL" test rules $PROM/alerts_test.yml

check "braid.json: metric names in docs/METRICS.md" \
  "$PYTHON" tests/grafana_dashboard_check.py deploy/grafana/braid.json docs/METRICS.md --emit-rules "$T/dashboard_rules.json"
sed "s/^/       /" "$T/out"
check "braid.json: PromQL of every query parses (promtool check rules)" \
  "$PROMTOOL" check rules --lint=none "$T/dashboard_rules.json"

echo "PASS: $CHECKS checks"
