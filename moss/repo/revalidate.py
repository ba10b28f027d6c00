"""The HTTP validators of a fetched index, kept beside it so a refresh can be a 304.

``<repo>/stone.index.http`` holds the URL the index came from, the sha256 of
the index as it was written, and the server's ``ETag``/``Last-Modified``.
They are sent back only while both still hold: the index in place is the one
those validators describe (real moss, sharing the folder, may have replaced
it) and the URL is the same (a versioned repository may have moved on).  A
stale or damaged file only costs one full download.
"""

from __future__ import annotations

import json
from pathlib import Path

from moss.core.fs import atomic_write
from moss.core.hashing import sha256_file
from moss.core.root import REPO_INDEX_NAME
from moss.repo.fetch import Validators

VALIDATORS_NAME = REPO_INDEX_NAME + ".http"


def stored(target: Path, url: str, name: str = REPO_INDEX_NAME) -> Validators | None:
    """The validators to send for ``url``, if they still describe ``target``'s index
    (or its file ``name``: the deltas list keeps its own)."""
    index = target / name
    try:
        record = json.loads((target / (name + ".http")).read_text())
        if not isinstance(record, dict) or record.get("url") != url or not index.is_file():
            return None
        if record.get("sha256") != sha256_file(index):
            return None
        etag, modified = record.get("etag"), record.get("last_modified")
    except (OSError, ValueError):
        return None
    found = Validators(etag if isinstance(etag, str) else None,
                       modified if isinstance(modified, str) else None)
    return found or None


def store(target: Path, url: str, index: Path, validators: Validators,
          name: str = REPO_INDEX_NAME) -> None:
    """Record ``validators`` for ``index`` (about to be, or already, ``target/name``)."""
    path = target / (name + ".http")
    if not validators:
        path.unlink(missing_ok=True)
        return
    record = {"url": url, "sha256": sha256_file(index), "etag": validators.etag,
              "last_modified": validators.last_modified}
    atomic_write(path, json.dumps(record, indent=1).encode() + b"\n")
