"""Digests of whole files, read in bounded chunks so a large package costs no memory."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Protocol

import blake3

CHUNK = 1 << 20


class _Hasher(Protocol):
    def update(self, data: bytes, /) -> object: ...

    def hexdigest(self) -> str: ...


def _digest(path: Path, hasher: _Hasher) -> str:
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


def sha256_file(path: Path) -> str:
    """What repository indexes promise for a ``.stone``, and its package id."""
    return _digest(path, hashlib.sha256())


def blake3_file(path: Path) -> str:
    """The collision-resistant digest recorded for store blobs and compared for kernels."""
    return _digest(path, blake3.blake3())
