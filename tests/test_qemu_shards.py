"""CI runs the QEMU suite as two shards (scripts/test.sh): every test must run in exactly one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent


def collected(*args: str) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "qemu-tests", "--collect-only", "-q",
         "-p", "no:cacheprovider", *args],
        cwd=PROJECT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return [line for line in proc.stdout.splitlines() if "::" in line]


def test_the_two_shards_split_the_qemu_suite_without_losing_or_repeating_a_test() -> None:
    everything = collected()
    first, second = collected("--shard", "1/2"), collected("--shard", "2/2")
    assert first and second
    assert not set(first) & set(second)
    assert sorted(first + second) == sorted(everything)
    # the two power-cut chains are the longest tests: they go to different shards
    chains = [t for t in everything if "power_cuts" in t]
    assert len(chains) == 2
    assert any(c in first for c in chains) and any(c in second for c in chains)


def test_a_bad_shard_is_refused_with_a_clear_line() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "qemu-tests", "--collect-only", "-q",
         "-p", "no:cacheprovider", "--shard", "3/2"],
        cwd=PROJECT, capture_output=True, text=True, check=False)
    assert proc.returncode != 0
    assert "--shard 3/2: K must be between 1 and N" in proc.stderr
