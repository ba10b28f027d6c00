"""A transaction's blobs: durable before they get store names, named before any record.

An install writes every new blob of every package into scratch, then one ``syncfs``
makes their bytes durable, then they take their store names, then a second
``syncfs`` makes the names durable, then the databases record them (one commit
each).  A power cut can therefore lose scratch files or store names, never the
bytes behind a name: a stored blob whose content is not its name is damage, which
is refused when a package's layout names it and written afresh when nothing does.
A bad package among several leaves the store and the databases as they were.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

from moss.cli import main
from moss.core import fs
from moss.core.faults import ENV
from moss.db.extras import ExtrasDB
from moss.db.install import InstallDB
from moss.db.layout import LayoutDB
from tests.support.packages import make_package, tree_snapshot

LICENCE = "the same licence in every package\n"


def moss(root: Path, *args: str) -> int:
    return main(["-D", str(root), "-y", "--quiet", *args])


def packages(workdir: Path, count: int, files: int, first: int = 0) -> list[Path]:
    """``count`` packages of ``files`` files each, all of them shipping one same file."""
    return [make_package(workdir, f"p{i}", {
        **{f"share/p{i}/d{j % 7}/f{j}": f"package {i} file {j}\n" for j in range(files)},
        f"share/licenses/p{i}": LICENCE,
    }) for i in range(first, first + count)]


def store_blobs(root: Path) -> dict[str, Path]:
    found = {}
    for dirpath, _dirs, names in os.walk(root / ".moss/assets/v2"):
        for name in names:
            found[name] = Path(dirpath) / name
    return found


def recorded(root: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(root / ".moss/db/extras")) as conn:
        return {r[0] for r in conn.execute("SELECT digest FROM assets")}


def unpacked(root: Path) -> set[str]:
    """Names of the packages with a ``meta`` row; each must have its layout rows too."""
    with contextlib.closing(sqlite3.connect(root / ".moss/db/install")) as conn:
        metas = dict(conn.execute("SELECT package, name FROM meta").fetchall())
    with contextlib.closing(sqlite3.connect(root / ".moss/db/layout")) as conn:
        laid_out = {r[0] for r in conn.execute("SELECT DISTINCT package_id FROM layout")}
    assert set(metas) <= laid_out
    return set(metas.values())


def killed_install(root: Path, point: str, stones: Iterable[Path]) -> None:
    proc = subprocess.run([sys.executable, "-m", "moss", "-D", str(root), "-y", "--quiet",
                           "install", *map(str, stones)], env={**os.environ, ENV: point},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, (point, proc.returncode, proc.stderr)


def test_two_syncfs_per_transaction_bytes_before_names(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Six packages, 601 distinct blobs: the bytes flushed while no new blob has a
    store name, the names flushed once all have, then one commit per database."""
    events: list[str] = []
    root = tmp_path / "root"
    real_sync = fs.sync_filesystem
    real_assets, real_layout, real_meta = (ExtrasDB.add_assets, LayoutDB.add_packages,
                                           InstallDB.add_packages)

    def sync(path: Path) -> None:
        events.append(f"syncfs, {len(store_blobs(root))} blobs named")
        real_sync(path)

    def add_assets(self: ExtrasDB, rows: Iterable[tuple[str, str, int, int, int, int, int, int]]
                   ) -> None:
        rows = list(rows)
        events.append(f"assets {len(rows)}")
        real_assets(self, rows)

    def add_layouts(self: LayoutDB, items: list[tuple[str, list[object]]]) -> None:
        events.append(f"layouts {len(items)}")
        real_layout(self, items)  # type: ignore[arg-type]

    def add_metas(self: InstallDB, items: list[tuple[str, object]]) -> None:
        events.append(f"metas {len(items)}")
        real_meta(self, items)  # type: ignore[arg-type]

    monkeypatch.setattr(fs, "sync_filesystem", sync)
    monkeypatch.setattr(ExtrasDB, "add_assets", add_assets)
    monkeypatch.setattr(LayoutDB, "add_packages", add_layouts)
    monkeypatch.setattr(InstallDB, "add_packages", add_metas)
    assert moss(root, "install", *map(str, packages(tmp_path, 6, 100))) == 0
    assert events == ["syncfs, 0 blobs named", "syncfs, 601 blobs named",
                      "assets 601", "layouts 6", "metas 6"]
    for i in range(6):
        assert (root / f"usr/share/p{i}/d1/f8").read_text() == f"package {i} file 8\n"
        assert (root / f"usr/share/licenses/p{i}").read_text() == LICENCE
    assert moss(root, "state", "verify") == 0


