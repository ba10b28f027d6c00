"""The demo (demo/run.py) runs end to end: the packages, states and boot entries it promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from moss.actions.query import installed as installed_packages
from moss.states.operations import list_states
from moss.stone import open_stone

PROJECT = Path(__file__).resolve().parents[2]


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "demo-out"
    result = subprocess.run(
        [sys.executable, str(PROJECT / "demo" / "run.py"), str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    kver = next((out / "linux-1" / "lib" / "kernel").iterdir()).name
    assert "$ moss pack " in result.stdout
    assert "$ moss extract " in result.stdout
    packages = sorted(p.name for p in (out / "packages").glob("*.stone"))
    assert packages == [
        "greeting-lib-1-1-1-x86_64.stone",
        "hello-1.0-1-1-x86_64.stone",
        "hello-2.0-2-1-x86_64.stone",
        "linux-1.stone",
        "linux-2.stone",
    ]
    with open_stone(out / "packages" / "stone.index") as reader:
        releases = {m.name: m.release for m in reader.repository_metas()}
    assert releases == {"greeting-lib": 1, "hello": 2}
    usr = out / "extracted" / "usr"
    assert (usr / "bin" / "hi").readlink() == Path("hello")
    assert (usr / "share" / "doc" / "hello" / ".keep").read_bytes() == b""
    assert (usr / "share" / "greeting" / "default").read_text() == "Hello\n"
    assert "Goodbye!" in result.stdout
    # The installed root: rolled back to state 1, then a kernel (3), hello 2 (4) and a
    # deferred kernel update (5) that waits for the next boot.
    states = {s.id: s for s in list_states(out / "root")}
    assert sorted(states) == [1, 2, 3, 4, 5]
    assert states[4].active and states[5].pending
    assert (out / "root" / "usr" / ".stateID").read_text() == "4"
    entries = sorted(p.name for p in (out / "root" / "efi" / "loader" / "entries").iterdir())
    assert entries == [f"serpentos-{kver}-3.conf", f"serpentos-{kver}-4.conf",
                       f"serpentos-{kver}-5+3.conf"]
    installed = {p.name for p in installed_packages(out / "root-from-repo")}
    assert installed == {"hello", "greeting-lib"}
