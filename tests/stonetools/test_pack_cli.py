"""``moss pack`` and ``moss index`` as a packager meets them at a terminal."""

from __future__ import annotations

import argparse
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from moss.cli import build_parser


def moss(*args: str, cwd: Path, umask: int = 0o022) -> subprocess.CompletedProcess[str]:
    def set_umask() -> None:
        os.umask(umask)

    return subprocess.run(
        [sys.executable, "-m", "moss", *args], cwd=cwd, capture_output=True, text=True,
        check=False, preexec_fn=set_umask,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    usr = tmp_path / "tree"
    (usr / "bin").mkdir(parents=True)
    (usr / "bin" / "hello").write_text("#!/bin/sh\necho hello\n")
    return usr


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640)])
def test_packages_and_indexes_get_the_mode_the_umask_says(
    tree: Path, tmp_path: Path, umask: int, mode: int
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    out = repo / "hello.stone"
    packed = moss("pack", str(tree), "-o", str(out), "--name", "hello", "--version", "1",
                  "--release", "1", cwd=tmp_path, umask=umask)
    assert packed.returncode == 0, packed.stderr
    indexed = moss("index", str(repo), cwd=tmp_path, umask=umask)
    assert indexed.returncode == 0, indexed.stderr
    assert stat.S_IMODE(out.stat().st_mode) == mode
    assert stat.S_IMODE((repo / "stone.index").stat().st_mode) == mode


def test_default_output_name_and_comma_separated_lists(tree: Path, tmp_path: Path) -> None:
    packed = moss("pack", str(tree), "--name", "hello", "--version", "2.1", "--release", "3",
                  "--depends", "libc,soname(libz.so.1(x86_64))", "--depends", "bash",
                  "--license", "MIT,Apache-2.0", "--no-auto-deps", cwd=tmp_path)
    assert packed.returncode == 0, packed.stderr
    out = tmp_path / "hello-2.1-3-1-x86_64.stone"
    assert out.is_file()
    shown = moss("inspect", "--json", str(out), cwd=tmp_path)
    meta = json.loads(shown.stdout)["meta"]
    assert meta["depends"] == ["libc", "soname(libz.so.1(x86_64))", "bash"]
    assert meta["licenses"] == ["MIT", "Apache-2.0"]


def test_a_destdir_tree_is_warned_about(tmp_path: Path) -> None:
    destdir = tmp_path / "destdir"
    (destdir / "usr" / "bin").mkdir(parents=True)
    (destdir / "usr" / "bin" / "hello").write_text("x")
    packed = moss("pack", str(destdir), "--name", "hello", "--version", "1", "--release", "1",
                  cwd=tmp_path)
    assert packed.returncode == 0
    assert "/usr/usr/" in packed.stderr
    assert str(destdir / "usr") in packed.stderr


@pytest.mark.parametrize("command", ["inspect", "extract", "pack", "index"])
def test_help_describes_and_shows_an_example(command: str, tmp_path: Path) -> None:
    shown = moss(command, "--help", cwd=tmp_path)
    assert shown.returncode == 0
    assert "example: moss " + command in shown.stdout
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    undocumented = [a.dest for a in commands.choices[command]._actions if not a.help]
    assert not undocumented, f"options without help: {undocumented}"
