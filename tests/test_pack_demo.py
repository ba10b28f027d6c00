"""The demo (demo/run.py) runs end to end: the packages, index and tree it promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from moss.stone import open_stone

PROJECT = Path(__file__).resolve().parent.parent


def test_demo_packs_indexes_and_extracts(tmp_path: Path) -> None:
    out = tmp_path / "demo-out"
    result = subprocess.run(
        [sys.executable, str(PROJECT / "demo" / "run.py"), str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "$ moss pack " in result.stdout
    assert "$ moss extract " in result.stdout
    packages = sorted(p.name for p in (out / "packages").glob("*.stone"))
    assert packages == [
        "greeting-lib-1-1-1-x86_64.stone",
        "hello-1.0-1-1-x86_64.stone",
        "hello-2.0-2-1-x86_64.stone",
    ]
    with open_stone(out / "packages" / "stone.index") as reader:
        releases = {m.name: m.release for m in reader.repository_metas()}
    assert releases == {"greeting-lib": 1, "hello": 2}
    usr = out / "extracted" / "usr"
    assert (usr / "bin" / "hi").readlink() == Path("hello")
    assert (usr / "share" / "doc" / "hello" / ".keep").read_bytes() == b""
    assert (usr / "share" / "greeting" / "default").read_text() == "Hello\n"
    assert "Goodbye!" in result.stdout
