"""A generated repository: many packages of many small files, made with ``moss pack``.

Shared by the install and dedup benchmarks.  Files are text-like (they compress
the way source and documentation do), unique per package and release, with one
licence file every package shares, as real repositories have.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from moss.stone import PackageMeta
from moss.stonetools.pack import pack_tree

WORDS = ("moss", "stone", "state", "store", "blit", "tree", "link", "boot", "kernel", "entry",
         "layout", "index", "meta", "content", "payload", "digest", "transaction", "package",
         "repository", "serpent")
LICENCE = b"Permission is hereby granted, free of charge, to any person...\n" * 40


@dataclass(frozen=True)
class Generated:
    name: str
    release: int
    tree: Path  # the package's files, as /usr
    stone: Path
    files: int
    size: int  # bytes of file content


def _text(rng: random.Random, size: int, salt: str) -> bytes:
    words = rng.choices(WORDS, k=size // 6 + 1)
    return (salt + "\n" + " ".join(words)).encode()[:size]


def make_package(out: Path, index: int, files: int, release: int = 1) -> Generated:
    """Package ``pkg<index>`` with ``files`` files (one is the shared licence)."""
    name = f"pkg{index:04}"
    rng = random.Random(index * 1000 + release)
    tree = out / "trees" / f"{name}-{release}"
    size = 0
    for i in range(files - 1):
        folder = tree / "share" / name / f"d{i // 50:03}"
        folder.mkdir(parents=True, exist_ok=True)
        body = _text(rng, rng.randrange(200, 4000), f"{name} {release} {i}")
        (folder / f"f{i:05}.txt").write_bytes(body)
        size += len(body)
    licence = tree / "share" / "licenses" / name / "LICENSE"
    licence.parent.mkdir(parents=True)
    licence.write_bytes(LICENCE)
    size += len(LICENCE)
    meta = PackageMeta(name=name, version="1.0", release=release, summary=f"generated {name}")
    stone = pack_tree(tree, meta, out / "stones" / f"{name}-1.0-{release}.stone", level=3)
    return Generated(name, release, tree, stone, files, size)


def make_repository(out: Path, packages: int, files_per_package: int) -> list[Generated]:
    (out / "stones").mkdir(parents=True, exist_ok=True)
    return [make_package(out, i, files_per_package) for i in range(packages)]
