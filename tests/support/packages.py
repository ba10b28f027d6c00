"""Making small real packages for tests, through the same code as `moss pack`."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from moss.stone import Dependency, PackageMeta
from moss.stonetools.pack import pack_tree


class Link(str):
    """A symlink target in a tree spec."""


TreeSpec = Mapping[str, "bytes | str | Link | None"]


def make_tree(directory: Path, files: TreeSpec) -> Path:
    """Files from a spec: bytes or str content, a Link, or None for an empty directory."""
    for rel, content in files.items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            path.mkdir(exist_ok=True)
        elif isinstance(content, Link):
            os.symlink(str(content), path)
        else:
            path.write_bytes(content.encode() if isinstance(content, str) else content)
            if rel.startswith("bin/"):
                path.chmod(0o755)
    return directory


def make_package(
    workdir: Path, name: str, files: TreeSpec, *, version: str = "1.0", release: int = 1,
    conflicts: tuple[str, ...] = (), provides: tuple[str, ...] = (),
    depends: tuple[str, ...] = (),
) -> Path:
    tree = make_tree(workdir / f"tree-{name}-{release}", files)
    meta = PackageMeta(
        name=name, version=version, release=release, summary=f"the {name} package",
        conflicts=[Dependency.parse(c) for c in conflicts],
        provides=[Dependency.parse(p) for p in provides],
        depends=[Dependency.parse(d) for d in depends],
    )
    return pack_tree(tree, meta, workdir / f"{name}-{version}-{release}.stone")


Snapshot = dict[str, tuple[str, int, bytes | str]]


def tree_snapshot(root: Path) -> Snapshot:
    """What a user would compare: each path's kind, permission bits, and content or target."""
    snap: Snapshot = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                snap[rel] = ("link", 0, os.readlink(path))
            elif stat.S_ISDIR(mode):
                snap[rel] = ("dir", stat.S_IMODE(mode), "")
            else:
                snap[rel] = ("file", stat.S_IMODE(mode), path.read_bytes())
    return snap
