#!/usr/bin/env bash
# The whole test suite, set-up included: lint, types, fast tests, then real boots.
set -euo pipefail
. "$(dirname "$0")/as-root.sh"
cd "$(dirname "$0")/.."
bash scripts/setup.sh

echo "== ruff"; .venv/bin/ruff check .
echo "== mypy"; .venv/bin/mypy
echo "== tests"; .venv/bin/python -m pytest tests -q "$@"
if compgen -G "qemu-tests/test_*.py" >/dev/null; then
    echo "== qemu-tests"; .venv/bin/python -m pytest qemu-tests -q -s
fi
