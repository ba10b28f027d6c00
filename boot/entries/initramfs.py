"""Does a state's initramfs carry what its root needs?  Asked before an entry is written.

A state whose initramfs has no dm-crypt, no LVM tools or no btrfs cannot mount
an encrypted, LVM or btrfs root: its entry would stop in the initramfs's
emergency shell, found out at the next boot.  So the sync names such a state
while it writes its entry, and says when it is the one about to become the
default.

What the root needs is read from the entry's own command line (the words
:mod:`boot.topology.rootstack` writes, or an admin's ``root =`` in ``boot.conf``):
``rd.luks.*`` needs dm-crypt and a cryptsetup, ``rd.lvm.*`` the ``lvm`` tool and
dm-mod, ``rootflags=subvol=``/``rootfstype=btrfs`` btrfs.  A module counts as
present when its ``.ko`` (any compression) is in the initramfs or the kernel
lists it in ``modules.builtin``.  The image is read as the kernel reads it: any
number of cpio (newc) archives, the last ones compressed (gzip, xz, zstd, bzip2),
streamed, never held in memory whole.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import re
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

import zstandard

from boot.model import BootState
from boot.statetree.inroot import warn
from boot.statetree.kernels import Kernel
from moss.core.errors import MossError

_HEADER = 110
_MAGICS = (b"070701", b"070702")
_CHUNK = 1 << 20
_MAX_NAME = 4096

# need -> (what proves it, said as), each a regex on a path in the initramfs
REQUIREMENTS: dict[str, list[tuple[re.Pattern[str], str]]] = {
    "dm-crypt": [
        (re.compile(r"(^|/)dm[-_]crypt\.ko(\.\w+)?$"), "the dm-crypt module"),
        (re.compile(r"(^|/)(systemd-)?cryptsetup$"), "cryptsetup"),
    ],
    "lvm": [
        (re.compile(r"(^|/)dm[-_]mod\.ko(\.\w+)?$"), "the dm-mod module"),
        (re.compile(r"(^|/)s?bin/lvm$"), "the lvm tool"),
    ],
    "btrfs": [(re.compile(r"(^|/)btrfs\.ko(\.\w+)?$"), "the btrfs module")],
}


def needs_of(cmdline: str) -> list[str]:
    """What a command line asks the initramfs to do: "dm-crypt", "lvm", "btrfs"."""
    words = cmdline.split()
    wanted = []
    if any(w.startswith("rd.luks.") and not w.startswith("rd.luks=0") for w in words):
        wanted.append("dm-crypt")
    if any(w.startswith("rd.lvm.") for w in words):
        wanted.append("lvm")
    if any(w.startswith("rootflags=") and "subvol" in w for w in words) or (
        "rootfstype=btrfs" in words
    ):
        wanted.append("btrfs")
    return wanted


def _open_rest(f: BinaryIO, first: bytes) -> BinaryIO | None:
    """A reader of the compressed archive that starts here, or None if it is not one."""
    if first.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=f)  # type: ignore[return-value]
    if first.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(f)  # type: ignore[return-value]
    if first.startswith(b"\x28\xb5\x2f\xfd"):
        reader: BinaryIO = zstandard.ZstdDecompressor().stream_reader(f, read_across_frames=True)
        return reader
    if first.startswith(b"BZh"):
        return bz2.BZ2File(f)  # type: ignore[return-value]
    return None


def _skip(f: BinaryIO, size: int) -> None:
    while size > 0:
        got = f.read(min(size, _CHUNK))
        if not got:
            raise MossError("truncated cpio archive")
        size -= len(got)


def _archive_names(f: BinaryIO, names: set[str]) -> bytes:
    """Read cpio members until a header does not start; returns the bytes that did not."""
    while True:
        head = f.read(_HEADER)
        if len(head) < 6 or head[:6] not in _MAGICS:
            return head
        if len(head) < _HEADER:
            raise MossError("truncated cpio header")
        fields = [int(head[6 + 8 * i: 14 + 8 * i], 16) for i in range(13)]
        filesize, namesize = fields[6], fields[11]
        if namesize > _MAX_NAME:  # PATH_MAX; a forged size must not make us allocate it
            raise MossError(f"cpio member name of {namesize} bytes")
        name = f.read(namesize)
        _skip(f, (-(_HEADER + namesize)) % 4)
        text = name.rstrip(b"\0").decode(errors="replace")
        if text == "TRAILER!!!":
            return b""
        if text not in (".", ""):
            names.add(text.removeprefix("./").lstrip("/"))
        _skip(f, filesize + (-filesize) % 4)


def listing(path: Path) -> set[str]:
    """Every path in an initramfs image (all of its archives), without a leading ``/``."""
    names: set[str] = set()
    try:
        with path.open("rb") as raw:
            f: BinaryIO = raw
            while True:
                rest = _archive_names(f, names).lstrip(b"\0")
                while not rest:  # the zeros between archives
                    chunk = f.read(512)
                    if not chunk:
                        return names
                    rest = chunk.lstrip(b"\0")
                if len(rest) < 8:
                    rest += f.read(8 - len(rest))
                ahead: BinaryIO = _Prefixed(rest, f)  # type: ignore[assignment]
                if rest[:6] in _MAGICS:
                    f = ahead
                    continue
                stream = _open_rest(ahead, rest)
                if stream is None:
                    raise MossError(f"{path}: neither a cpio archive nor a known compression")
                f = stream
    except (OSError, EOFError, ValueError, lzma.LZMAError, zlib.error,
            zstandard.ZstdError) as exc:
        raise MossError(f"cannot read the initramfs {path}: {exc}") from None


class _Prefixed:
    """A reader that first gives back bytes already read, then the rest of ``f``."""

    def __init__(self, head: bytes, f: BinaryIO) -> None:
        self.head, self.f = head, f

    def read(self, size: int = -1) -> bytes:
        if not self.head:
            return self.f.read(size)
        if size < 0:
            out, self.head = self.head + self.f.read(), b""
            return out
        out, self.head = self.head[:size], self.head[size:]
        if len(out) < size:
            out += self.f.read(size - len(out))
        return out

    def readable(self) -> bool:
        return True


def missing(names: Iterable[str], needs: Iterable[str], builtin: set[str]) -> list[str]:
    """What of ``needs`` the listing ``names`` lacks, said for a user ("the btrfs module")."""
    names = list(names)
    lacking = []
    for need in needs:
        for pattern, said in REQUIREMENTS[need]:
            if said.endswith("module") and said.split()[1].replace("-", "_") in builtin:
                continue
            if not any(pattern.search(n) for n in names):
                lacking.append(said)
    return lacking


def builtin_modules(usr: Path, kver: str) -> set[str]:
    """Modules built into the kernel (``modules.builtin``), names with ``_`` for ``-``."""
    path = usr / "lib" / "modules" / kver / "modules.builtin"
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return set()
    return {Path(line.strip()).name.split(".ko")[0].replace("-", "_")
            for line in text.splitlines() if line.strip()}


def lacking(initrds: Iterable[Path], usr: Path, kver: str, cmdline: str,
            cache: dict[tuple[int, int], set[str]]) -> list[str]:
    """What the initramfs of a kernel lacks for the root ``cmdline`` describes.

    ``cache`` is keyed by inode: every state's copy of one kernel build is a hard
    link of the same store blob, so each build is read once per sync.
    """
    needs = needs_of(cmdline)
    if not needs:
        return []
    names: set[str] = set()
    for initrd in initrds:
        st = initrd.stat()
        key = (st.st_dev, st.st_ino)
        if key not in cache:
            cache[key] = listing(initrd)
        names |= cache[key]
    return missing(names, needs, builtin_modules(usr, kver))


def name_unfit(state: BootState, kernel: Kernel, options: str, default: bool,
                cache: dict[tuple[int, int], set[str]]) -> None:
    """Say which state cannot mount this root before it boots."""
    try:
        absent = lacking(kernel.initrds, state.usr, kernel.kver, options, cache)
    except (MossError, OSError) as exc:
        warn(f"state {state.id} (kernel {kernel.kver}): cannot check its initramfs: {exc}")
        return
    if not absent:
        return
    what = ", ".join(absent) if kernel.initrds else "an initramfs"
    warn(
        f"state {state.id} (kernel {kernel.kver}) cannot mount this root: its initramfs "
        f"lacks {what}" + ("; it is the entry that boots by default" if default else "")
    )
