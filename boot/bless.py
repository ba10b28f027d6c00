"""Blessing a good boot where ``systemd-bless-boot`` does not run.

A pending state's entry carries a boot counter (``NAME+3.conf``); systemd-boot
counts each try down (``+2-1``) and, once none are left, falls back to the
previous entry.  On a systemd system ``systemd-bless-boot.service`` removes the
counter when ``boot-complete.target`` is reached.  A system without it (busybox,
OpenRC, an embedded init) calls ``moss boot bless`` once it knows the boot is
good; otherwise a good update would be rolled back after its last try.

Which entry: the one systemd-boot says it booted (``LoaderBootCountPath``, as
systemd-bless-boot reads it), else the counted entries of the state that booted.
"""

from __future__ import annotations

import os
from pathlib import Path

from boot.config import BootConfig
from boot.discovery import efivars
from boot.entries.bls import existing_entries, parse_entry_name, state_of
from boot.writing.esp import fsync_renamed
from moss.core import ondisk

BOOT_COUNT_PATH = "LoaderBootCountPath"


def bless(config: BootConfig, state_id: int | None) -> list[str]:
    """Remove the boot counter of the booted entry; the names blessed (may be none)."""
    if config.boot_dir is None:
        return []
    entries_dir = config.boot_dir / "loader" / "entries"
    names = _counted_entries(entries_dir, config, state_id)
    blessed = []
    for name in names:
        parsed = parse_entry_name(name)
        if parsed is None or parsed.tries_left is None:
            continue
        target = entries_dir / f"{parsed.base}.conf"
        if target.exists():  # blessed already under its plain name: the counted copy goes
            os.unlink(entries_dir / name)
        else:
            os.rename(entries_dir / name, target)
            fsync_renamed(target)
        blessed.append(name)
    if blessed:
        ondisk.fsync_dir(str(entries_dir))
    return blessed


def _counted_entries(entries_dir: Path, config: BootConfig, state_id: int | None) -> list[str]:
    """Entry files with a counter: the firmware's booted one, else the state's."""
    booted = efivars.read(config.efivars, BOOT_COUNT_PATH) if config.efivars else None
    if booted:
        name = booted.replace("\\", "/").rsplit("/", 1)[-1]
        if (entries_dir / name).is_file():
            return [name]
    if state_id is None:
        return []
    found = []
    for base, group in existing_entries(entries_dir, config.os_id).items():
        owner = state_of(config.os_id, base)
        if owner is not None and owner[1] == state_id:
            found += [n for n in group if "+" in n]
    return found

