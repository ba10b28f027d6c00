"""Boot Loader Specification Type #1 entries on $BOOT, for systemd-boot.

A sync runs in an order that keeps the old set bootable at every instant:
kernels first (new files only), then entries, then ``loader.conf``, then the
boot loader, then the ``LoaderEntryLastBooted`` variable, and only at the end
removes entries and kernels that nothing uses any more.  Tests stop a sync at
each of these points through :func:`checkpoint`.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import blake3

from boot.config import BootConfig
from boot.discovery import efivars
from boot.entries import initramfs
from boot.entries.entrytemplates import render
from boot.model import BootState, SyncReport
from boot.plan import choose
from boot.secureboot import signing, tpm, uki
from boot.statetree import identity, inroot
from boot.statetree.cmdline import assemble
from boot.statetree.kernels import Kernel
from boot.writing import esp
from boot.writing.filehash import STORE_NAME, file_digest, remembering
from moss.core.errors import MossError
from moss.core.progress import QUIET, Progress

PENDING_TRIES = 3
CRASH_ENV = "MOSS_BOOT_CRASH_AT"

# name[+left[-done]].conf: systemd-boot's boot counting suffix.
_ENTRY_NAME = re.compile(r"^(?P<base>.+?)(?:\+(?P<left>\d+)(?:-(?P<done>\d+))?)?\.conf$")
_EFI_ARCH = {"x86_64": "x64", "aarch64": "aa64", "i686": "ia32", "riscv64": "riscv64"}


KILL_ENV = "MOSS_KILL_AT"  # the installer's fault points (moss/core/faults.py), "boot-<step>" here


class SimulatedCrash(RuntimeError):
    """Raised at a checkpoint named in $MOSS_BOOT_CRASH_AT (fault-injection tests)."""


def checkpoint(step: str) -> None:
    """A point where a crash must leave $BOOT bootable.

    ``MOSS_BOOT_CRASH_AT=<step>`` raises here (tests in one process);
    ``MOSS_KILL_AT=boot-<step>`` SIGKILLs the process, as the installer's own
    fault points do, so nothing after it runs — not even cleanup.
    """
    if os.environ.get(CRASH_ENV) == step:
        raise SimulatedCrash(step)
    if os.environ.get(KILL_ENV) == f"boot-{step}":
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass(frozen=True)
class EntryName:
    base: str
    tries_left: int | None
    tries_done: int | None


def parse_entry_name(name: str) -> EntryName | None:
    match = _ENTRY_NAME.match(name)
    if not match:
        return None
    left, done = match["left"], match["done"]
    return EntryName(
        match["base"], int(left) if left else None, int(done) if done is not None else None
    )


def entry_base(os_id: str, kver: str, state_id: int) -> str:
    return f"{os_id}-{kver}-{state_id}"


def state_of(os_id: str, base: str) -> tuple[str, int] | None:
    """``(kver, state)`` of one of our entry bases, or None for someone else's."""
    prefix = f"{os_id}-"
    head, _, tail = base.rpartition("-")
    if not base.startswith(prefix) or not tail.isdigit() or len(head) <= len(prefix):
        return None
    return head[len(prefix):], int(tail)


def existing_entries(entries_dir: Path, os_id: str) -> dict[str, list[str]]:
    """Our entry files on $BOOT by base name (whatever counter suffix they carry).

    Normally one file per base; more than one (made by hand) are all listed, one
    with a boot counter first: a sync keeps the first and removes the others.
    """
    found: dict[str, list[str]] = {}
    if entries_dir.is_dir():
        for path in sorted(entries_dir.iterdir()):
            parsed = parse_entry_name(path.name)
            if parsed and path.is_file() and state_of(os_id, parsed.base):
                found.setdefault(parsed.base, []).append(path.name)
    for group in found.values():
        group.sort(key=lambda name: ("+" not in name, name))
    return found


def leftover_temp_files(entries_dir: Path, os_id: str) -> list[Path]:
    """Temporary files a crashed write left behind (systemd-boot ignores dot files)."""
    if not entries_dir.is_dir():
        return []
    return sorted(entries_dir.glob(f".{os_id}-*.tmp"))


@dataclass(frozen=True)
class KernelFiles:
    """Where one distinct kernel (image + initrds) goes below $BOOT."""

    folder: str  # relative to $BOOT, e.g. EFI/serpentos/6.6.7
    files: tuple[tuple[Path, str], ...]  # (source, name in folder)


def kernel_identity(kernel: Kernel) -> str:
    parts = [file_digest(kernel.image, lasting=True)]
    parts += [f"{name}:{file_digest(p, lasting=True)}" for name, p in kernel.named_initrds()]
    return ":".join(parts)


