"""``moss state list`` as it prints: shared by its argparse handler and :mod:`moss.cli.quick`."""

from __future__ import annotations

import time
from pathlib import Path

from moss.cli.output import print_json, print_table


def print_states(directory: Path, as_json: bool) -> None:
    """Every state, newest first, with its marks (``--json``: oldest first, as read)."""
    from moss.states import listing

    states = listing.list_states(directory)
    if as_json:
        print_json([s.to_json() for s in states])
        return
    rows = []
    for s in reversed(states):
        marks = ",".join(m for m, on in (("active", s.active), ("booted", s.booted),
                                         ("pending", s.pending)) if on)
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(s.created))
        rows.append((s.id, created, s.packages, marks, s.activated or "", s.summary))
    print_table(("ID", "CREATED", "PKGS", "", "ACTIVATED BY", "SUMMARY"), rows)
