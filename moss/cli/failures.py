"""Failures as a user reads them: one line on stderr, an exit status, a traceback with -v.

``main`` hands every exception of the kinds in :data:`KNOWN` to :func:`report`,
which explains it or, for what it cannot explain (a bug), returns None so the
traceback surfaces.  The statuses are the table in README.md ("Using moss").
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from moss.core.errors import (
    BOOT_NOT_UPDATED,
    BROKEN_PIPE,
    DISK_FULL,
    FAILED,
    INTERRUPTED,
    Interrupted,
    MossError,
    PartlyDone,
    describe_os_error,
    disk_full_message,
    fullest,
    is_full,
    printable,
)
from moss.core.progress import end_open_line

# ``typing`` costs milliseconds to import; mypy takes any name TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
    from typing import TypeGuard

# What main() hands to report(): anything, since report() returns None for a bug.
KNOWN = (Exception, KeyboardInterrupt)


class Context:
    """What the explanation depends on, filled in as the command line is understood.

    A plain class, not a dataclass: every moss command, ``--version`` too, builds one
    before anything else, and ``dataclasses`` costs milliseconds to import (issue 18).
    """

    __slots__ = ("near", "started", "verbose")

    def __init__(self, verbose: bool, near: list[Path] | None = None,
                 started: bool = False) -> None:
        self.verbose = verbose
        self.near = [Path("/")] if near is None else near  # where the command writes
        self.started = started  # the command itself ran: it may have changed something


def report(exc: BaseException, context: Context) -> int | None:
    """Print ``exc`` for the user and return the exit status; None if it is a bug."""
    if isinstance(exc, BrokenPipeError):
        # Whoever read our output has gone (`| head`): say nothing, like `ls` would.
        silence_stdout()
        if context.verbose:
            _print_traceback(exc)
        return BROKEN_PIPE
    explained = explain(exc, context)
    if explained is None:
        return None
    line, status = explained
    end_open_line()  # a progress line cut short: the message gets a line of its own
    if context.verbose:
        _print_traceback(exc)
    print(f"moss: {printable(line)}", file=sys.stderr)
    return status


def _print_traceback(exc: BaseException) -> None:
    """With -v: the traceback (its module loaded only then, for start-up's sake)."""
    import traceback

    traceback.print_exception(exc)


def explain(exc: BaseException, context: Context) -> tuple[str, int] | None:
    """The line after ``moss: `` and the exit status, or None for an exception it cannot."""
    if isinstance(exc, Interrupted):
        return str(exc), exc.exit_status
    full = None if isinstance(exc, PartlyDone) else _disk_full(exc, context.near)
    if full is not None:
        return f"error: {full}", FAILED
    if isinstance(exc, MossError):
        kind = "warning" if exc.exit_status == BOOT_NOT_UPDATED else "error"
        return f"{kind}: {exc}", exc.exit_status
    if _is_stone_error(exc):
        return f"error: {exc}", FAILED
    if any(isinstance(e, KeyboardInterrupt) for e in _chain(exc)):
        # Python 3.11 wraps an interrupt in a class body as RuntimeError(__set_name__).
        if not context.started:
            return "interrupted; nothing was changed", INTERRUPTED
        return ("interrupted; run the command again to finish "
                "(`moss state active` shows the live state)", INTERRUPTED)
    if isinstance(exc, EOFError):
        return "error: end of input where moss needed an answer; nothing was changed", FAILED
    return None


def _disk_full(exc: BaseException, near: list[Path]) -> str | None:
    """The full-disk line if a full disk caused ``exc``, however it was wrapped on the way."""
    for cause in _chain(exc):
        if isinstance(cause, OSError) and cause.errno in DISK_FULL:
            return describe_os_error(cause, near)
        if _is_sqlite_error(cause) and _database_full(cause, near):
            return disk_full_message(fullest(near))
    return None


def _is_stone_error(exc: BaseException) -> bool:
    """A StoneError, without importing the stone code for `moss --version`: if its
    module was never loaded, nothing can have raised one."""
    errors = sys.modules.get("moss.stone.errors")
    return errors is not None and isinstance(exc, errors.StoneError)


def _is_sqlite_error(exc: BaseException) -> TypeGuard[sqlite3.Error]:
    """A sqlite3.Error, on the same reasoning: no sqlite3 loaded, no SQLite failure."""
    sqlite = sys.modules.get("sqlite3")
    return sqlite is not None and isinstance(exc, sqlite.Error)


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what caused it, newest first (bounded: a chain is short)."""
    chain: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and len(chain) < 8:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    return chain


def _database_full(exc: sqlite3.Error, near: list[Path]) -> bool:
    """SQLite says "database or disk is full", or fails its I/O on a full filesystem."""
    import sqlite3  # loaded already: exc is one of its errors

    if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
        return True
    return isinstance(exc, sqlite3.OperationalError) and any(is_full(p) for p in near)


def silence_stdout() -> None:
    """Point stdout at /dev/null, so the flush at exit does not fail a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass  # stdout is not a file (a test's capture): nothing will flush to the pipe
