#!/usr/bin/env bash
# The README's main job: set up (idempotent), then run the network-namespace lab demo as root.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/op25b lab "$@"
