"""Printing helpers shared by the command modules: JSON and aligned tables."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from moss.core.errors import FAILED, Interrupted, MossError
from moss.core.progress import Progress

# ``typing`` costs milliseconds to import; mypy takes any name TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def print_json(value: Any) -> None:
    """Stable JSON for scripts: sorted keys, two-space indent, trailing newline."""
    import json  # here: only --json needs it, and every command loads this module

    json.dump(value, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(c) for c in headers], *[[str(c) for c in row] for row in rows]]
    if any(len(row) != len(headers) for row in cells):
        raise ValueError("a table row has more or fewer cells than the table has headers")
    write_padded(cells)


def write_padded(cells: Sequence[Sequence[str]]) -> None:
    """Rows of text, each column padded to its widest cell, trailing blanks cut.

    Columns stop at the shortest row (the header): ``list available`` hands rows
    with its ranking keys after the shown cells.  Written 4096 lines at a time:
    that listing prints 100 000 rows, and a ``print`` per row cost more than
    reading and ranking them (issue 18).
    """
    widths = [max(map(len, column)) for column in zip(*cells, strict=False)]
    line = "  ".join(f"{{:<{w}}}" for w in widths).format
    for start in range(0, len(cells), 4096):
        sys.stdout.write("".join([line(*row).rstrip() + "\n"
                                  for row in cells[start:start + 4096]]))


def progress_for(quiet: bool) -> Progress:
    """A progress display on a terminal, none with --quiet or in scripts."""
    return Progress(enabled=False) if quiet else Progress()


def confirm(question: str, assume_yes: bool) -> bool:
    """Ask on a terminal; in a script without -y, refuse rather than guess.

    Ctrl-D is "no" (the default the prompt shows); Ctrl-C at the prompt stops
    moss with status 130, and both say that nothing was changed, which here is
    certain: nothing is written before the answer.
    """
    if assume_yes:
        return True
    if not sys.stdin.isatty():
        raise MossError("not asking in a non-interactive session: pass -y/--yes-all to proceed")
    try:
        answer = input(f"{question} [y/N] ").strip().lower()
    except EOFError:
        print(file=sys.stderr)  # the cursor is still on the prompt line
        return False
    except KeyboardInterrupt as exc:
        print(file=sys.stderr)
        raise Interrupted("interrupted at the prompt; nothing was changed") from exc
    return answer in ("y", "yes")


def cancelled() -> int:
    """The user said no: like apt and dnf, that is not success (status 1)."""
    print("moss: cancelled; nothing was changed", file=sys.stderr)
    return FAILED
