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

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from moss.core.heap import long_lived
from moss.repo.config import Repository, cache_dir
from moss.repo.indexpath import index_path
from moss.repo.metacache import decode, decode_all, open_current
from moss.repo.metadb import DB_NAME

TYPE_CHECKING = False
if TYPE_CHECKING:
    from moss.repo.index import Offer

#: What ``list available`` and ``search`` show of an offer: name, version, release,
#: summary, repository id and the package hash (to tell whether it is installed), then
#: columns of the query's own (plain tuples as SQLite gives them: no copy per row).
Listed = tuple[Any, ...]

#: Each repository's best offer of each name (:mod:`moss.repo.metacache`), by name;
#: ``?1`` is the repository id, ``?2`` the lowered search term ('' matches all).
_BEST = ("SELECT name, version, release, summary, ?1, hash, build_release, "
         "instr(name_lower, ?2) > 0 OR instr(summary_lower, ?2) > 0 AS hit FROM moss_py_best")
_LIST = ("SELECT name, version, release, summary, ?, hash, build_release FROM moss_py_best "
         "ORDER BY name")
_Row = Listed  # then the build release and (searching) whether it matched
#: ``list available``'s table as printed: name, version-release, repository id,
#: "installed" or "" (``?2``: the installed packages' ids as JSON), summary; then the
#: release and build release, to rank.
_TABLE = ("SELECT name, version || '-' || release, ?1, CASE WHEN coalesce(hash, '') IN "
          "(SELECT value FROM json_each(?2)) THEN 'installed' ELSE '' END, summary, release, "
          "build_release FROM moss_py_best ORDER BY name")
#: Where a row holds its repository id, release and build release, by its shape.
_LISTED_RANK = (4, 2, 6)
_TABLE_RANK = (2, 5, 6)