def place_kernels(config: BootConfig, kernels: list[Kernel],
                  unify: Callable[[Kernel], Path] | None = None) -> dict[Kernel, KernelFiles]:
    """One folder per distinct kernel: ``EFI/<os-id>/<kver>``, or with a digest
    suffix when states ship different builds under the same version.  With
    ``unify`` (Secure Boot, :mod:`boot.secureboot.uki`) the folder holds one unified image."""
    identity = {k: kernel_identity(k) for k in kernels}
    builds: dict[str, set[str]] = {}
    for kernel in kernels:
        builds.setdefault(kernel.kver, set()).add(identity[kernel])
    placed = {}
    for kernel in kernels:
        name = kernel.kver
        if len(builds[kernel.kver]) > 1:
            name += "-" + blake3.blake3(identity[kernel].encode()).hexdigest()[:12]
        files = [(kernel.image, "vmlinuz")] + [(p, n) for n, p in kernel.named_initrds()]
        if unify is not None:
            files = [(unify(kernel), uki.UKI_NAME)]
        placed[kernel] = KernelFiles(f"EFI/{config.os_id}/{name}", tuple(files))
    return placed


@dataclass
class Target:
    """What $BOOT should hold after a sync."""

    entries: dict[str, str]  # entry file name -> text
    files: dict[Path, Path]  # kernel file on $BOOT -> its source in a state
    default: str | None


def plan_target(
    root: Path,
    states: Sequence[BootState],
    active: int,
    pending: int | None,
    config: BootConfig,
    existing: dict[str, list[str]],
) -> Target:
    boot_dir = config.boot_dir
    assert boot_dir is not None
    chosen, default_key = choose(states, active, pending, config.keep)
    unify = uki.maker(root, next(s.usr for s in states if s.id == active), config,
                      _EFI_ARCH.get(platform.machine()))
    placed = place_kernels(config, [k for c in chosen for k in c.kernels], unify)
    target = Target({}, {}, None)
    read: dict[tuple[int, int], set[str]] = {}
    for c in chosen:
        for kernel in c.kernels:
            where = placed[kernel]
            for src, name in where.files:
                target.files[boot_dir / where.folder / name] = src
            base = entry_base(config.os_id, kernel.kver, c.state.id)
            # An existing entry keeps its name: a counter systemd-boot has
            # already decremented is never reset.
            filename = existing.get(base, [""])[0] or (
                f"{base}+{PENDING_TRIES}.conf" if c.pending else f"{base}.conf"
            )
            options = assemble(root, c.state.usr, kernel, c.state.id, config.cmdline_root)
            target.entries[filename] = render(
                config, "entry.conf.j2",
                state=c.state,
                kernel=kernel,
                os_id=config.os_id,
                # As blsforme: each entry named by its own state's os-release.
                os_name=config.os_name if config.os_name_fixed else (
                    identity.state_name(c.state.usr) or config.os_name),
                version=f"{c.state.id}.{kernel.kver}",
                linux=f"/{where.folder}/{where.files[0][1]}",
                efi=f"/{where.folder}/{uki.UKI_NAME}" if unify else None,
                initrds=[f"/{where.folder}/{name}" for _src, name in where.files[1:]],
                options=options,
            )
            if is_default := default_key == (c.state.id, kernel.kver):
                target.default = filename
            initramfs.name_unfit(c.state, kernel, options, is_default, read)
    if unify is not None:
        uki.prune(root / ".moss" / "boot" / "uki", {f for p in placed.values() for f, _ in p.files})
    return target


def sync(
    root: Path,
    states: Sequence[BootState],
    active: int,
    pending: int | None,
    config: BootConfig,
    progress: Progress = QUIET,
) -> SyncReport:
    """Bring $BOOT to the chosen states' entries and kernels, each file hashed once."""
    with remembering(root / ".moss" / STORE_NAME):
        return _sync(root, states, active, pending, config, progress)


