"""``moss index``: a repository index (``stone.index``) for the packages in a folder.

Publishers sign the index with ``minisign -S -s KEY.sec -m DIR/stone.index``.  The
signed trusted comment must hold ``timestamp:<unix seconds>`` (minisign 0.10+ writes
it by default; with ``-t`` keep it: ``-t "timestamp:$(date +%s) ..."``): clients
refuse an index signed earlier than the one they use, so an old index cannot be
replayed to roll them back (:mod:`moss.repo.index`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from moss.core.errors import MossError
from moss.core.hashing import sha256_file
from moss.stone import FileType, PackageMeta, StoneError, open_stone, write_repository_index
from moss.stonetools.delta import write_deltas

INDEX_NAME = "stone.index"


def read_package_entry(path: Path, root: Path) -> PackageMeta:
    """The package's meta plus where it is, its sha256 and size, as an index holds it."""
    with open_stone(path) as reader:
        if reader.file_type is not FileType.BINARY:
            raise StoneError(f"{path}: not a package (file type {reader.file_type.name})")
        meta = reader.package_meta()
    # relpath: `moss index -o OUT` points OUT/stone.index at ../repo/x.stone.
    meta.uri = Path(os.path.relpath(path.absolute(), root.absolute())).as_posix()
    meta.hash = sha256_file(path)
    meta.size = path.stat().st_size
    return meta


@dataclass
class IndexResult:
    """What ``moss index`` wrote, and the files it left out: ``dropped`` pairs each
    superseded package with the newer release of its name that the index holds."""

    path: Path
    packages: list[PackageMeta] = field(default_factory=list)
    dropped: list[tuple[PackageMeta, PackageMeta]] = field(default_factory=list)


def build_index(directory: Path, level: int = 3, output: Path | None = None,
                deltas: bool = True) -> Path:
    """Writes ``directory/stone.index`` for every ``*.stone`` below ``directory``
    (see :func:`index_folder`)."""
    return index_folder(directory, level, output, deltas).path


def index_folder(directory: Path, level: int = 3, output: Path | None = None,
                 deltas: bool = True) -> IndexResult:
    """Writes ``directory/stone.index`` for every ``*.stone`` below ``directory``.

    With ``output``, the index goes to ``output/stone.index`` instead and its
    package URIs are relative to ``output``, as real moss's ``index -o``.

    The highest release of each name wins (an index offers one package per name);
    the older ones are returned as dropped, so the command can say so rather than
    count fewer packages than files without a word.  Two files with the same name
    and release are an error, since an index cannot say which one is meant.
    Deltas from older releases in the folder are written beside it
    (:mod:`moss.stonetools.delta`).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise MossError(f"{directory}: not a directory")
    releases: dict[str, list[tuple[PackageMeta, Path]]] = {}
    for path in sorted(directory.rglob("*.stone")):
        if not path.is_file():
            continue
        meta = read_package_entry(path, output or directory)
        for known, _path in releases.get(meta.name, []):
            if known.release == meta.release:
                raise MossError(
                    f"{known.uri} and {meta.uri} are both {meta.name} release {meta.release}")
        releases.setdefault(meta.name, []).append((meta, path))
    older: dict[str, list[tuple[PackageMeta, Path]]] = {}
    chosen: dict[str, PackageMeta] = {}
    paths: dict[str, Path] = {}
    for name, found in releases.items():
        found.sort(key=lambda item: -item[0].release)
        (chosen[name], paths[name]), older[name] = found[0], found[1:]
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
    out = (output or directory) / INDEX_NAME
    packages = [chosen[name] for name in sorted(chosen)]
    write_repository_index(out, packages, level=level)
    if deltas:
        write_deltas(output or directory, chosen, older, paths, level)
    dropped = [(meta, chosen[meta.name]) for found in older.values() for meta, _ in found]
    dropped.sort(key=lambda pair: (pair[0].name, pair[0].release, pair[0].uri or ""))
    return IndexResult(out, packages, dropped)
