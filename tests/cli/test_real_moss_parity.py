"""What a script written for real moss notices beyond the flags (issue 25, item 16).

Each check names what real moss (AerynOS/os-tools) does, from its source: ``inspect``'s
``-q`` requires ``--check`` (clap ``requires``), a missing ``--cache`` folder is
"Cache dir is invalid", the cache gets a ``CACHEDIR.TAG``, and an admin's system
model is announced on stderr before every command.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from moss.core.inhibit import inhibited
from tests.support.packages import make_package

# Real moss's installation.rs, byte for byte.
REAL_TAG = (b"Signature: 8a477f597d28d172789f06886806bc55\n"
            b"# This file is a cache directory tag created by moss.\n"
            b"# For information about cache directory tags see https://bford.info/cachedir/")


def moss(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "moss", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    hello = make_package(tmp_path, "hello", {"bin/hello": "hello\n"})
    assert moss("-D", root, "--quiet", "install", "-y", hello).returncode == 0
    return root


def test_inspect_quiet_needs_check(tmp_path: Path) -> None:
    package = make_package(tmp_path, "hello", {"bin/hello": "hello\n"})
    for argv in (("inspect", "-q", package), ("inspect", "--quiet", package),
                 ("inspect", package, "-q")):
        proc = moss(*argv)
        assert proc.returncode == 2, argv
        assert proc.stdout == ""
        assert proc.stderr.strip().splitlines() == [
            "moss: error: inspect: -q/--quiet requires --check"]
    assert moss("inspect", "--check", "-q", package).returncode == 0
    assert moss("--quiet", "inspect", package).returncode == 0  # the global flag is not -q


def test_a_missing_cache_folder_is_refused_and_not_made(root: Path, tmp_path: Path) -> None:
    for missing in (tmp_path / "no-such-cache", root / "usr/bin/hello"):  # absent; a file
        proc = moss("-D", root, "--cache", missing, "list", "installed")
        assert proc.returncode == 1
        assert proc.stderr.strip().splitlines() == [
            f"moss: error: --cache {missing}: no such folder; create it first"]
    assert not (tmp_path / "no-such-cache").exists()
    (tmp_path / "cache").mkdir()
    assert moss("-D", root, "--cache", tmp_path / "cache", "list", "installed").returncode == 0


def test_the_cache_is_tagged_as_real_moss_tags_it(root: Path) -> None:
    tag = root / ".moss/cache/CACHEDIR.TAG"
    assert tag.read_bytes() == REAL_TAG
    tag.write_bytes(b"Signature: 8a477f597d28d172789f06886806bc55\n# the admin's own\n")
    other = make_package(root.parent, "other", {"bin/other": "o\n"})
    assert moss("-D", root, "--quiet", "install", "-y", other).returncode == 0
    assert tag.read_bytes().endswith(b"# the admin's own\n")  # an existing tag is kept


def test_an_admin_system_model_is_announced_on_stderr(root: Path) -> None:
    model = root / "etc/moss/system-model.kdl"
    model.parent.mkdir(parents=True, exist_ok=True)
    exported = moss("-D", root, "state", "export")
    assert exported.returncode == 0
    model.write_text(exported.stdout)
    first = f'INFO: "{model}" is present & therefore active.'
    listed = moss("-D", root, "list", "installed")
    assert listed.returncode == 0 and "hello" in listed.stdout
    assert "INFO" not in listed.stdout  # a script reading stdout sees the same rows
    lines = listed.stderr.splitlines()
    assert lines[0] == first and lines[1] == "Hence:"
    assert lines[-1] == f'- To disable the system-model, remove or rename "{model}".'
    model.write_text(exported.stdout + "disable_warning #true\n")
    quiet = moss("-D", root, "list", "installed")
    assert quiet.returncode == 0 and quiet.stderr == ""
    verbose = moss("-D", root, "-v", "list", "installed")
    assert verbose.stderr.splitlines() == [first]
    model.write_text("packages {" * 100)  # unreadable: as real moss, no notice;
    assert "INFO" not in moss("-D", root, "list", "installed").stderr  # sync reports it
    model.unlink()
    assert moss("-D", root, "list", "installed").stderr == ""


def _inhibitors() -> str:
    return subprocess.run(["systemd-inhibit", "--list", "--no-legend"], capture_output=True,
                          text=True, timeout=30, check=True).stdout


@pytest.mark.skipif(not Path("/run/systemd/system").is_dir(),
                    reason="needs systemd as init, with systemd-logind running "
                    "(the QEMU guests have it; this machine does not)")
def test_logind_blocks_shutdown_while_a_state_is_applied() -> None:
    with inhibited("Applying new state"):
        for _ in range(50):  # systemd-inhibit takes the lock as it starts
            if "Applying new state" in _inhibitors():
                break
            subprocess.run(["sleep", "0.1"], check=True)
        held = _inhibitors()
        assert "moss" in held and "shutdown:sleep:idle:handle-lid-switch" in held
    assert "Applying new state" not in _inhibitors()
