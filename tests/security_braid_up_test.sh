#!/usr/bin/env bash
# `braid up --certs DIR` with `--token-file` (issue 7, docs/RELIABILITY.md
# "Security"): every pool process serves TLS with a token, a job trains to
# the end through them, later CLI calls with only --state-dir find the CA,
# client certificate and token in state.json, and a plaintext client, a TLS
# client without the token and a missing certificate are all refused.
#   usage: tests/security_braid_up_test.sh BRAID [REPO_ROOT]
set -u

BRAID=$1
ROOT=${2:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
cd "$ROOT" || { echo "FAIL: cannot cd to $ROOT"; exit 1; }
source tests/shell_lib.sh
test_begin braid-up-certs
trap '"$BRAID" down --state-dir "$T/state" >/dev/null 2>&1; rm -rf "$T"' EXIT

"$BRAID" certs "$T/certs" >"$T/out" 2>&1 || fail "braid certs"
ok "braid certs"
umask 077
echo "tok-$RANDOM$RANDOM" >"$T/token"
cat >"$T/pools.yaml" <<POOLS
orchestrator: {listen: "127.0.0.1:0", metrics_listen: ""}
reorderer: {listen: "127.0.0.1:0", metrics_listen: "", threads: 1}
pools:
  encoder: {workers: 1, threads: 1, metrics_listen: ""}
  llm: {workers: 1, threads: 1, metrics_listen: ""}
  generator: {workers: 1, threads: 1, metrics_listen: ""}
POOLS

rm "$T/certs/worker.key"
"$BRAID" up --pools "$T/pools.yaml" --state-dir "$T/state" --certs "$T/certs" >"$T/out" 2>&1
rc=$?
[[ $rc == 2 ]] || fail "braid up with worker.key missing exited $rc, want 2"
grep -q "worker.key is missing" "$T/out" || fail "braid up did not name the missing worker.key"
[[ ! -e $T/state/state.json ]] || fail "braid up started something despite the missing key"
ok "a certs dir without worker.key: exit 2, names the file, starts nothing"
"$BRAID" certs "$T/certs" --force >"$T/out" 2>&1 || fail "braid certs --force"

"$BRAID" --token-file "$T/token" up --pools "$T/pools.yaml" --state-dir "$T/state" --certs "$T/certs" \
  --runs-root "$T" >"$T/addr" 2>"$T/out" || fail "braid up --certs --token-file"
addr=$(cat "$T/addr")
# braid up waits for the orchestrator and reorderer; a worker without a
# metrics port may still be starting, so its log gets up to 30 s.
for log in "$T"/state/logs/{orchestrator,reorderer,encoder-0}.log; do
  for _ in $(seq 1 120); do
    grep -q "TLS on, bearer token required" "$log" 2>/dev/null && break
    sleep 0.25
  done
  grep -q "TLS on, bearer token required" "$log" || { cp "$log" "$T/out"; fail "${log##*/} does not serve TLS with a token"; }
done
ok "braid up --certs: orchestrator, reorderer and workers serve TLS with the token"

sed "s|^  dir: runs|  dir: $T/runs|" tests/data/jobs/tiny.yaml >"$T/job.yaml"
env -u BRAID_TOKEN -u BRAID_TOKEN_FILE -u BRAID_TLS_CA "$BRAID" submit "$T/job.yaml" --state-dir "$T/state" \
  >"$T/out" 2>&1 || fail "braid submit with only --state-dir"
id=$(awk '/^submitted/ {print $2}' "$T/out")
[[ -n $id ]] || fail "no job id from braid submit"
for _ in $(seq 1 240); do
  env -u BRAID_TOKEN -u BRAID_TOKEN_FILE "$BRAID" status "$id" --state-dir "$T/state" --json >"$T/out" 2>&1 ||
    fail "braid status with only --state-dir"
  grep -q '"JOB_STATE_SUCCEEDED"' "$T/out" && break
  grep -q '"JOB_STATE_FAILED"\|"JOB_STATE_CANCELLED"' "$T/out" && fail "the job did not succeed"
  sleep 0.25
done
grep -q '"JOB_STATE_SUCCEEDED"' "$T/out" || fail "the job did not finish in 60 s"
ok "a job submitted with only --state-dir trains to SUCCEEDED over TLS"

env -u BRAID_TOKEN -u BRAID_TOKEN_FILE -u BRAID_TLS_CA "$BRAID" status "$id" --orchestrator "$addr" >"$T/out" 2>&1 &&
  fail "a plaintext client got an answer"
grep -q "UNAVAILABLE" "$T/out" || fail "a plaintext client: want UNAVAILABLE"
ok "a plaintext client cannot connect"
env -u BRAID_TOKEN -u BRAID_TOKEN_FILE "$BRAID" status "$id" --orchestrator "$addr" --tls-ca "$T/certs/ca.pem" \
  >"$T/out" 2>&1 && fail "a TLS client without the token got an answer"
grep -q "UNAUTHENTICATED" "$T/out" || fail "a TLS client without the token: want UNAUTHENTICATED"
ok "a TLS client without the token gets UNAUTHENTICATED"

"$BRAID" down --state-dir "$T/state" >"$T/out" 2>&1 || fail "braid down"
ok "braid down"
echo "PASS ($CHECKS checks)"
