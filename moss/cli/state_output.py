"""``moss state list`` as it prints: shared by its argparse handler and :mod:`moss.cli.quick`."""

from __future__ import annotations

import time
from pathlib import Path

from moss.cli.output import print_json, print_table

TYPE_CHECKING = False  # ``typing`` costs milliseconds to import; mypy takes this as true
if TYPE_CHECKING:
    from moss.states.quicklist import Row


def print_states(directory: Path, as_json: bool) -> None:
    """Every state, newest first, with its marks (``--json``: oldest first, as read)."""
    from moss.states import listing

    states = listing.list_states(directory)
    if as_json:
        print_json([s.to_json() for s in states])
        return
    print_rows([(s.id, s.created, s.summary, s.packages, s.active, s.pending, s.booted,
                 s.activated) for s in states])


def print_rows(states: list[Row]) -> None:
    """The table of ``state list``: rows as :func:`moss.states.quicklist.state_rows`
    gives them (StateInfo's fields), oldest first."""
    rows = []
    for sid, created, summary, packages, active, pending, booted, activated in reversed(states):
        marks = ",".join(m for m, on in (("active", active), ("booted", booted),
                                         ("pending", pending)) if on)
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(created))
        rows.append((sid, when, packages, marks, activated or "", summary))
    print_table(("ID", "CREATED", "PKGS", "", "ACTIVATED BY", "SUMMARY"), rows)
