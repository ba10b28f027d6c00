"""Secure Boot: sign what the firmware verifies, and never undo what an admin signed.

With Secure Boot on, the firmware checks ``EFI/BOOT/BOOTX64.EFI``,
``EFI/systemd/systemd-bootx64.efi`` and every kernel an entry names (systemd-boot
loads kernels through the firmware) — not initrds or entries.  A copy of an
unsigned file over a signed one stops the next boot in the firmware.

``secureboot-key``/``secureboot-cert`` in ``boot.conf`` name a db key and its
certificate.  moss signs with ``sbsign`` (sbsigntool): it is Debian's standard
tool, writes the Authenticode signature exactly as firmware verifies it (PE
checksum and section alignment included), and ``sbverify`` checks the result;
re-implementing Authenticode over the ``cryptography`` library would be more
code to get subtly wrong.  A file is signed once per (input, certificate):
outputs are cached in ``ROOT/.moss/boot/signed/`` keyed by both digests, so
every state sharing a kernel build shares one signed file, and the sync's
no-change check compares $BOOT with the signed bytes it would write.

Without a key, a signed file on the ESP is left in place when the state's copy
is unsigned, with a warning (:func:`is_signed` reads the PE security directory).
A private key that anyone but root may read is refused.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import struct
from dataclasses import dataclass
from pathlib import Path

import blake3

from boot.config import BootConfig
from boot.statetree.inroot import warn
from boot.writing.esp import same_file
from boot.writing.filehash import file_digest
from moss.core.errors import MossError
from moss.core.run import CommandError, run

SIGNED_DIR = ("boot", "signed")  # below ROOT/.moss


@dataclass(frozen=True)
class Signer:
    key: Path
    cert: Path
    cache: Path  # ROOT/.moss/boot/signed


def check_key(key: Path) -> None:
    """Refuse a private key that is not root's alone (owner root, no group/other bits)."""
    try:
        st = os.stat(key)
    except OSError as exc:
        raise MossError(f"cannot read the Secure Boot key {key}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise MossError(f"the Secure Boot key {key} is not a regular file")
    if st.st_uid != 0 or st.st_mode & 0o077:
        raise MossError(
            f"the Secure Boot key {key} may be read by others than root "
            f"(owner {st.st_uid}, mode {stat.S_IMODE(st.st_mode):o}): "
            "chown root and chmod 600 it; nothing was signed"
        )


def signer_for(root: Path, key: Path, cert: Path) -> Signer:
    check_key(key)
    if not cert.is_file():
        raise MossError(f"the Secure Boot certificate {cert} does not exist")
    if shutil.which("sbsign") is None:
        raise MossError("sbsign is not installed: install sbsigntool to sign for Secure Boot")
    return Signer(key, cert, root.joinpath(".moss", *SIGNED_DIR))


def signed(signer: Signer, src: Path) -> Path:
    """``src`` signed with the configured key: made once, then taken from the cache."""
    name = blake3.blake3(
        f"{file_digest(src, lasting=True)}:{file_digest(signer.cert)}".encode()
    ).hexdigest()[:40] + ".efi"
    out = signer.cache / name
    if out.is_file():
        return out
    signer.cache.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = signer.cache / f".{name}.tmp"
    try:
        run(["sbsign", "--key", signer.key, "--cert", signer.cert, "--output", tmp, src],
            name=f"sbsign {src.name}", missing="sbsign is not installed (sbsigntool)")
        os.replace(tmp, out)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return out


def prune(signer: Signer, used: set[Path]) -> None:
    """Drop cached signed files no entry uses any more."""
    if signer.cache.is_dir():
        for path in signer.cache.iterdir():
            if path not in used:
                with contextlib.suppress(OSError):
                    path.unlink()


def is_signed(path: Path) -> bool:
    """True when ``path`` is a PE image with an Authenticode certificate table."""
    try:
        with path.open("rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    if len(head) < 0x40 or head[:2] != b"MZ":
        return False
    pe = struct.unpack_from("<I", head, 0x3C)[0]
    if pe + 24 + 2 > len(head) or head[pe:pe + 4] != b"PE\0\0":
        return False
    optional = pe + 24
    magic = struct.unpack_from("<H", head, optional)[0]
    directories = optional + (96 if magic == 0x10B else 112 if magic == 0x20B else -1)
    if directories < optional or directories + 5 * 8 > len(head):
        return False
    count = struct.unpack_from("<I", head, directories - 4)[0]
    if count < 5:
        return False
    _address, size = struct.unpack_from("<II", head, directories + 4 * 8)
    return bool(size > 0)


def verifies(path: Path, cert: Path) -> bool:
    """``sbverify --cert``: the file's signature checks against ``cert``."""
    try:
        run(["sbverify", "--cert", cert, path], name="sbverify")
    except CommandError:
        return False
    return True


def firmware_verified(files: dict[Path, Path], bootloader: set[Path]) -> set[Path]:
    """The files on $BOOT the firmware checks under Secure Boot: the boot loader and
    every kernel image (systemd-boot loads kernels through the firmware)."""
    return set(bootloader) | {dest for dest in files if dest.name in ("vmlinuz", "uki.efi")}


def files_to_write(
    files: dict[Path, Path], bootloader: set[Path], root: Path, config: BootConfig
) -> dict[Path, Path]:
    """What to write for each file: its signed copy when a key is configured; without
    one, a signed file on $BOOT is kept rather than replaced by an unsigned copy."""
    verified = firmware_verified(files, bootloader)
    if config.secureboot_key is not None and config.secureboot_cert is not None:
        signer = signer_for(root, config.secureboot_key, config.secureboot_cert)
        out = {d: signed(signer, s) if d in verified else s for d, s in files.items()}
        prune(signer, {out[d] for d in verified})
        return out
    kept = sorted(
        d for d in verified
        if d.exists() and not same_file(files[d], d) and is_signed(d)
        and not is_signed(files[d])
    )
    if kept:
        warn(
            f"$BOOT holds signed {', '.join(p.name for p in kept)} and no secureboot-key is "
            "configured: left as they are (an unsigned copy stops a Secure Boot machine in "
            "the firmware); set secureboot-key and secureboot-cert in /etc/moss/boot.conf"
        )
        fresh = sorted(d.parent.name for d in verified - set(kept) if d not in bootloader
                       and not d.exists() and not is_signed(files[d]))
        if fresh:
            warn(f"kernel {', '.join(fresh)} is written unsigned: with Secure Boot on, "
                        "its entries will not start")
    return {d: s for d, s in files.items() if d not in kept}
