"""BLAKE3 of kernel files: each distinct file hashed once per sync, a state's
kernels not again while they stay unchanged.

A boot sync compares kernels by content: every state's copy of a kernel (hard
links of one store blob) for the kernel's identity, then each file on ``$BOOT``
against its source.  Five states with two kernels made a no-change sync hash 18
files for 8 distinct ones.  A digest is kept by the file's identity and every
stamp a change moves, (device, inode, size, mtime_ns, ctime_ns), read from the
open file before and after it is hashed, and only if nothing moved meanwhile.

Safety: a kept digest must never make a sync skip copying a changed kernel.

* Within one sync (:func:`remembering`) every file's digest is kept in memory.
* Across syncs, only the digests of the states' kernels (``lasting``) are kept,
  in ``ROOT/.moss/boot-digests`` (root's own, beside the databases), and only
  for a file last changed :data:`SETTLED_NS` before it was hashed, so a later
  change always moves ctime, which no user can set; a hard link a new state adds
  moves it too.  Files on ``$BOOT`` are never kept across syncs: FAT keeps mtime
  to 2 s and has no ctime of its own, so a rewrite of the same size could keep
  every stamp; they are hashed once per sync, as their sources were before.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import blake3

from moss.core.fs import atomic_write
from moss.core.hashing import CHUNK

#: How long before hashing a file must have last changed for its digest to be kept
#: across syncs: longer than any file system's timestamp granularity.
SETTLED_NS = 3_000_000_000
STORE_NAME = "boot-digests"

_Key = tuple[int, int, int, int, int]


class _Memory:
    def __init__(self, lasting: dict[str, str]) -> None:
        self.known: dict[_Key, str] = {}
        self.lasting_before = lasting
        self.lasting: dict[str, str] = {}


_memory: _Memory | None = None


def _key(st: os.stat_result) -> _Key:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _load(store: Path) -> dict[str, str]:
    """The kept digests; anything unreadable is as good as none (they are re-hashed)."""
    try:
        data = json.loads(store.read_text())
    except (OSError, ValueError, RecursionError):  # json recurses once per level
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


@contextmanager
def remembering(store: Path | None = None) -> Iterator[None]:
    """Digests taken inside are kept until the block ends (one sync); the states'
    kernels' also in ``store``, rewritten when what it should hold changed."""
    global _memory
    outer, _memory = _memory, _Memory(_load(store) if store else {})
    memory = _memory
    try:
        yield
    finally:
        _memory = outer
    if store is not None and memory.lasting != memory.lasting_before:
        with contextlib.suppress(OSError):  # a cache: failing to keep it costs a hash
            atomic_write(store, json.dumps(memory.lasting, sort_keys=True).encode(), 0o600)


def file_digest(path: Path, lasting: bool = False) -> str:
    """BLAKE3 hex of ``path``'s bytes; inside :func:`remembering`, once per file, and
    for ``lasting`` files (a state's kernels) once while they stay unchanged."""
    memory = _memory
    with open(path, "rb") as f:
        key = _key(os.fstat(f.fileno()))
        name = ":".join(map(str, key))
        if memory is not None:
            if key in memory.known:
                found = memory.known[key]
            elif lasting and name in memory.lasting_before:
                found = memory.known[key] = memory.lasting_before[name]
            else:
                found = None
            if found is not None:
                if lasting:
                    memory.lasting[name] = found
                return found
        started = time.time_ns()
        hasher = blake3.blake3()
        while chunk := f.read(CHUNK):
            hasher.update(chunk)
        digest: str = hasher.hexdigest()
        if memory is None or _key(os.fstat(f.fileno())) != key:
            return digest
    memory.known[key] = digest
    if lasting and started - max(key[3], key[4]) > SETTLED_NS:
        memory.lasting[name] = digest
    return digest
