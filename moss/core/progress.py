"""A small progress display for long work (unpacking, blitting, copying kernels).

Library functions take a :class:`Progress` and call ``start``/``advance``/``done``;
the CLI decides whether it draws anything.  It draws a single self-overwriting
line on a terminal and nothing at all in scripts, so piped output stays clean.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Draws ``label [#####-----] 12/40`` on stderr when it is a terminal."""

    def __init__(self, enabled: bool | None = None, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.label = ""
        self.total = 0
        self.current = 0
        self._last_draw = 0.0

    def start(self, label: str, total: int) -> None:
        self.label, self.total, self.current = label, total, 0
        self._draw(force=True)

    def advance(self, amount: int = 1) -> None:
        self.current += amount
        self._draw()

    def done(self) -> None:
        if self.enabled and self.label:
            self.current = self.total
            self._draw(force=True)
            self.stream.write("\n")
            self.stream.flush()
        self.label = ""

    def _draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last_draw < 0.1:
            return
        self._last_draw = now
        width = 30
        filled = width * self.current // self.total if self.total else width
        bar = "#" * filled + "-" * (width - filled)
        self.stream.write(f"\r{self.label:<24} [{bar}] {self.current}/{self.total}")
        self.stream.flush()


QUIET = Progress(enabled=False)
