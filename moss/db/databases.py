"""The three databases of one root, opened and closed together."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from moss.core.root import Root
from moss.db.install import InstallDB
from moss.db.layout import LayoutDB
from moss.db.state import StateDB


@dataclass
class Databases:
    install: InstallDB
    state: StateDB
    layout: LayoutDB

    def close(self) -> None:
        self.install.close()
        self.state.close()
        self.layout.close()


def open_databases(root: Root) -> Databases:
    return Databases(
        install=InstallDB(root.db / "install"),
        state=StateDB(root.db / "state"),
        layout=LayoutDB(root.db / "layout"),
    )


@contextlib.contextmanager
def databases(root: Root) -> Iterator[Databases]:
    """The root's databases for the length of a block, closed however it ends."""
    dbs = open_databases(root)
    try:
        yield dbs
    finally:
        dbs.close()
