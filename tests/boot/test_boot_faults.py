"""A full ESP or a crash at any step of a sync leaves a bootable set of entries."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import boot
from boot.entries import bls
from boot.writing import esp
from moss.core.errors import MossError
from tests.boot.test_boot_sync import bootctl, bootctl_list, config_for, make_state, root, snapshot

__all__ = ["bootctl", "root"]  # fixtures shared with the sync tests

STEPS = [
    "kernel-copied",
    "entry-written",
    "loader-written",
    "bootloader-installed",
    "efivar-written",
    "entry-removed",
    "kernels-removed",
]


def entry_set(espdir: Path) -> dict[str, bytes]:
    entries = espdir / "loader" / "entries"
    return {p.name: p.read_bytes() for p in entries.iterdir() if not p.name.startswith(".")}


def referenced_files_exist(espdir: Path, names: list[str]) -> bool:
    for name in names:
        for line in (espdir / "loader" / "entries" / name).read_text().splitlines():
            key, _, value = line.partition(" ")
            if key in ("linux", "initrd") and not (espdir / value.lstrip("/")).is_file():
                return False
    return True


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs as a full ESP needs root")
    where = tmp_path / "esp"
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1536k", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


def old_and_new(root: Path) -> tuple[list[boot.BootState], list[boot.BootState]]:
    old = [make_state(root, 1, ("6.6.1",)), make_state(root, 2)]
    new = [old[1], make_state(root, 3, ("6.7.1",), bootloader=True)]
    return old, new


def big_kernel(state: boot.BootState, size: int) -> None:
    for image in (state.usr / "lib" / "kernel").rglob("vmlinuz"):
        image.write_bytes(os.urandom(size))


def test_not_enough_space_changes_nothing(
    root: Path, small_tmpfs: Path, bootctl: object
) -> None:
    old, new = old_and_new(root)
    config = config_for(root, small_tmpfs)
    boot.sync(root, old, 2, None, config)
    before = snapshot(small_tmpfs)
    big_kernel(new[1], 2 * 1024 * 1024)

    with pytest.raises(MossError, match="not enough space"):
        boot.sync(root, new, 3, None, config)

    assert snapshot(small_tmpfs) == before
    entries, default = bootctl_list(small_tmpfs)
    assert [e["id"] for e in entries] == ["serpentos-6.6.7-2.conf", "serpentos-6.6.1-1.conf"]
    assert default == "serpentos-6.6.7-2.conf"


def test_esp_filling_up_during_copy(
    root: Path, small_tmpfs: Path, bootctl: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = old_and_new(root)
    config = config_for(root, small_tmpfs)
    boot.sync(root, old, 2, None, config)
    before = snapshot(small_tmpfs)
    big_kernel(new[1], 300 * 1024)
    filler = small_tmpfs / "filler"

    def someone_else_fills_the_esp(where: Path, needed: int) -> None:
        # the check passes, then another writer takes all the space that is left
        with filler.open("wb") as out, pytest.raises(OSError):
            while True:
                out.write(b"\0" * 65536)
                out.flush()

    monkeypatch.setattr(esp, "check_space", someone_else_fills_the_esp)
    with pytest.raises(MossError, match="full"):
        boot.sync(root, new, 3, None, config)

    filler.unlink()
    assert snapshot(small_tmpfs) == before
    entries, default = bootctl_list(small_tmpfs)
    assert [e["id"] for e in entries] == ["serpentos-6.6.7-2.conf", "serpentos-6.6.1-1.conf"]
    assert default == "serpentos-6.6.7-2.conf"


@pytest.mark.parametrize("step", STEPS)
def test_crash_leaves_old_or_new_set(
    root: Path, tmp_path: Path, step: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    espdir = tmp_path / "esp"
    espdir.mkdir()
    old, new = old_and_new(root)
    config = config_for(root, espdir, efivars=tmp_path / "efivars")
    boot.sync(root, old, 2, None, config)
    old_set = entry_set(espdir)
    reference = tmp_path / "reference"
    shutil.copytree(espdir, reference)
    boot.sync(root, new, 3, None, config_for(root, reference))
    new_set = entry_set(reference)

    monkeypatch.setenv(bls.CRASH_ENV, step)
    with pytest.raises(bls.SimulatedCrash):
        boot.sync(root, new, 3, None, config)

    now = entry_set(espdir)
    old_complete = all(now.get(k) == v for k, v in old_set.items())
    new_complete = all(now.get(k) == v for k, v in new_set.items())
    assert old_complete or new_complete
    assert referenced_files_exist(espdir, list(now))

    monkeypatch.delenv(bls.CRASH_ENV)
    boot.sync(root, new, 3, None, config)
    assert entry_set(espdir) == new_set


def test_leftovers_of_a_crash_are_cleaned(root: Path, tmp_path: Path) -> None:
    espdir = tmp_path / "esp"
    espdir.mkdir()
    states = [make_state(root, 1), make_state(root, 2)]
    config = config_for(root, espdir)
    boot.sync(root, states, 2, None, config)
    entries = espdir / "loader" / "entries"
    (entries / ".serpentos-6.6.7-2.conf.k3j9x.tmp").write_text("half an entry")
    plain = (entries / "serpentos-6.6.7-2.conf").read_text()
    (entries / "serpentos-6.6.7-2+3.conf").write_text(plain)
    (espdir / "EFI" / "serpentos" / "6.6.7" / ".vmlinuz.a1b2.tmp").write_bytes(b"half")

    report = boot.sync(root, states, 2, None, config)

    # of two entries for one state, the one with a boot counter stays
    assert sorted(p.name for p in entries.iterdir()) == [
        "serpentos-6.6.7-1.conf", "serpentos-6.6.7-2+3.conf",
    ]
    assert sorted(p.name for p in (espdir / "EFI" / "serpentos" / "6.6.7").iterdir()) == [
        "10-moss.initrd", "vmlinuz",
    ]
    assert len(report.removed) == 3


KILLED_SYNC = """
import json, sys
from datetime import datetime
from pathlib import Path
import boot
spec = json.loads(sys.argv[1])
states = [
    boot.BootState(i, Path(u), datetime.fromisoformat(c), t) for i, u, c, t in spec["states"]
]
config = boot.load_config(Path(spec["root"]), esp=Path(spec["esp"]))
boot.sync(Path(spec["root"]), states, spec["active"], None, config)
"""


@pytest.mark.parametrize("step", STEPS)
def test_killed_process_leaves_old_or_new_set(root: Path, tmp_path: Path, step: str) -> None:
    espdir = tmp_path / "esp"
    espdir.mkdir()
    old, new = old_and_new(root)
    boot.sync(root, old, 2, None, config_for(root, espdir))
    old_set = entry_set(espdir)
    reference = tmp_path / "reference"
    shutil.copytree(espdir, reference)
    boot.sync(root, new, 3, None, config_for(root, reference))
    new_set = entry_set(reference)
    spec = {
        "root": str(root),
        "esp": str(espdir),
        "active": 3,
        "states": [[s.id, str(s.usr), s.created.isoformat(), s.summary] for s in new],
    }
    env = {**os.environ, bls.KILL_ENV: f"boot-{step}"}
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_SYNC, json.dumps(spec)],
        env=env, cwd=Path(__file__).parents[2], capture_output=True, text=True,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    now = entry_set(espdir)
    old_complete = all(now.get(k) == v for k, v in old_set.items())
    new_complete = all(now.get(k) == v for k, v in new_set.items())
    assert old_complete or new_complete
    assert referenced_files_exist(espdir, list(now))
    report = boot.sync(root, new, 3, None, config_for(root, espdir))
    assert entry_set(espdir) == new_set
    assert report.default == "serpentos-6.7.1-3.conf"
