#!/usr/bin/env bash
# Idempotent setup for a fresh Debian 12 machine (run as root): the Debian packages the
# tests and the lab need, and a virtualenv at .venv with op25b and its test extras.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(nftables iproute2 iperf3 prometheus swaks python3-venv python3-packaging iptables conntrack systemd)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# The Debian prometheus package starts a server on :9090 where systemd runs; our tests start
# their own on a free loopback port and need nothing from it.

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.op25b-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ scripts/setup.sh -nt "$stamp" ]; then
  echo "setup: installing op25b and its test dependencies into .venv"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e ".[test,bench]"
  touch "$stamp"
fi
echo "setup: ready (.venv/bin/op25b)"
