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
    root_args: str | None = None  # what entries say to reach the root (boot/topology/)
    root_problem: str | None = None  # why that could not be worked out
    secure_boot: bool | None = None  # the firmware's SecureBoot variable; None: not said
    # each file the firmware verifies on $BOOT -> "verifies", "does not verify",
    # "signed" or "unsigned" (the last two when no certificate is configured)
    signatures: dict[str, str] = field(default_factory=dict)
    tpm: list[str] = field(default_factory=list)  # "<LUKS uuid>: PCR 4, 7"

    def to_json(self) -> dict[str, object]:
        return {
            "backend": self.backend,
            "root": self.root_args,
            "root_problem": self.root_problem,
            "secure_boot": self.secure_boot,
            "signatures": dict(self.signatures),
            "tpm": list(self.tpm),
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
