"""The next run's cleanup after an interrupt shows progress on a terminal.

Ctrl-C while a big package unpacks leaves its staging tree behind; the next
mutating command removes it before anything else, and that took long enough,
silently, to look like a hang.  On a terminal it is now a progress line that
counts the entries removed; in a script it stays silent.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.packages import make_package
from tests.support.terminal import run_on_terminal

FILES = 6000


def abandon_staging(root: Path) -> int:
    """A staging tree with no .stateID, as an interrupted unpack leaves it; its entries."""
    usr = root / ".moss/root/staging/usr"
    for d in range(60):
        folder = usr / "share/unpacked" / f"d{d}"
        folder.mkdir(parents=True)
        for i in range(FILES // 60):
            (folder / f"f{i}").write_bytes(b"x")
    return 4 + 60 + FILES  # staging, usr, share, unpacked, the folders, the files


def test_recovering_a_big_staging_tree_shows_progress(tmp_path: Path) -> None:
    root = tmp_path / "root"
    moss = [sys.executable, "-m", "moss", "-y", "-D", str(root)]
    first = make_package(tmp_path, "first", {"bin/first": "1\n"})
    subprocess.run([*moss, "--quiet", "install", str(first)], check=True, capture_output=True)
    entries = abandon_staging(root)
    second = make_package(tmp_path, "second", {"bin/second": "2\n"})
    shown = run_on_terminal([*moss, "install", str(second)])
    line = "Removing the abandoned staging tree ["
    assert line in shown, shown
    assert f"{entries}/{entries} entries" in shown, shown
    recovered = "moss: recovered: removed an incomplete staging tree"
    assert shown.index(line) < shown.index(recovered)
    assert not (root / ".moss/root/staging").exists()
    assert (root / "usr/bin/second").read_text() == "2\n"


def test_recovery_in_a_script_prints_no_progress(tmp_path: Path) -> None:
    root = tmp_path / "root"
    moss = [sys.executable, "-m", "moss", "-y", "-D", str(root)]
    first = make_package(tmp_path, "first", {"bin/first": "1\n"})
    subprocess.run([*moss, "--quiet", "install", str(first)], check=True, capture_output=True)
    abandon_staging(root)
    proc = subprocess.run([*moss, "state", "verify"], capture_output=True, text=True, timeout=120)
    assert "Removing the abandoned" not in proc.stdout + proc.stderr
    assert "moss: recovered: removed an incomplete staging tree" in proc.stderr
    assert not (root / ".moss/root/staging").exists()
