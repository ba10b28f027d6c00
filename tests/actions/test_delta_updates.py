"""`moss sync -u` takes a delta stone when the older release is installed (issue 28).

The issue's case, scaled to test size: a package of 40 files whose next release
replaces 5 and edits 5 in 16 bytes, both releases in the repository folder,
`moss index`, served by a real nginx that counts the bytes it sends.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest

from moss.cli import main
from moss.stone.delta import DELTAS_NAME
from moss.stonetools.index import build_index
from tests.support.nginx import Nginx, nginx
from tests.support.packages import make_package

__all__ = ["nginx"]

FILES = 40
SIZE = 50_000


def moss(root: Path, *args: str) -> int:
    return main(["-D", str(root), "-y", "--quiet", *args])


def releases(seed: int) -> tuple[dict[str, bytes], dict[str, bytes]]:
    rnd = random.Random(seed)
    old = {f"lib/big/f{i:03}": rnd.randbytes(SIZE) for i in range(FILES)}
    new = dict(old)
    for i in range(5):
        new[f"lib/big/f{i:03}"] = rnd.randbytes(SIZE)
    for i in range(5, 10):
        edited = bytearray(old[f"lib/big/f{i:03}"])
        at = rnd.randrange(SIZE - 16)
        edited[at:at + 16] = rnd.randbytes(16)
        new[f"lib/big/f{i:03}"] = bytes(edited)
    return old, new


def serve(server: Nginx, folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file() and not path.name.startswith("tree-"):
            server.publish(f"repo/{path.relative_to(folder).as_posix()}", path.read_bytes())


@pytest.fixture
def updated(nginx: Nginx, tmp_path: Path) -> tuple[Path, Path, dict[str, bytes]]:
    """A root with release 1 installed, and release 2 (with its delta) now served."""
    old_files, new_files = releases(28)
    folder = tmp_path / "repo"
    work = tmp_path / "work"
    folder.mkdir()
    work.mkdir()
    shutil.move(make_package(work, "big", old_files, release=1), folder)
    build_index(folder)
    serve(nginx, folder)
    root = tmp_path / "root"
    assert moss(root, "repo", "add", "main", nginx.url("repo/stone.index")) == 0
    assert moss(root, "repo", "update") == 0
    assert moss(root, "install", "big") == 0
    new = Path(shutil.move(make_package(work, "big", new_files, release=2), folder))
    build_index(folder)
    serve(nginx, folder)
    assert moss(root, "repo", "update") == 0
    nginx.clear_log()
    return root, new, new_files


def installed_files(root: Path) -> dict[str, bytes]:
    return {f"lib/big/{p.name}": p.read_bytes() for p in (root / "usr/lib/big").iterdir()}


def test_an_update_moves_under_15_percent_and_gives_the_same_tree(
        nginx: Nginx, updated: tuple[Path, Path, dict[str, bytes]],
        capsys: pytest.CaptureFixture[str]) -> None:
    root, new, new_files = updated
    assert moss(root, "sync", "-u") == 0
    assert "warning" not in capsys.readouterr().err
    moved = sum(hit.bytes_sent for hit in nginx.hits())
    # The refresh before it costs two 304s; the only file sent is the delta.
    assert [hit.path.rsplit(".", 1)[-1] for hit in nginx.hits() if hit.status == 200] == [
        "delta"]
    assert moved <= 0.15 * new.stat().st_size
    assert installed_files(root) == new_files
    assert moss(root, "state", "verify") == 0


def corrupt_delta(nginx: Nginx, listing_matches: bool) -> None:
    """Damage the served delta's content; with ``listing_matches`` the list names the
    damaged file's sha256 (a bad publisher), else the original (damage in transit)."""
    import hashlib

    listing_path = nginx.www / "repo" / DELTAS_NAME
    listing = json.loads(listing_path.read_text())
    entry = listing["deltas"][0]
    served = nginx.www / "repo" / entry["uri"]
    data = bytearray(served.read_bytes())
    data[len(data) // 2] ^= 0xFF
    nginx.publish(f"repo/{entry['uri']}", bytes(data))
    if listing_matches:
        entry["hash"] = hashlib.sha256(data).hexdigest()
        nginx.publish(f"repo/{DELTAS_NAME}", json.dumps(listing).encode())


@pytest.mark.parametrize("listing_matches", [True, False])
def test_a_corrupted_delta_falls_back_to_the_full_package_in_one_line(
        nginx: Nginx, updated: tuple[Path, Path, dict[str, bytes]],
        capsys: pytest.CaptureFixture[str], listing_matches: bool) -> None:
    root, _new, new_files = updated
    corrupt_delta(nginx, listing_matches)
    if listing_matches:
        assert moss(root, "repo", "update") == 0
    capsys.readouterr()
    assert moss(root, "sync", "-u") == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "delta" in line]
    assert len(warnings) == 1, warnings
    assert "full package" in warnings[0]
    assert installed_files(root) == new_files
    assert moss(root, "state", "verify") == 0
    assert any(hit.path.endswith(".stone") for hit in nginx.hits())
