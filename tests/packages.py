"""Making small real packages for tests, through the same code as `moss pack`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from moss.pack import pack_tree
from moss.stone import Dependency, PackageMeta


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


def tree_snapshot(usr: Path) -> dict[str, str]:
    """What a user sees in a tree: each path with its type, mode, and content or target."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(usr):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(usr))
            st = path.lstat()
            if path.is_symlink():
                snap[rel] = f"link {os.readlink(path)}"
            elif path.is_dir():
                snap[rel] = f"dir {st.st_mode & 0o7777:o}"
            else:
                snap[rel] = f"file {st.st_mode & 0o7777:o} {path.read_bytes()!r}"
    return snap
