"""Boot entries and deferred kernel updates through moss itself, as a user meets them.

Kernel packages are made with `moss pack`; `moss install` keeps the entries of a root
with a configured ESP in step; the real `bootctl` must agree with `moss boot status`;
and a deferred kernel update is applied by the real pivot agent run against the root
with the command line of the default entry, as the initramfs would at the next boot.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from moss.cli import main
from moss.states import operations
from tests.boot.test_boot_sync import bootctl, bootctl_list
from tests.support.packages import make_package, tree_snapshot
from tests.support.pivot import run_agent

__all__ = ["bootctl"]


def moss(root: Path, *args: str) -> int:
    return main(["-D", str(root), "-y", "--quiet", *args])


def moss_json(root: Path, capsys: pytest.CaptureFixture[str], *args: str) -> object:
    capsys.readouterr()
    assert main(["-D", str(root), "--quiet", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def kernel_package(workdir: Path, kver: str, release: int) -> Path:
    return make_package(workdir, "linux", {
        f"lib/kernel/{kver}/vmlinuz": os.urandom(4096),
        f"lib/kernel/{kver}/10-default.initrd": os.urandom(2048),
        f"lib/kernel/{kver}/10-default.cmdline": "quiet",
        f"lib/modules/{kver}/modules.dep": "",
    }, version=kver, release=release)


def hello(workdir: Path, release: int) -> Path:
    return make_package(workdir, "hello", {"bin/hello": f"hello {release}\n"}, release=release)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "etc/moss").mkdir(parents=True)
    (root / "efi").mkdir()
    (root / "etc/moss/boot.conf").write_text(
        "esp = /efi\nefivars = /efivars\nroot = root=/dev/vda rw\nkeep = 5\n")
    (root / "efivars").mkdir()
    return root


def entry_options(root: Path, entry: str) -> str:
    for line in (root / "efi/loader/entries" / entry).read_text().splitlines():
        if line.startswith("options "):
            return line.removeprefix("options ")
    raise AssertionError(f"no options line in {entry}")


def kernels_on_esp(root: Path) -> list[Path]:
    return sorted((root / "efi/EFI").rglob("vmlinuz"))


def test_five_states_two_kernels_and_bootctl_agrees(
        tmp_path: Path, root: Path, bootctl: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert moss(root, "install", str(kernel_package(tmp_path, "6.1.0-1", 1)),
                str(hello(tmp_path, 1))) == 0
    assert moss(root, "install", str(hello(tmp_path, 2))) == 0
    assert moss(root, "install", str(hello(tmp_path, 3))) == 0
    assert moss(root, "install", str(kernel_package(tmp_path, "6.1.0-2", 2))) == 0
    assert moss(root, "install", str(hello(tmp_path, 4))) == 0
    assert len(kernels_on_esp(root)) == 2
    status = moss_json(root, capsys, "boot", "status")
    assert isinstance(status, dict)
    assert status["active"] == 5
    ours = {e["file"].removesuffix(".conf"): e["state"] for e in status["entries"]}
    assert sorted(ours.values()) == [1, 2, 3, 4, 5]
    listed, default = bootctl_list(root / "efi")
    assert {str(e["id"]).removesuffix(".conf") for e in listed} == set(ours)
    assert default is not None and ours[default.removesuffix(".conf")] == 5
    for entry in status["entries"]:
        assert f"moss.fstx={entry['state']}" in entry_options(root, entry["file"])
    # Rolling back keeps the entries in step and the choice in LoaderEntryLastBooted.
    assert moss(root, "state", "activate", "2") == 0
    status = moss_json(root, capsys, "boot", "status")
    assert isinstance(status, dict) and status["active"] == 2
    # Pruning removes the entries of the states that went, and the kernel only they used.
    # --keep counts the active state 2; 3, 4 and 5 are newer, so --include-newer.
    assert moss(root, "state", "prune", "--keep", "2", "--include-newer") == 0
    status = moss_json(root, capsys, "boot", "status")
    assert isinstance(status, dict)
    assert sorted(e["state"] for e in status["entries"]) == [2, 5]
    assert len(kernels_on_esp(root)) == 2  # state 2 has the old kernel, state 5 the new


def test_second_boot_sync_writes_nothing(tmp_path: Path, root: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert moss(root, "install", str(kernel_package(tmp_path, "6.1.0-1", 1))) == 0
    report = moss_json(root, capsys, "boot", "sync")
    assert isinstance(report, dict)
    assert report["copied"] == [] and report["written"] == [] and report["removed"] == []


def test_skip_boot_leaves_entries_alone(tmp_path: Path, root: Path) -> None:
    assert moss(root, "install", "--skip-boot", str(kernel_package(tmp_path, "6.1.0-1", 1))) == 0
    assert not (root / "efi/loader").exists()


def test_deferred_kernel_update_applies_at_next_boot(
        tmp_path: Path, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert moss(root, "install", str(kernel_package(tmp_path, "6.1.0-1", 1)),
                str(hello(tmp_path, 1))) == 0
    running = tree_snapshot(root / "usr")
    capsys.readouterr()
    assert moss(root, "install", "--defer", str(kernel_package(tmp_path, "6.1.0-2", 2))) == 0
    assert "reboot" in capsys.readouterr().out
    assert tree_snapshot(root / "usr") == running  # the running tree is untouched
    assert [(s.id, s.active, s.pending) for s in operations.list_states(root)] == [
        (1, True, False), (2, False, True)]
    # A second update before the reboot builds on the pending state and replaces it.
    assert moss(root, "install", "--defer", str(hello(tmp_path, 2))) == 0
    assert tree_snapshot(root / "usr") == running
    assert [(s.id, s.pending) for s in operations.list_states(root)] == [(1, False), (3, True)]
    status = moss_json(root, capsys, "boot", "status")
    assert isinstance(status, dict)
    assert status["pending"] == 3
    assert status["default"].endswith("-3+3.conf")
    # The next boot: the agent runs with the default entry's command line.
    run = run_agent(root, entry_options(root, status["default"]), tmp_path)
    assert run.returncode == 0 and run.record is not None
    assert run.record["result"] == "activated"
    assert (root / "usr/.stateID").read_text() == "3"
    assert (root / "usr/bin/hello").read_text() == "hello 2\n"
    assert (root / "usr/lib/kernel/6.1.0-2/vmlinuz").exists()
    # moss reads the agent's record: state 3 is booted and active, nothing is pending.
    (root / "run/moss").mkdir(parents=True, exist_ok=True)
    (root / "run/moss/pivot.json").write_text(json.dumps(run.record))
    assert moss(root, "state", "verify") == 0
    assert moss(root, "install", str(hello(tmp_path, 3))) == 0  # settles the boot first
    infos = {s.id: s for s in operations.list_states(root)}
    assert not any(s.pending for s in infos.values())
    assert infos[3].booted and infos[4].active


def test_now_applies_a_kernel_update_at_once(tmp_path: Path, root: Path) -> None:
    assert moss(root, "install", str(kernel_package(tmp_path, "6.1.0-1", 1))) == 0
    assert moss(root, "install", "--now", str(kernel_package(tmp_path, "6.1.0-2", 2))) == 0
    assert (root / "usr/lib/kernel/6.1.0-2/vmlinuz").exists()
    assert not any(s.pending for s in operations.list_states(root))
