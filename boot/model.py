"""The data the boot generator takes and gives back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True)
class BootState:
    """A state as boot sees it: ``usr`` is its ``/usr`` tree wherever it lies."""

    id: int
    usr: Path
    created: datetime
    summary: str = ""


@dataclass
class SyncReport:
    """What a sync changed; empty lists mean nothing was written."""

    boot_dir: Path | None
    default: str | None = None
    entries: list[str] = field(default_factory=list)
    copied: list[Path] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    commands: list[list[str]] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.copied or self.written or self.removed)

    def to_json(self) -> dict[str, object]:
        return {
            "boot": str(self.boot_dir) if self.boot_dir else None,
            "default": self.default,
            "entries": list(self.entries),
            "copied": [str(p) for p in self.copied],
            "written": [str(p) for p in self.written],
            "removed": [str(p) for p in self.removed],
            "commands": [list(c) for c in self.commands],
        }


@dataclass
class EntryStatus:
    file: str
    state: int | None
    kver: str
    title: str
    tries_left: int | None = None
    tries_done: int | None = None
    default: bool = False


@dataclass
class BootStatus:
    backend: str
    boot_dir: Path | None
    entries: list[EntryStatus]
    default: str | None
    booted: int | None
    pending: int | None
    active: int | None
    last_booted: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "backend": self.backend,
            "boot": str(self.boot_dir) if self.boot_dir else None,
            "default": self.default,
            "booted": self.booted,
            "pending": self.pending,
            "active": self.active,
            "last_booted": self.last_booted,
            "entries": [
                {
                    "file": e.file,
                    "state": e.state,
                    "kernel": e.kver,
                    "title": e.title,
                    "tries_left": e.tries_left,
                    "tries_done": e.tries_done,
                    "default": e.default,
                }
                for e in self.entries
            ],
        }
