"""``moss boot status``: the entries on $BOOT and the one systemd-boot would start."""

from __future__ import annotations

import fnmatch
import shutil
from pathlib import Path

from boot.config import BootConfig
from boot.discovery import efivars
from boot.entries.bls import existing_entries, parse_entry_name, state_of
from boot.model import BootStatus, EntryStatus
from boot.secureboot import tpm
from boot.secureboot.signing import is_signed, verifies
from boot.secureboot.uki import UKI_NAME
from boot.statetree import inroot
from boot.statetree.kernels import version_key
from moss.core.errors import MossError

MAX_ENTRY = 64 * 1024  # an entry is a handful of lines


def _entry_fields(path: Path) -> dict[str, str]:
    """An entry's ``key value`` lines; a link, a FIFO or a huge file shows nothing
    (on FAT there are none: under ``-D ROOT`` one could name a host file)."""
    fields: dict[str, str] = {}
    try:
        text = inroot.read_regular(path, MAX_ENTRY).decode(errors="replace")
    except MossError:
        return fields
    for line in text.splitlines():
        key, _, value = line.strip().partition(" ")
        if key and not key.startswith("#"):
            fields.setdefault(key, value.strip())
    return fields


def status(
    root: Path,
    config: BootConfig,
    *,
    booted: int | None,
    pending: int | None,
    active: int | None,
) -> BootStatus:
    """What is on $BOOT now and which entry systemd-boot would start."""
    boot_dir = config.boot_dir
    entries: list[EntryStatus] = []
    versions: dict[str, str] = {}
    if boot_dir is not None:
        entries_dir = boot_dir / "loader" / "entries"
        names = [n for group in existing_entries(entries_dir, config.os_id).values() for n in group]
        for name in names:
            parsed = parse_entry_name(name)
            assert parsed is not None
            kver, state = state_of(config.os_id, parsed.base) or ("", None)
            fields = _entry_fields(entries_dir / name)
            versions[name] = fields.get("version", "")
            entries.append(
                EntryStatus(name, state, kver, fields.get("title", ""),
                            parsed.tries_left, parsed.tries_done)
            )
    # systemd-boot's order: entries out of tries last, then newest version first.
    entries.sort(key=lambda e: version_key(versions[e.file]), reverse=True)
    entries.sort(key=lambda e: e.tries_left == 0)
    last_booted = None
    variables: dict[str, str | None] = {}
    if config.efivars is not None:
        for name in ("LoaderEntryOneShot", "LoaderEntryDefault", "LoaderEntryLastBooted"):
            variables[name] = efivars.read(config.efivars, name)
        last_booted = variables["LoaderEntryLastBooted"]
    loader_default = None
    loader_conf = ((config.esp or boot_dir) or Path("/nonexistent")) / "loader" / "loader.conf"
    if loader_conf.is_file():
        loader_default = _entry_fields(loader_conf).get("default")
    default = _pick_default([e.file for e in entries], variables, loader_default)
    for e in entries:
        e.default = e.file == default
    return BootStatus(
        backend=config.backend, boot_dir=boot_dir, entries=entries, default=default,
        booted=booted, pending=pending, active=active, last_booted=last_booted,
        root_args=config.cmdline_root, root_problem=config.cmdline_problem,
        secure_boot=efivars.secure_boot(config.efivars) if config.efivars else None,
        signatures=signatures(config), tpm=tpm_bindings(config.cmdline_root),
    )


def signatures(config: BootConfig) -> dict[str, str]:
    """Each file on $BOOT the firmware verifies, and whether it would pass."""
    esp, boot_dir = config.esp or config.boot_dir, config.boot_dir
    found: list[Path] = []
    if esp is not None:
        found += sorted(p for p in (esp / "EFI" / "BOOT").glob("*.EFI") if p.is_file())
        found += sorted(p for p in (esp / "EFI" / "systemd").glob("*.efi") if p.is_file())
    if boot_dir is not None:
        found += sorted(p for p in (boot_dir / "EFI" / config.os_id).glob("*/*")
                        if p.name in ("vmlinuz", UKI_NAME))
    cert = config.secureboot_cert
    if cert is not None and shutil.which("sbverify") is None:
        return {str(p): "unchecked (sbverify is not installed)" for p in found}
    said = {}
    for path in found:
        if cert is not None:
            said[str(path)] = "verifies" if verifies(path, cert) else "does not verify"
        else:
            said[str(path)] = "signed" if is_signed(path) else "unsigned"
    return said


def tpm_bindings(cmdline: str | None) -> list[str]:
    lines = []
    for volume in tpm.volumes(cmdline):
        device = tpm.by_uuid(volume)
        for binding in tpm.bindings(volume, device) if device else []:
            pcrs = ", ".join(str(p) for p in sorted(binding.pcrs))
            signed = ", ".join(str(p) for p in sorted(binding.signed_pcrs))
            lines.append(f"{volume}: PCR {pcrs or '-'}" + (f", signed {signed}" if signed else ""))
    state = tpm.lockout() if lines else None
    if state is not None:
        lines.append(state.describe())
    return lines


def _pick_default(
    names: list[str], variables: dict[str, str | None], loader_default: str | None
) -> str | None:
    """The selection order of systemd-boot 252 (names matched case-insensitively)."""

    def find(pattern: str | None) -> str | None:
        if not pattern:
            return None
        for name in names:
            if fnmatch.fnmatch(name.lower(), pattern.lower()):
                return name
        return None

    saved = variables.get("LoaderEntryLastBooted")
    efi_default = variables.get("LoaderEntryDefault")
    for pattern in (
        variables.get("LoaderEntryOneShot"),
        saved if efi_default == "@saved" else efi_default,
        saved if loader_default == "@saved" else loader_default,
    ):
        found = find(pattern)
        if found:
            return found
    return names[0] if names else None
