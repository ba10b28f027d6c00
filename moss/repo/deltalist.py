"""A repository's list of delta stones, ``stone.index.deltas`` beside its index.

Fetched at each ``repo update`` after the index, conditionally (a 304 keeps it).
It is optional: a server without one (404), or any failure to fetch it, only
means full packages.  A repository with a key must sign it too
(``stone.index.deltas.minisig``): the deltas it names carry the layout a state
is built from, so an unsigned list is dropped.  Each delta is checked against
the sha256 listed here when it is downloaded (:mod:`moss.planning.request`).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from moss.core.errors import MossError
from moss.core.fs import remove_tree
from moss.repo.config import Repository, cache_dir
from moss.stone.delta import DELTAS_NAME, DeltaEntry, parse_deltas

if TYPE_CHECKING:
    from moss.repo.fetch import FetchOptions


def refresh(target: Path, repo: Repository, options: FetchOptions | None) -> None:
    """Bring ``target``'s deltas list up to ``repo.uri``'s; drop it when it is gone or bad."""
    from moss.repo import revalidate, signature
    from moss.repo.fetch import download

    url = repo.uri + ".deltas"
    scratch = Path(tempfile.mkdtemp(prefix=".deltas-", dir=target))
    try:
        fetched = download(url, scratch / DELTAS_NAME, options=options,
                           validators=revalidate.stored(target, url, DELTAS_NAME))
        if not fetched.modified:
            return
        if repo.key:
            download(url + ".minisig", scratch / "sig", options=options)
            signature.verify(scratch / DELTAS_NAME, (scratch / "sig").read_text(errors="replace"),
                             repo.key)
        os.replace(scratch / DELTAS_NAME, target / DELTAS_NAME)
        revalidate.store(target, url, target / DELTAS_NAME, fetched.validators, DELTAS_NAME)
    except MossError:
        (target / DELTAS_NAME).unlink(missing_ok=True)
        (target / (DELTAS_NAME + ".http")).unlink(missing_ok=True)
    finally:
        remove_tree(scratch, ignore_errors=True)


def load(root: Path, repo: Repository) -> dict[str, list[DeltaEntry]]:
    """The listed deltas by target package id (sha256)."""
    try:
        text = (cache_dir(root, repo) / DELTAS_NAME).read_bytes()
    except OSError:
        return {}
    found: dict[str, list[DeltaEntry]] = {}
    for entry in parse_deltas(text):
        found.setdefault(entry.target, []).append(entry)
    return found