@pytest.mark.parametrize(("point", "named"), [("unpack:blobs-written", False),
                                              ("unpack:blobs-placed", True)])
def test_a_kill_before_the_records_leaves_nothing_recorded(tmp_path: Path, point: str,
                                                          named: bool) -> None:
    root = tmp_path / "root"
    first, *more = packages(tmp_path, 4, 80)
    assert moss(root, "install", str(first)) == 0
    before, names = tree_snapshot(root / "usr"), recorded(root)
    killed_install(root, point, more)
    stored = store_blobs(root)
    assert len(stored) == (1 + 80 * 4 if named else 1 + 80)  # names, or scratch alone
    assert recorded(root) == names  # no record either way
    assert unpacked(root) == {"p0"}
    assert tree_snapshot(root / "usr") == before
    assert moss(root, "state", "verify") == 0  # orphans, not damage
    assert moss(root, "install", *map(str, more)) == 0
    assert recorded(root) == set(store_blobs(root))
    assert not (root / ".moss/assets/incoming").exists()
    assert moss(root, "state", "verify") == 0


def lose(paths: list[Path], how: str) -> None:
    for path in paths:
        if how == "emptied":
            path.write_bytes(b"")
        elif how == "zeroed":
            path.write_bytes(b"\0" * path.stat().st_size)
        else:
            path.unlink()


@pytest.mark.parametrize("seed", range(4))
def test_a_power_cut_loses_scratch_or_names_and_the_next_install_heals(tmp_path: Path,
                                                                      seed: int) -> None:
    """What a power cut may leave: before the first flush, scratch files emptied,
    zeroed or gone (no store name yet); after it, any subset of the new store names
    gone (their bytes were durable).  Generated: which instant, which files."""
    rng = random.Random(seed)
    root = tmp_path / "root"
    first, *more = packages(tmp_path, 3, 60)
    assert moss(root, "install", str(first)) == 0
    names = recorded(root)
    point = rng.choice(["unpack:blobs-written", "unpack:blobs-placed"])
    killed_install(root, point, more)
    if point == "unpack:blobs-written":
        scratch = [p for p in (root / ".moss/assets/incoming").rglob("*") if p.is_file()]
        assert len(scratch) == 2 * 60
        lose(rng.sample(scratch, rng.randint(1, len(scratch))),
             rng.choice(["emptied", "zeroed", "removed"]))
    else:
        new = [p for name, p in store_blobs(root).items() if name not in names]
        assert len(new) == 2 * 60
        lose(rng.sample(new, rng.randint(1, len(new))), "removed")
    assert moss(root, "state", "verify") == 0  # nothing recorded names them
    assert moss(root, "install", *map(str, more)) == 0
    for i in (1, 2):
        assert (root / f"usr/share/p{i}/d3/f10").read_text() == f"package {i} file 10\n"
    assert recorded(root) == set(store_blobs(root))
    assert moss(root, "state", "verify") == 0  # every record matches its blob again


@pytest.mark.parametrize("how", ["emptied", "zeroed"])
def test_a_damaged_orphan_is_written_afresh(tmp_path: Path, how: str) -> None:
    """A blob a killed install named but nothing records, damaged afterwards: no state
    links it, so the next install of its package replaces it instead of refusing."""
    root = tmp_path / "root"
    first, *more = packages(tmp_path, 2, 40)
    assert moss(root, "install", str(first)) == 0
    names = recorded(root)
    killed_install(root, "unpack:blobs-placed", more)
    orphans = [p for name, p in store_blobs(root).items() if name not in names]
    lose(orphans[:5], how)
    assert moss(root, "install", *map(str, more)) == 0
    assert (root / "usr/share/p1/d3/f10").read_text() == "package 1 file 10\n"
    assert moss(root, "state", "verify") == 0


def test_a_bad_package_among_several_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    root = tmp_path / "root"
    first, *good = packages(tmp_path, 4, 80)
    bad = packages(tmp_path, 1, 80, first=9)[0]
    data = bytearray(bad.read_bytes())
    data[-40] ^= 0xFF  # inside the Content payload, which is read last
    bad.write_bytes(bytes(data))
    assert moss(root, "install", str(first)) == 0
    stored, names, before = store_blobs(root), recorded(root), tree_snapshot(root / "usr")
    assert moss(root, "install", *map(str, good), str(bad)) == 1
    assert store_blobs(root) == stored and recorded(root) == names
    assert unpacked(root) == {"p0"}
    assert tree_snapshot(root / "usr") == before
    assert not (root / ".moss/assets/incoming").exists()
    assert moss(root, "install", *map(str, good)) == 0
    assert moss(root, "state", "verify") == 0
