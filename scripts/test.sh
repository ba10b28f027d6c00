#!/usr/bin/env bash
# The whole test suite, set-up included: lint, types, fast tests, then real boots.
#
# The QEMU suite runs as two pytest processes (`--shard 1/2`, `--shard 2/2`, split by
# each test's expected boot time in qemu-tests/shards.py) started beside the fast
# tests: a TCG guest keeps one core busy, so on two cores the boots take about half
# the wall time they take one after the other.  Their output is shown when each ends.
set -euo pipefail
. "$(dirname "$0")/as-root.sh"
cd "$(dirname "$0")/.."
bash scripts/setup.sh

echo "== ruff"; .venv/bin/ruff check .
echo "== mypy"; .venv/bin/mypy

shards=()
if compgen -G "qemu-tests/test_*.py" >/dev/null; then
    logs=$(mktemp -d /var/tmp/moss-qemu-tests.XXXXXX)
    # stopped early (Ctrl-C, a failure of set -e): the shards go too, and their
    # QEMUs with them (qemu-tests/machine.py: they die with their pytest)
    trap 'kill "${shards[@]}" 2>/dev/null || true' EXIT
    trap 'exit 130' INT TERM
    for k in 1 2; do
        .venv/bin/python -m pytest qemu-tests -q -s -p no:cacheprovider --shard "$k/2" \
            --basetemp "$logs/tmp-$k" >"$logs/shard-$k.log" 2>&1 &
        shards+=("$!")
    done
    echo "== qemu-tests: two shards started, logs in $logs"
fi

status=0
echo "== tests"; .venv/bin/python -m pytest tests -q "$@" || status=$?

for k in "${!shards[@]}"; do
    shard_status=0
    wait "${shards[$k]}" || shard_status=$?
    echo "== qemu-tests, shard $((k + 1))/2 (exit $shard_status)"
    cat "$logs/shard-$((k + 1)).log"
    if [ "$shard_status" -eq 0 ]; then
        rm -rf "$logs/tmp-$((k + 1))"  # the guests' disks: gigabytes
    elif [ "$status" -eq 0 ]; then
        status=$shard_status
    fi
done
trap - EXIT INT TERM
exit "$status"
