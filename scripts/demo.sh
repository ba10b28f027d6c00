#!/usr/bin/env bash
# moss's main job end to end on bundled sample trees, into a directory
# (default ./demo-out): pack packages, index them, inspect and extract them.
set -euo pipefail
. "$(dirname "$0")/as-root.sh"
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python demo/run.py "${1:-demo-out}"
