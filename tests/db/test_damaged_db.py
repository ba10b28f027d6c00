"""A damaged database is one line and exit status 1 in every command, and never a wipe.

Each damage is done to a root with states 1 and 2; every command must refuse
with one line that names the database, leave every byte of the root as it
was, and a zero-length database must be recoverable with ``state rebuild``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.db.conftest import moss_cli

Damage = Callable[[Path], None]


def zero_length(name: str) -> Damage:
    def damage(db: Path) -> None:
        (db / name).write_bytes(b"")
    return damage


def garbage(db: Path) -> None:
    (db / "install").write_bytes(os.urandom((db / "install").stat().st_size))


def garbage_body(db: Path) -> None:
    """A valid header over random pages: only a query finds out."""
    path = db / "layout"
    data = path.read_bytes()
    path.write_bytes(data[:100] + os.urandom(len(data) - 100))


def truncated(db: Path) -> None:
    path = db / "state"
    path.write_bytes(path.read_bytes()[:4096 * 3])


def truncated_mid_page(db: Path) -> None:
    path = db / "layout"
    path.write_bytes(path.read_bytes()[:5000])


def directory(db: Path) -> None:
    (db / "state").unlink()
    (db / "state").mkdir()


DAMAGES: dict[str, Damage] = {
    "zero-length-state": zero_length("state"),
    "zero-length-layout": zero_length("layout"),
    "zero-length-install": zero_length("install"),
    "garbage": garbage,
    "garbage-body": garbage_body,
    "truncated": truncated,
    "truncated-mid-page": truncated_mid_page,
    "directory": directory,
}

COMMANDS: list[tuple[str, ...]] = [
    ("install", "{work}/probe-1.0-1.stone"),
    ("remove", "hello"),
    ("state", "list"),
    ("state", "activate", "1"),
    ("state", "prune", "-k", "1"),
    ("state", "verify"),
    ("list", "installed"),
    ("info", "hello"),
    ("search", "hello"),
    ("boot", "status", "--boot", "/"),
]


def root_digest(root: Path) -> dict[str, str]:
    """Every path under the root with its kind and content: what 'nothing changed' means.

    ``.moss/assets/incoming`` is scratch space that every mutating run clears first.
    """
    seen = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if Path(dirpath) == root / ".moss/assets":
            dirnames[:] = [d for d in dirnames if d != "incoming"]
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                seen[rel] = "link " + os.readlink(path)
            elif path.is_dir():
                seen[rel] = "dir"
            else:
                seen[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return seen


@pytest.mark.parametrize("damage", DAMAGES)
def test_every_command_refuses_with_one_line(damage: str, work: Path) -> None:
    root = work / "root"
    DAMAGES[damage](root / ".moss/db")
    before = root_digest(root)
    for command in COMMANDS:
        args = [a.format(work=work) for a in command]
        proc = moss_cli(root, *args)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 1, (command, proc.stdout, proc.stderr)
        assert len(lines) == 1 and lines[0].startswith("moss: error: database "), (command,
                                                                                   proc.stderr)
        assert "Traceback" not in proc.stderr
        assert "state rebuild" in lines[0]
        assert root_digest(root) == before, command


@pytest.mark.parametrize("name", ["state", "layout", "install"])
def test_zero_length_database_keeps_everything_and_rebuild_restores(name: str,
                                                                    work: Path) -> None:
    root = work / "root"
    states_before = moss_cli(root, "state", "list", "--json").stdout
    usr_before = root_digest(root / "usr")
    archived_before = root_digest(root / ".moss/root")
    (root / ".moss/db" / name).write_bytes(b"")
    # What the adversarial run did: install (state 3 over nothing), verify, prune.
    assert moss_cli(root, "install", str(work / "probe-1.0-1.stone")).returncode == 1
    assert moss_cli(root, "state", "prune", "-k", "1").returncode == 1
    assert moss_cli(root, "state", "verify").returncode == 1
    assert root_digest(root / "usr") == usr_before
    assert root_digest(root / ".moss/root") == archived_before

    proc = moss_cli(root, "state", "rebuild")
    assert proc.returncode == 0, proc.stderr
    assert "2 states (1, 2)" in proc.stdout
    listed = moss_cli(root, "state", "list", "--json")
    assert [s["id"] for s in _json(listed.stdout)] == [s["id"] for s in _json(states_before)]
    assert [s["active"] for s in _json(listed.stdout)] == [False, True]
    assert root_digest(root / "usr") == usr_before
    assert root_digest(root / ".moss/root") == archived_before
    assert moss_cli(root, "state", "verify").returncode == 0
    assert "hello" in moss_cli(root, "list", "installed").stdout
    proc = moss_cli(root, "install", str(work / "probe-1.0-1.stone"))
    assert proc.returncode == 0, proc.stderr
    assert (root / "usr/share/probe").read_text() == "probe\n"
    assert (root / "usr/bin/hello").read_text() == "release 2\n"
    assert moss_cli(root, "state", "activate", "1").returncode == 0
    assert (root / "usr/bin/hello").read_text() == "release 1\n"
    assert moss_cli(root, "state", "verify").returncode == 0


def test_rebuild_names_states_whose_packages_left_the_cache(work: Path) -> None:
    root = work / "root"
    for cached in (root / ".moss/cache/downloads/v1").rglob("*"):
        if cached.is_file() and "release 1" in _layout_text(cached):
            cached.unlink()
    (root / ".moss/db/state").write_bytes(b"")
    usr_before = root_digest(root / ".moss/root")
    proc = moss_cli(root, "state", "rebuild")
    assert proc.returncode == 0, proc.stderr
    assert "state 1 could not be fully recovered" in proc.stderr
    assert "state 2" not in proc.stderr
    assert root_digest(root / ".moss/root") == usr_before
    assert moss_cli(root, "state", "verify").returncode == 0


def _layout_text(stone: Path) -> str:
    from moss.store.incoming import read_package
    return "release 1" if read_package(stone).meta.release == 1 else ""


def _json(text: str) -> list[dict[str, object]]:
    import json
    value = json.loads(text)
    assert isinstance(value, list)
    return value
