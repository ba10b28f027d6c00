"""Boot entries for moss states: kernel discovery, command lines, BLS and clr-boot-manager.

The installer calls three functions: :func:`load_config` to learn where $BOOT
is, :func:`sync` after every transaction (and for ``moss boot sync``), and
:func:`status` for ``moss boot status``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from boot import bless as blessing
from boot import bootstatus, espmount
from boot.config import BootConfig, load_config
from boot.entries import bls, cbm
from boot.model import BootState, BootStatus, EntryStatus, SyncReport
from boot.writing import esp
from moss.core.errors import MossError
from moss.core.progress import QUIET, Progress

__all__ = [
    "BootConfig",
    "BootState",
    "BootStatus",
    "EntryStatus",
    "SyncReport",
    "bless",
    "load_config",
    "status",
    "sync",
]


def sync(
    root: Path,
    states: Sequence[BootState],
    active: int,
    pending: int | None,
    config: BootConfig,
    progress: Progress = QUIET,
) -> SyncReport:
    """Make $BOOT (or clr-boot-manager's staging) match the states on disk.

    A root whose block devices moss cannot describe writes nothing: entries
    without what the root needs would not boot, the old ones still do.
    """
    if config.cmdline_problem:
        raise MossError(config.cmdline_problem)
    if config.backend == "cbm" and config.secureboot_key is not None:
        raise MossError("secureboot-key works with backend = bls only: clr-boot-manager "
                        "copies kernels itself, unsigned")
    backend = cbm.sync if config.backend == "cbm" else bls.sync
    with espmount.reachable(config) as mounted:
        _refuse_links(root, mounted)
        return backend(root, states, active, pending, mounted, progress)


def _refuse_links(root: Path, config: BootConfig) -> None:
    """No folder moss writes into may be a link (:func:`boot.writing.esp.refuse_links`)."""
    if config.backend == "cbm":
        stage = cbm.staging_root(root, config)
        if stage.is_relative_to(root):
            esp.refuse_linked_parts(root, stage.relative_to(root).as_posix() + "/usr/lib/kernel")
        return
    for top in {p for p in (config.esp, config.xbootldr) if p is not None}:
        esp.refuse_links(top, ("EFI", "loader"))


def status(
    root: Path,
    config: BootConfig,
    *,
    booted: int | None,
    pending: int | None,
    active: int | None,
) -> BootStatus:
    """$BOOT's entries, the default, and the booted/pending/active states passed in."""
    with espmount.reachable(config) as mounted:
        return bootstatus.status(root, mounted, booted=booted, pending=pending, active=active)


def bless(config: BootConfig, state_id: int | None) -> list[str]:
    """Remove the boot counter of the entry that booted (see :mod:`boot.bless`)."""
    if config.backend == "cbm":
        return []  # clr-boot-manager's entries carry no counters
    with espmount.reachable(config) as mounted:
        return blessing.bless(mounted, state_id)
