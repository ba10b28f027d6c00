"""``moss boot bless``: the step that marks a good boot where systemd-bless-boot is absent.

A deferred kernel update's entry carries a boot counter; systemd-boot counts a try
(renames ``+3`` to ``+2-1``) and the agent activates the state. Without a blessing
the entry would run out of tries and a good update would be rolled back.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from boot.discovery import efivars
from moss.cli import main
from tests.boot.test_boot_integration import hello, kernel_package, moss, root
from tests.support.pivot import run_agent

__all__ = ["root"]


def entries(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "efi/loader/entries").iterdir())


def boot_pending_state(root: Path, tmp_path: Path) -> str:
    """A deferred update booted once: systemd-boot's try counted, the agent activated it."""
    assert moss(root, "install", str(kernel_package(tmp_path, "6.1.0-1", 1))) == 0
    assert moss(root, "install", "--defer", str(kernel_package(tmp_path, "6.1.0-2", 2))) == 0
    counted = next(n for n in entries(root) if n.endswith("-2+3.conf"))
    tried = counted.replace("+3.conf", "+2-1.conf")
    (root / "efi/loader/entries" / counted).rename(root / "efi/loader/entries" / tried)
    (tmp_path / "agent").mkdir()
    agent = run_agent(root, "moss.fstx=2", tmp_path / "agent")
    assert agent.record is not None and agent.record["active"] == 2
    (root / "run/moss").mkdir(parents=True)
    (root / "run/moss/pivot.json").write_text(json.dumps(agent.record))
    return tried


def test_bless_removes_the_counter_of_the_booted_state(
        tmp_path: Path, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tried = boot_pending_state(root, tmp_path)
    capsys.readouterr()
    assert main(["-D", str(root), "boot", "bless"]) == 0
    assert f"Blessed {tried}" in capsys.readouterr().out
    blessed = tried.replace("+2-1.conf", ".conf")
    assert blessed in entries(root) and tried not in entries(root)
    # a later sync keeps it blessed and the default; a second bless has nothing to do
    assert moss(root, "install", str(hello(tmp_path, 1))) == 0
    assert not any("+" in n for n in entries(root))
    assert main(["-D", str(root), "boot", "bless"]) == 0
    assert "Nothing to bless" in capsys.readouterr().out


def test_bless_follows_the_firmwares_boot_count_path(tmp_path: Path, root: Path) -> None:
    tried = boot_pending_state(root, tmp_path)
    # systemd-boot names the entry it booted; that one is blessed, whatever state ran
    (root / "run/moss/pivot.json").unlink()
    efivars.write(root / "efivars", "LoaderBootCountPath", f"\\loader\\entries\\{tried}")
    assert main(["-D", str(root), "--quiet", "boot", "bless"]) == 0
    assert tried.replace("+2-1.conf", ".conf") in entries(root)
