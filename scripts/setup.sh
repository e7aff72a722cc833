#!/usr/bin/env bash
# Installs every system dependency of braid from Debian packages (DESIGN.md §5).
# Idempotent: packages already present are left as they are. Needs root (or sudo).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libgrpc++-dev protobuf-compiler-grpc protobuf-compiler libprotobuf-dev
  libucx-dev libgloo-dev
  libyaml-cpp-dev prometheus-cpp-dev
  libopenblas-openmp-dev libopenblas-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev libspdlog-dev nlohmann-json3-dev
  libpng-dev zlib1g-dev libsqlite3-dev
  libssl-dev openssl
  dataset-fashion-mnist fortunes fortunes-min
  prometheus yamllint
  python3-matplotlib python3-numpy
  clang libclang-rt-14-dev libomp-dev llvm
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages already installed"
else
  echo "setup: installing ${#missing[@]} packages: ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
  echo "setup: done"
fi

# Tools of the deployment checks: Node.js, the schema validator, kubectl.
bash "$(dirname "$0")/setup_tools.sh"
