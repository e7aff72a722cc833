#!/usr/bin/env bash
# Deployment manifests (deploy/): kustomize renders the Kubernetes base, each
# overlay and the submit Job; every rendered object validates OFFLINE against
# the Kubernetes schemas, unknown fields included (tools/k8s-validate/
# validate.mjs) and against braid's own rules (check_braid.mjs: references,
# probes, scrape annotations, GPUs, replicas); yamllint passes on deploy/;
# the Slurm script parses and passes shellcheck; the Dockerfile's COPY
# sources exist.
#   usage: tests/deploy_manifests_test.sh [BRAID_BINARY]
# With BRAID_BINARY, each planner cluster spec under deploy/k8s/ also loads
# (`braid plan`). A missing tool is a failure: scripts/setup.sh (through
# scripts/setup_tools.sh) installs them all. Prints each check; exits non-zero
# at the first failure.
set -u
BRAID=${1:-}
[[ -n $BRAID && $BRAID != /* ]] && BRAID=$PWD/$BRAID
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
VALIDATOR=tools/k8s-validate
K8S=deploy/k8s
SBATCH=deploy/slurm/braid.sbatch
SELF=tests/deploy_manifests_test.sh

# shellcheck source=tests/shell_lib.sh
source tests/shell_lib.sh
test_begin braid-deploy-test
SETUP_HINT="run scripts/setup.sh (or scripts/setup_tools.sh)"

# ---- tools ------------------------------------------------------------------
# scripts/setup_tools.sh puts a kubectl there when PATH has none new enough
KUBECTL=$VALIDATOR/node_modules/.bin/kubectl
[[ -x $KUBECTL ]] || KUBECTL=$(command -v kubectl || true)
[[ -n $KUBECTL ]] || fail "kubectl not found: $SETUP_HINT"
command -v node >/dev/null || fail "node not found: $SETUP_HINT"
command -v yamllint >/dev/null || fail "yamllint not found: $SETUP_HINT"
command -v shellcheck >/dev/null || fail "shellcheck not found: $SETUP_HINT"
[[ -d $VALIDATOR/node_modules/kubernetes-models && -d $VALIDATOR/node_modules/js-yaml ]] ||
  fail "$VALIDATOR/node_modules is not installed: $SETUP_HINT"
# The manifests use kustomize v4+ fields (directories in resources, replicas,
# labels, patches); Debian's kubernetes-client (kubectl 1.20) has v2.0.3.
"$KUBECTL" version --client >"$T/stdout" 2>"$T/stderr" || fail "$KUBECTL version --client failed"
KUSTOMIZE=$(sed -n 's/^Kustomize Version: v\([0-9]*\).*/\1/p' "$T/stdout")
[[ -n $KUSTOMIZE && $KUSTOMIZE -ge 4 ]] ||
  fail "$KUBECTL embeds kustomize ${KUSTOMIZE:-(unknown)}; need v4 or newer (kubectl 1.21+): $SETUP_HINT"
ok "tools: $KUBECTL (kustomize v$KUSTOMIZE), node $(node --version), $(yamllint --version), shellcheck"

# ---- the validator itself rejects a bad object ------------------------------
# (guards against a validator that passes everything, e.g. a broken install)
cat >"$T/bad.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: bad}
spec:
  replicas: two
  selector: {matchLabels: {app: bad}}
  template:
    metadata: {labels: {app: bad}}
    spec:
      containers:
        - name: c
          image: braid:latest
          livenessProbe: {grcp: {port: 7070}}
EOF
node "$VALIDATOR/validate.mjs" --name self-test <"$T/bad.yaml" >"$T/stdout" 2>"$T/stderr" &&
  fail "validate.mjs accepted an invalid Deployment"
grep -q 'replicas: must be integer' "$T/stdout" || fail "validate.mjs missed the type error"
grep -q 'unknown field "grcp"' "$T/stdout" || fail "validate.mjs missed the unknown field"
ok "validate.mjs rejects a wrong type and an unknown field"

# ---- kustomize renders, schemas and braid's rules ---------------------------
# render NAME DIR [check_braid.mjs args...]
render() {
  local name=$1 dir=$2
  shift 2
  "$KUBECTL" kustomize "$dir" >"$T/$name.yaml" 2>"$T/stderr" || { : >"$T/stdout"; fail "kubectl kustomize $dir"; }
  [[ -s $T/$name.yaml ]] || fail "kubectl kustomize $dir rendered nothing"
  node "$VALIDATOR/validate.mjs" --name "$dir" <"$T/$name.yaml" >"$T/stdout" 2>"$T/stderr" ||
    fail "schema validation of $dir"
  local objects
  objects=$(sed -n 's/.*: \([0-9]*\) of .* objects valid$/\1/p' "$T/stdout")
  node "$VALIDATOR/check_braid.mjs" --name "$dir" "$@" <"$T/$name.yaml" >"$T/stdout" 2>"$T/stderr" ||
    fail "braid rules on $dir"
  ok "$dir: renders, $objects objects valid against the Kubernetes schemas and braid's rules"
}
render base "$K8S" --replicas braid-encoder=1,braid-llm=1,braid-generator=1
render small "$K8S/overlays/small" --replicas braid-encoder=1,braid-llm=2,braid-generator=1
render large "$K8S/overlays/large" --replicas braid-encoder=16,braid-llm=128,braid-generator=8
render submit "$K8S/submit" --external ConfigMap/braid-job

# every overlay under overlays/ is covered above
for d in "$K8S"/overlays/*/; do
  d=${d%/}
  [[ -f $T/${d##*/}.yaml ]] || fail "overlay $d is not rendered by this test: add it"
