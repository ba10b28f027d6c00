"""``list available``'s whole table, header to last newline, built by SQLite from the
meta databases in one string: no Python object per offer (issue 27).

The databases are attached to one connection, each repository's winning rows come
from its own ``moss_py_best`` in name order, and SQLite merges them (``UNION ALL ...
ORDER BY``, no sort) and pads them with ``printf``, widths in characters as Python's
``len`` (``%-!*s``), trailing whitespace cut as ``str.rstrip`` cuts it.
``group_concat`` keeps the order of its ordered subquery: SQLite drops a subquery's
ORDER BY only under an outer ORDER BY or a join.

What it costs, and why it is built so (100 000 packages):

* the widths are each database's longest cells, stored by ``repo update``
  (:mod:`moss.repo.metalines`; measured without ranking in a database without them);
  with several repositories one ``EXISTS`` query then confirms a shown row reaches
  them (an offer another repository beats may be the longest), and only when one does
  not are the shown rows measured (:func:`_exact_widths`);
* a database whose stored widths are the table's gives each row's name and version
  as stored, padded; another's rows are padded with ``printf``.  The repository and
  "installed" cells are one padded constant of its repository, and only a line whose
  summary may end in whitespace is trimmed;
* two databases that offer no name in common (found by looking up the smaller one's
  names in the other) skip looking up every row's name in the other;
* one thread: two, each on its own connection with half the names, cost more than
  they saved on a machine whose cores were busy (each thread's SQLite allocations
  contend), so the table is built in one query.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from moss.repo.config import Repository, cache_dir
from moss.repo.metadb import DB_NAME
from moss.repo.metalines import stored_widths
from moss.repo.metaquery import current_dbs, ranked

#: What Python's ``str.rstrip()`` strips: every code point whose ``isspace()`` is true
#: (tests/repo/test_metaquery_text.py checks it against Python's own).
WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004"
              "\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
HEADER = ("NAME", "VERSION", "REPOSITORY", "", "SUMMARY")
_VR = "t.version || '-' || t.release"
_INSTALLED = "coalesce(t.hash, '') IN (SELECT value FROM json_each(:ids))"
_NUL = (f"instr(t.name, char(0)) + instr({_VR}, char(0)) + instr(t.summary, char(0))")

Dbs = list[tuple[Repository, sqlite3.Connection]]
Schemas = list[tuple[Repository, str]]


def table_text(root: Path, repos: Sequence[Repository], installed_ids: set[str]
               ) -> str | None:
    """The table as ``list available`` prints it; None to take the row-by-row path (a
    database missing or stale, a NUL in a cell: SQLite's length() and printf stop at a
    NUL, Python's do not)."""
    with current_dbs(root, repos) as dbs:
        if dbs is None:
            return None
        dbs = ranked(dbs)
        if any("\0" in repo.id for repo, _ in dbs):
            return None
        if not dbs:
            return header(0, 0, 0, 0) + "\n"
        return _Table(root, dbs, installed_ids).text()


def header(*widths: int) -> str:
    """The table's first line, padded as its rows (``write_padded``'s rule)."""
    cells = [head.ljust(max(width, len(head))) for head, width in zip(HEADER, widths,
                                                                      strict=False)]
    return ("  ".join([*cells, HEADER[4]])).rstrip()


class _Table:
    """One table's connection (the first database's, the others attached) and SQL."""

    def __init__(self, root: Path, dbs: Dbs, installed_ids: set[str]) -> None:
        import json  # the installed ids, for SQLite's json_each

        self.root, self.dbs = root, dbs
        self.schemas: Schemas = [(repo, "main" if n == 0 else f"r{n}")
                                 for n, (repo, _) in enumerate(dbs)]
        self.installed = bool(installed_ids)
        self.params: dict[str, object] = {f"r{n}": repo.id for n, (repo, _) in enumerate(dbs)}
        self.params.update(ids=json.dumps(sorted(installed_ids)), ws=WHITESPACE)
        #: Each database's widths as ``repo update`` stored them (None: measured).
        self.stored = [stored_widths(conn) for _, conn in dbs]
        #: The pairs of databases that offer no name in common: neither outranks the other.
        self.disjoint: set[tuple[int, int]] = set()

    def text(self) -> str | None:
        conn = self.dbs[0][1]
        for repo, schema in self.schemas[1:]:
            uri = f"{(cache_dir(self.root, repo) / DB_NAME).resolve().as_uri()}?mode=ro"
            conn.execute(f"ATTACH DATABASE ? AS {schema}", (uri,))
        found = self._longest(conn)
        self._find_disjoint(conn, found)
        widths = self._widths(found)
        if widths is None:
            return None
        self.params.update({f"w{n}": w for n, w in enumerate(widths, start=1)})
        self._constants(widths)
        body = self._body(conn, widths)
        return header(*widths) + "\n" + (body + "\n" if body is not None else "")

    def _longest(self, conn: sqlite3.Connection) -> list[tuple[int, ...]]:
        """Each database's rows, ranked or not: how many, the longest name and version,
        whether a cell holds a NUL, whether one is installed; stored by ``repo update``
        (:mod:`moss.repo.metalines`) or else measured."""
        inst = _INSTALLED if self.installed else "0"
        arms = []
        for n, (_, schema) in enumerate(self.schemas):
            stored = self.stored[n]
            if stored is None:
                arms.append(f"SELECT {n}, count(*), max(length(t.name)), "
                            f"max(length(t.version) + 1 + length(t.release)), max({_NUL}), "
                            f"max({inst}) FROM {schema}.moss_py_best AS t")
            else:
                found = f"EXISTS (SELECT 1 FROM {schema}.moss_py_best AS t WHERE {inst})"
                arms.append(f"SELECT {n}, {', '.join(str(int(v)) for v in stored)}, "
                            f"{found if self.installed else 0}")
        return conn.execute(" UNION ALL ".join(arms), self.params).fetchall()

    def _find_disjoint(self, conn: sqlite3.Connection, found: list[tuple[int, ...]]) -> None:
        """Note the pairs of databases with no name in common: looking up the few
        rows of the smaller in the larger (stopping at the first name both offer)
        spares looking up every row of both (a fifth of the table's time for two
        repositories of 50 000 packages)."""
        counts = {row[0]: row[1] for row in found}
        for first in range(len(self.schemas)):
            for second in range(first + 1, len(self.schemas)):
                small, large = sorted((first, second), key=lambda n: counts[n])
                shared = (f"SELECT EXISTS (SELECT 1 FROM {self.schemas[small][1]}.moss_py_best "
                          f"AS t WHERE EXISTS (SELECT 1 FROM {self.schemas[large][1]}"
                          ".moss_py_best AS u WHERE u.name = t.name))")
                if not conn.execute(shared).fetchone()[0]:
                    self.disjoint.add((first, second))

    def _widths(self, found: list[tuple[int, ...]]) -> list[int] | None:
        """The four padded columns' widths; None when a cell holds a NUL."""
        if any(nul for *_, nul, _ in found):
            return None
        shown = [n for n, count, *_ in found if count]
        cols = [max((row[2] or 0 for row in found), default=0),
                max((row[3] or 0 for row in found), default=0),
                max((len(self.dbs[n][0].id) for n in shown), default=0),
                9 if any(row[5] for row in found) else 0]
        cols = [max(len(head), width) for head, width in zip(HEADER, cols, strict=False)]
        if len(self.dbs) > 1 and not self._reached(cols):
            cols = self._exact_widths()
        return cols

    def _reached(self, cols: list[int]) -> bool:
        """Whether shown rows reach the widths some row of the databases reaches in the
        version, repository and "installed" columns (every name is shown)."""
        every = range(len(self.schemas))
        tests = []
        if cols[1] > len(HEADER[1]):
            tests.append([self._arm(n, "1", f"length({_VR}) = {cols[1]}") for n in every])
        if cols[2] > len(HEADER[2]):
            tests.append([self._arm(n, "1") for n in every
                          if len(self.schemas[n][0].id) == cols[2]])
        if cols[3]:
            tests.append([self._arm(n, "1", _INSTALLED) for n in every])
        if not tests:
            return True
        sql = "SELECT " + " AND ".join(f"EXISTS ({' UNION ALL '.join(arms)})" for arms in tests)
        return bool(self.dbs[0][1].execute(sql, self.params).fetchone()[0])

    def _exact_widths(self) -> list[int]:
        """The widths measured on the shown rows only."""
        inst = f"CASE WHEN {_INSTALLED} THEN 'installed' ELSE '' END" if self.installed \
            else "''"
        rows = " UNION ALL ".join(
            self._arm(n, f"t.name AS k, {_VR} AS vr, :r{n} AS repo, {inst} AS inst")
            for n in range(len(self.schemas)))
        found = self.dbs[0][1].execute(
            "SELECT max(length(k)), max(length(vr)), max(length(repo)), max(length(inst)) "
            f"FROM ({rows})", self.params).fetchone()
        return [max(len(head), width or 0) for head, width in zip(HEADER, found,
                                                                   strict=False)]

    def _constants(self, widths: list[int]) -> None:
        """Each repository's padded repository and "installed" cells, as one string."""
        for n, (repo, _) in enumerate(self.schemas):
            cell = repo.id.ljust(widths[2]) + "  "
            self.params[f"c{n}"] = cell + "".ljust(widths[3]) + "  "
            self.params[f"i{n}"] = cell + "installed".ljust(widths[3]) + "  "

    def _body(self, conn: sqlite3.Connection, widths: list[int]) -> str | None:
        """Every shown row, one line each, in name order: a database whose stored rows
        are padded to the table's widths gives them as stored, any other is padded
        here."""
        arms = []
        for n, stored in enumerate(self.stored):
            const = f"CASE WHEN {_INSTALLED} THEN :i{n} ELSE :c{n} END" if self.installed \
                else f":c{n}"
            if stored is not None and [max(len(HEADER[0]), stored[1]),
                                       max(len(HEADER[1]), stored[2])] == widths[:2]:
                line = f"t.prefix || {const} || t.summary"
                trimmed = f"CASE WHEN t.ragged THEN rtrim({line}, :ws) ELSE {line} END"
                arms.append(self._arm(n, f"t.name AS k, {trimmed} AS l", table="moss_py_lines"))
                continue
            line = f"printf('%-!*s  %-!*s  %s%s', :w1, t.name, :w2, {_VR}, {const}, t.summary)"
            # Only a summary ending in other than printable ASCII may end in whitespace.
            trimmed = (f"CASE WHEN substr(CAST(t.summary AS BLOB), -1) BETWEEN x'21' "
                       f"AND x'7f' THEN {line} ELSE rtrim({line}, :ws) END")
            arms.append(self._arm(n, f"t.name AS k, {trimmed} AS l"))
        (body,) = conn.execute(f"SELECT group_concat(l, char(10)) FROM "
                               f"({' UNION ALL '.join(arms)} ORDER BY k)",
                               self.params).fetchone()
        return None if body is None else str(body)

    def _arm(self, rank: int, cells: str, where: str = "1", table: str = "moss_py_best"
             ) -> str:
        """Repository ``rank``'s rows in ``where`` that no other repository's offer of
        the name outranks (:func:`moss.repo.metaquery._merge`'s rule: a higher priority
        wins; at the same priority a higher (release, build release), then the earlier
        repository)."""
        repo, schema = self.schemas[rank]
        beaten = []
        for other, (rival, rival_schema) in enumerate(self.schemas):
            if other == rank or rival.priority < repo.priority or \
                    (min(rank, other), max(rank, other)) in self.disjoint:
                continue
            better = ("" if rival.priority > repo.priority else
                      " AND (u.release, u.build_release) " + (">=" if other < rank else ">")
                      + " (t.release, t.build_release)")
            beaten.append(f"EXISTS (SELECT 1 FROM {rival_schema}.moss_py_best AS u "
                          f"WHERE u.name = t.name{better})")
        unbeaten = f" AND NOT ({' OR '.join(beaten)})" if beaten else ""
        return f"SELECT {cells} FROM {schema}.{table} AS t WHERE {where}{unbeaten}"