@contextmanager
def current_dbs(root: Path, repos: Sequence[Repository]
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


def ranked(dbs: list[tuple[Repository, sqlite3.Connection]]
           ) -> list[tuple[Repository, sqlite3.Connection]]:
    """Most preferred first: the Catalog's rank of a repository (priority, then id)."""
    return sorted(dbs, key=lambda pair: (-pair[0].priority, pair[0].id))


def _merge(batches: list[tuple[int, list[_Row]]], rank: tuple[int, int, int] = _LISTED_RANK
           ) -> list[_Row]:
    """Each name's best row across repositories (batches most preferred first), by name.

    A later repository wins a name only at the same priority with a higher (release,
    build release): the Catalog's rank, whose last term, the id, the order already
    settles.  One repository needs no merging: its rows are its best, in name order;
    none (no repository fetched yet) offers nothing.
    """
    if len(batches) <= 1:
        return batches[0][1] if batches else []
    repo, release, build = rank
    priority = {rows[0][repo]: prio for prio, rows in batches if rows}
    best = {row[0]: row for row in batches[0][1]}
    for prio, rows in batches[1:]:
        for row in rows:
            held = best.get(row[0])
            if held is None or (priority[held[repo]] == prio and (row[release], row[build])
                                > (held[release], held[build])):
                best[row[0]] = row
    return [best[name] for name in sorted(best)]


def best_table(root: Path, repos: Sequence[Repository], installed_ids: set[str]
               ) -> list[tuple[Any, ...]] | None:
    """``list available``'s rows as it prints them (:data:`_TABLE`), by name, built by
    SQLite: no Python object per offer but the row itself; None to parse instead."""
    import json  # the installed ids, for SQLite's json_each

    with current_dbs(root, repos) as dbs:
        if dbs is None:
            return None
        ids = json.dumps(sorted(installed_ids))
        batches = [(repo.priority, conn.execute(_TABLE, (repo.id, ids)).fetchall())
                   for repo, conn in ranked(dbs)]
    return _merge(batches, _TABLE_RANK)


def best_listings(root: Path, repos: Sequence[Repository]) -> list[Listed] | None:
    """Each offered name's best offer, by name, as ``list available`` shows it; None
    to parse the indexes instead."""
    with current_dbs(root, repos) as dbs:
        if dbs is None:
            return None
        batches = [(repo.priority, conn.execute(_LIST, (repo.id,)).fetchall())
                   for repo, conn in ranked(dbs)]
    return _merge(batches)


def search_listings(root: Path, repos: Sequence[Repository], needle: str,
                    names: Sequence[str]) -> tuple[list[Listed], set[str]] | None:
    """The best offers whose name or summary, lowered, holds ``needle`` (lowered), by
    name, and which of ``names`` some repository offers; None to parse instead.

    A name's best offer may come from a repository whose offer does not match while
    another's does: so every repository's offer of each name that matched anywhere is
    ranked, and the winner kept only if it matches itself.
    """
    with current_dbs(root, repos) as dbs:
        if dbs is None:
            return None
        dbs = ranked(dbs)
        batches = [(repo.priority, conn.execute(_BEST + " WHERE hit ORDER BY name",
                                                (repo.id, needle)).fetchall())
                   for repo, conn in dbs]
        if len(dbs) > 1:
            batches = _with_rivals(dbs, batches, needle)
        offered = {name for name in names
                   if any(conn.execute("SELECT 1 FROM moss_py_best WHERE name = ?",
                                       (name,)).fetchone() for _, conn in dbs)}
    return [row for row in _merge(batches) if row[7]], offered


def _with_rivals(dbs: list[tuple[Repository, sqlite3.Connection]],
                 batches: list[tuple[int, list[_Row]]], needle: str
                 ) -> list[tuple[int, list[_Row]]]:
    """``batches`` plus each repository's offers, matching or not, of the names that
    matched in any repository: the rivals ranking must weigh."""
    import json  # only for more than one repository

    wanted = json.dumps(sorted({row[0] for _, rows in batches for row in rows}))
    return [(priority, rows + conn.execute(
                _BEST + " WHERE NOT hit AND name IN (SELECT value FROM json_each(?3))",
                (repo.id, needle, wanted)).fetchall())
            for (priority, rows), (repo, conn) in zip(batches, dbs, strict=True)]


def all_offers(root: Path, repos: Sequence[Repository]) -> list[Offer] | None:
    """Every offer, as :func:`moss.repo.index.load_offers` parses them, from the meta
    databases: one query per repository instead of decoding every index record (a
    third of the time for 30 000 packages); None to parse instead, also when a
    database is damaged or holds fewer packages than its index.

    The records lack only the unmodelled ``extra`` records of the index, which neither
    resolution nor the databases keep (``offers_providing`` answers ``lookup`` so too).
    """
    from moss.repo.index import Offer  # fetching's module: not for list available

    with current_dbs(root, repos) as dbs:
        if dbs is None:
            return None
        offers: list[Offer] = []
        with long_lived():  # some 400 000 objects that live as long as the command
            try:
                for repo, conn in dbs:
                    (count,) = conn.execute("SELECT packages FROM moss_py_source").fetchone()
                    records = [record for (record,) in conn.execute(
                        "SELECT record FROM moss_py_offers ORDER BY seq")]
                    if len(records) != count:
                        return None
                    offers += [Offer(meta, repo.id, repo.priority) for meta in decode_all(records)]
            except (sqlite3.Error, ValueError, KeyError, TypeError):
                return None  # a damaged database: the index says what is offered
        return offers


def load_offers(root: Path, repos: Sequence[Repository]) -> list[Offer]:
    """Every offer of the active repositories: from the meta databases when they are
    current, else parsed from the indexes (:func:`moss.repo.index.load_offers`)."""
    from moss.repo import index

    from_db = all_offers(root, repos)
    return from_db if from_db is not None else index.load_offers(root, repos)


def offers_providing(root: Path, repos: Sequence[Repository], key: str) -> list[Offer] | None:
    """The offers called ``key`` or providing it, in load order; None to parse instead."""
    from moss.repo.index import Offer

    with current_dbs(root, repos) as dbs:
        if dbs is None:
            return None
        return [Offer(decode(record), repo.id, repo.priority) for repo, conn in dbs
                for (record,) in conn.execute(
                    "SELECT record FROM moss_py_offers WHERE seq IN "
                    "(SELECT seq FROM moss_py_keys WHERE key = ?) ORDER BY seq", (key,))]


def offered_among(root: Path, repos: Sequence[Repository], names: Sequence[str]
                  ) -> set[str] | None:
    """Which of ``names`` some repository offers by that name; None to parse instead.

    One indexed lookup per repository, so asking about a few hundred names does
    not read a 100 000-package index (a subpackage toggle asks at every transaction).
    """
    wanted = json.dumps(sorted(set(names)))
    with current_dbs(root, repos) as dbs:
        if dbs is None:
            return None
        return {name for _repo, conn in dbs for (name,) in conn.execute(
            "SELECT name FROM moss_py_best WHERE name IN (SELECT value FROM json_each(?))",
            (wanted,))}