done

# deploy/k8s renders exactly its base
"$KUBECTL" kustomize "$K8S/base" >"$T/base-dir.yaml" 2>"$T/stderr" || fail "kubectl kustomize $K8S/base"
cmp -s "$T/base.yaml" "$T/base-dir.yaml" || fail "$K8S and $K8S/base render differently"
ok "$K8S renders the same objects as $K8S/base"

# the job ConfigMap is the demo job, byte for byte
cmp -s "$K8S/base/job.yaml" examples/fashion-mllm.yaml ||
  fail "$K8S/base/job.yaml differs from examples/fashion-mllm.yaml: cp examples/fashion-mllm.yaml $K8S/base/job.yaml"
ok "$K8S/base/job.yaml is examples/fashion-mllm.yaml"

# ---- planner cluster specs (with a braid binary) ----------------------------
if [[ -n $BRAID ]]; then
  [[ -x $BRAID ]] || fail "$BRAID is not executable"
  while IFS= read -r spec; do
    "$BRAID" plan --job "$K8S/base/job.yaml" --cluster "$spec" >"$T/stdout" 2>"$T/stderr" ||
      fail "braid plan --cluster $spec"
    ok "$spec loads as a cluster spec (braid plan)"
  done < <(find "$K8S" -name cluster.yaml | sort)
fi

# ---- yamllint -----------------------------------------------------------------
yamllint --strict -c deploy/.yamllint deploy/ >"$T/stdout" 2>"$T/stderr" || fail "yamllint --strict -c deploy/.yamllint deploy/"
ok "yamllint --strict deploy/"

# ---- Slurm ----------------------------------------------------------------------
bash -n "$SBATCH" >"$T/stdout" 2>"$T/stderr" || fail "bash -n $SBATCH"
ok "bash -n $SBATCH"
shellcheck -x "$SBATCH" scripts/setup_tools.sh "$SELF" >"$T/stdout" 2>"$T/stderr" || fail "shellcheck $SBATCH scripts/setup_tools.sh $SELF"
ok "shellcheck $SBATCH scripts/setup_tools.sh $SELF"

# ---- Docker -------------------------------------------------------------------
# (no Docker engine here: check that the build stage's COPY sources exist)
DOCKERFILE=deploy/docker/Dockerfile
[[ -f $DOCKERFILE && -f $DOCKERFILE.dockerignore ]] || fail "$DOCKERFILE or its .dockerignore is missing"
while read -r _ args; do
  read -r -a words <<<"$args"
  [[ ${words[0]} == --from=* ]] && continue
  for src in "${words[@]:0:${#words[@]}-1}"; do
    [[ -e $src ]] || fail "$DOCKERFILE: COPY source $src does not exist"
  done
done < <(grep '^COPY ' "$DOCKERFILE")
ok "$DOCKERFILE: COPY sources exist"

echo "deploy_manifests_test: $CHECKS passed, 0 failed"
