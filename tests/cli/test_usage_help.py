"""What a person sees when they type too little, or a command wrong."""

from __future__ import annotations

import subprocess
import sys


def moss(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "moss", *args], capture_output=True,
                          text=True, check=False)


def test_moss_alone_prints_the_help() -> None:
    shown = moss()
    assert shown.returncode == 2
    assert "install" in shown.stdout and "state" in shown.stdout and "usage: moss" in shown.stdout


def test_a_mistyped_command_gets_the_nearest_ones() -> None:
    shown = moss("instal", "hello")
    assert shown.returncode == 2
    last = shown.stderr.strip().splitlines()[-1]
    assert last.startswith("moss: error: unknown command 'instal'; did you mean install")
    assert "choose from" not in shown.stderr
    nested = moss("state", "actvate", "1")
    assert "did you mean activate" in nested.stderr and nested.returncode == 2
    nothing_near = moss("frobnicate")
    assert "unknown command 'frobnicate' (`moss --help` lists them)" in nothing_near.stderr
