"""A small progress display for long work (unpacking, blitting, fetching, copying kernels).

Library functions take a :class:`Progress` and call ``start``/``advance``/``done``;
the CLI decides whether it draws anything.  It draws a single self-overwriting
line on a terminal and nothing at all in scripts, so piped output stays clean.

What a person at the terminal needs from that line: how far (files or bytes, with
units), how fast, how long is left — and the truth when the work stops early: a
bar is only full when the work finished, and an error leaves the line as it was
with "failed" after it.  The line never grows past the terminal's width, because
a line that wraps cannot be overwritten and a narrow terminal fills with copies.
"""

from __future__ import annotations

import os
import sys
import time

# ``typing`` costs milliseconds to import; mypy takes any name TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

_MIN_BAR = 10
_REDRAW = 0.1  # seconds between redraws


def size_text(value: float) -> str:
    """Bytes as ``12.3 MiB``: binary units, the one way moss writes a size (bars, plans,
    reports), so a plan's figure and a bar's can be compared."""
    for scale, name in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if abs(value) >= scale:
            return f"{value / scale:.1f} {name}"
    return f"{value:.0f} B"


def _count(value: float, unit: str) -> str:
    """``1234`` files, or bytes as ``12.3 MiB``."""
    return size_text(value) if unit == "B" else f"{value:.0f}"


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return f"{seconds // 60}:{seconds % 60:02d}"


class Progress:
    """Draws ``label [#####-----] 12/40 files  8/s  0:03 left`` on stderr on a terminal."""

    def __init__(self, enabled: bool | None = None, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.label = ""
        self.total = 0
        self.current = 0
        self.unit = ""
        self._started = 0.0
        self._last_draw = 0.0
        self._open = False  # a line is drawn and not yet ended

    def start(self, label: str, total: int, unit: str = "") -> None:
        """``unit``: what is counted ("files", "packages"), or "B" for bytes.

        Nothing to count (``total`` 0) draws nothing: a ``0/0`` bar says nothing.
        """
        self.end_line()
        self.label = label if total > 0 else ""
        self.total, self.current, self.unit = total, 0, unit
        self._started = time.monotonic()
        self._draw(force=True)

    def advance(self, amount: int = 1) -> None:
        self.current += amount
        self._draw()

    def done(self) -> None:
        """End the line: full when the work finished, marked failed when an error is
        on its way up (``done`` is called from ``finally`` blocks)."""
        if self.enabled and self.label:
            failed = sys.exc_info()[1] is not None
            if not failed:
                self.current = max(self.current, self.total)
            self._draw(force=True, suffix=" failed" if failed else "")
            self.end_line()
        self.label = ""

    def end_line(self) -> None:
        """Move off a drawn line, so whatever is printed next starts on its own line."""
        global _open_line
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False
        if _open_line is self:
            _open_line = None

    def _width(self) -> int:
        try:
            columns = os.get_terminal_size(self.stream.fileno()).columns
        except (OSError, ValueError, AttributeError):
            columns = 0
        return columns or 80  # a terminal that reports no size (a bare pty) gets 80

    def _draw(self, force: bool = False, suffix: str = "") -> None:
        if not self.enabled or not self.label:
            return
        now = time.monotonic()
        if not force and now - self._last_draw < _REDRAW:
            return
        self._last_draw = now
        line = self.render(self._width() - 1, now - self._started) + suffix
        self.stream.write("\r" + line + "\x1b[K")
        self.stream.flush()
        self._open = True
        global _open_line
        _open_line = self

    def render(self, width: int, elapsed: float) -> str:
        """The line, at most ``width`` columns: the bar shrinks first, then the extras go."""
        noun = f" {self.unit}" if self.unit and self.unit != "B" else ""
        current = min(max(self.current, 0), self.total)  # what is shown is never out of range
        counts = f"{_count(current, self.unit)}/{_count(self.total, self.unit)}{noun}"
        extras = []
        if elapsed >= 1 and current:
            rate = current / elapsed
            extras.append(f"{_count(rate, self.unit)}{noun}/s")
            if self.total > current:
                extras.append(f"{_duration((self.total - current) / rate)} left")
        while True:
            tail = "  ".join([counts, *extras])
            room = width - len(self.label) - len(tail) - 4  # spaces and brackets
            if room >= _MIN_BAR or not extras:
                break
            extras.pop()
        bar_width = max(_MIN_BAR, min(30, room))
        filled = bar_width * current // self.total if self.total else bar_width
        bar = "#" * min(filled, bar_width) + "-" * (bar_width - min(filled, bar_width))
        label = self.label
        overflow = len(label) + bar_width + len(tail) + 4 - width
        if overflow > 0:
            label = label[: max(0, len(label) - overflow - 1)] + "…"
        return f"{label} [{bar}] {tail}"[:width]


_open_line: Progress | None = None  # the display whose line is drawn and not ended


def end_open_line() -> None:
    """Before an error message: end any progress line, so the message gets its own."""
    if _open_line is not None:
        _open_line.end_line()


QUIET = Progress(enabled=False)
