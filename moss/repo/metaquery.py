"""Queries answered from the repositories' meta databases instead of their indexes.

Parsing a ``stone.index`` of 100 000 packages takes tens of seconds, nearly all
of it decoding records; ``search``, ``info`` and ``list available`` need a
handful of them (or a few columns of all).  Each function here returns None
unless every active repository with a fetched index has a meta database whose
own tables are current for it (:mod:`moss.repo.metacache`); the caller then
parses the indexes exactly as before, so the answer never depends on which
path gave it.  Offers come back in the order :func:`moss.repo.index.load_offers`
would give them (repositories in order, packages in index order), so ranking
them with the same stable sort gives the same result.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from moss.repo.config import Repository, cache_dir
from moss.repo.index import Offer, index_path
from moss.repo.metacache import decode, open_current
from moss.repo.metadb import DB_NAME


class Listing(NamedTuple):
    """The columns ``list available`` and ``search`` show of an offer, and its rank.

    A named tuple: tens of thousands are made per query, and a frozen dataclass costs
    several times as much to build."""

    name: str
    version: str
    release: int
    build_release: int
    summary: str
    hash: str | None
    repository: str
    priority: int


@contextmanager
def _current(root: Path, repos: Sequence[Repository]
             ) -> Iterator[list[tuple[Repository, sqlite3.Connection]] | None]:
    """Each active repository's database, read-only; None when one is missing or stale."""
    opened: list[tuple[Repository, sqlite3.Connection]] = []
    try:
        for repo in repos:
            path = index_path(root, repo)
            if not repo.active or not path.is_file():
                continue  # load_offers skips it too
            conn = open_current(cache_dir(root, repo) / DB_NAME, path)
            if conn is None:
                yield None
                return
            opened.append((repo, conn))
        yield opened
    finally:
        for _, conn in opened:
            conn.close()


def listings(root: Path, repos: Sequence[Repository]) -> list[Listing] | None:
    """Every offer's listed columns, in load order; None to parse the indexes instead."""
    with _current(root, repos) as dbs:
        if dbs is None:
            return None
        return [Listing(name, version, release, build, summary, hash_, repo.id, repo.priority)
                for repo, conn in dbs
                for name, version, release, build, summary, hash_ in conn.execute(
                    "SELECT name, version, release, build_release, summary, hash "
                    "FROM moss_py_offers ORDER BY seq")]


def offers_providing(root: Path, repos: Sequence[Repository], key: str) -> list[Offer] | None:
    """The offers called ``key`` or providing it, in load order; None to parse instead."""
    with _current(root, repos) as dbs:
        if dbs is None:
            return None
        return [Offer(decode(record), repo.id, repo.priority) for repo, conn in dbs
                for (record,) in conn.execute(
                    "SELECT record FROM moss_py_offers WHERE seq IN "
                    "(SELECT seq FROM moss_py_keys WHERE key = ?) ORDER BY seq", (key,))]