def _sync(
    root: Path,
    states: Sequence[BootState],
    active: int,
    pending: int | None,
    config: BootConfig,
    progress: Progress,
) -> SyncReport:
    boot_dir = config.boot_dir
    if boot_dir is None:
        raise MossError("no $BOOT configured: set esp = ... in /etc/moss/boot.conf")
    entries_dir = boot_dir / "loader" / "entries"
    existing = existing_entries(entries_dir, config.os_id)
    if config.secureboot_key is not None:  # refused before anything is built or signed
        signing.check_key(config.secureboot_key)
    target = plan_target(root, states, active, pending, config, existing)
    if not target.entries and existing:
        raise MossError(
            "no state has a kernel: refusing to remove every boot entry from "
            f"{entries_dir}; nothing was changed"
        )
    report = SyncReport(boot_dir, target.default, sorted(target.entries))

    bootloader = _bootloader_files(states, active, config)
    wanted = signing.files_to_write({**target.files, **bootloader}, set(bootloader), root, config)
    to_copy = {dest: src for dest, src in wanted.items() if not esp.same_file(src, dest)}
    esp.check_room(to_copy)
    verified = signing.firmware_verified(target.files, set(bootloader))
    tpm.say_before(config.cmdline_root, tpm.Change(
        sorted(set(to_copy) & verified), any(d.name == uki.UKI_NAME for d in verified),
        config.secureboot_cert))

    kernels = {dest: src for dest, src in to_copy.items() if dest not in bootloader}
    _copy_kernels(kernels, boot_dir / "EFI" / config.os_id, report, progress)
    _write_entries(target, entries_dir, config, report)
    for dest in bootloader:
        if dest in to_copy:
            esp.copy_file(to_copy[dest], dest)
            report.copied.append(dest)
    checkpoint("bootloader-installed")
    _override_saved_choice(target.default, config, report)
    _remove_stale(target, existing, entries_dir, config.os_id, boot_dir, report)
    for former in identity.former_ids(next(s.usr for s in states if s.id == active)):
        if former.lower() != config.os_id.lower():  # the OS's old name: all of it goes
            _remove_stale(target, existing_entries(entries_dir, former), entries_dir, former,
                          boot_dir, report)
            with contextlib.suppress(OSError):  # its EFI/<former> folder too, once empty
                os.rmdir(boot_dir / "EFI" / former)
    return report


def _copy_kernels(
    to_copy: dict[Path, Path], kernel_root: Path, report: SyncReport, progress: Progress
) -> None:
    """Step 1: new kernel files only; on failure take back what this sync added."""
    progress.start("Copying kernels", len(to_copy), "files")
    created: list[Path] = []
    try:
        for dest, src in to_copy.items():
            existed = dest.exists()
            esp.copy_file(src, dest)
            if not existed:
                created.append(dest)
            report.copied.append(dest)
            progress.advance()
            checkpoint("kernel-copied")
    except MossError:
        esp.remove_files(created)
        esp.prune_empty_dirs(kernel_root)
        raise
    finally:
        progress.done()


def _write_entries(
    target: Target, entries_dir: Path, config: BootConfig, report: SyncReport
) -> None:
    """Steps 2 and 3: entries, then loader.conf (which lives on the ESP)."""
    for filename, text in target.entries.items():
        if esp.write_text(entries_dir / filename, text):
            report.written.append(entries_dir / filename)
            checkpoint("entry-written")
    loader_conf = (config.esp or entries_dir.parent.parent) / "loader" / "loader.conf"
    text = render(config, "loader.conf.j2", timeout=config.timeout)
    if esp.write_text(loader_conf, text):
        report.written.append(loader_conf)
    checkpoint("loader-written")


def _override_saved_choice(default: str | None, config: BootConfig, report: SyncReport) -> None:
    """Step 5: point ``LoaderEntryLastBooted`` at the default entry (see README.md)."""
    if config.efivars is not None and default is not None:
        current = efivars.read(config.efivars, "LoaderEntryLastBooted")
        if (current or "").lower() != default.lower():
            efivars.write(config.efivars, "LoaderEntryLastBooted", default)
            report.written.append(efivars.var_path(config.efivars, "LoaderEntryLastBooted"))
    checkpoint("efivar-written")


def _remove_stale(
    target: Target,
    existing: dict[str, list[str]],
    entries_dir: Path,
    os_id: str,
    boot_dir: Path,
    report: SyncReport,
) -> None:
    """Step 6, last: entries of states that lost theirs, then kernels no entry uses."""
    names = [name for group in existing.values() for name in group]
    stale = [entries_dir / name for name in names if name not in target.entries]
    stale += leftover_temp_files(entries_dir, os_id)
    for path in stale:
        report.removed.extend(esp.remove_files([path]))
        checkpoint("entry-removed")
    kernel_root = boot_dir / "EFI" / os_id
    if kernel_root.is_dir():
        files = sorted(kernel_root.rglob("*"))
        unused = [p for p in files if p.is_file() and p not in target.files]
        report.removed.extend(esp.remove_files(unused))
        esp.prune_empty_dirs(kernel_root)
    checkpoint("kernels-removed")


def _bootloader_files(
    states: Sequence[BootState], active: int, config: BootConfig
) -> dict[Path, Path]:
    """systemd-boot's binary from the active state, for both places firmware looks."""
    arch = _EFI_ARCH.get(platform.machine())
    target = config.esp or config.boot_dir
    if not config.bootloader or arch is None or target is None:
        return {}
    usr = next(s.usr for s in states if s.id == active)
    src = inroot.state_path(usr, f"lib/systemd/boot/efi/systemd-boot{arch}.efi")
    if src is None or not inroot.is_regular(src):
        return {}
    return {
        target / "EFI" / "systemd" / f"systemd-boot{arch}.efi": src,
        target / "EFI" / "BOOT" / f"BOOT{arch.upper()}.EFI": src,
    }
