"""systemd-boot's EFI variables (the Boot Loader Interface vendor GUID).

Variables are files named ``<Name>-<guid>`` holding 4 bytes of attributes and
then the value, here a NUL-terminated UTF-16LE string.  On efivarfs a variable
must be written in one ``write()`` and is often immutable (chattr +i), so the
flag is cleared first.  Any other directory (tests, image builders that copy
the variable into OVMF's store later) gets an ordinary atomic write.
"""

from __future__ import annotations

import fcntl
import os
import struct
from pathlib import Path

from moss.core.confined import read_regular
from moss.core.errors import MossError
from moss.core.fs import atomic_write

LOADER_GUID = "4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"
# NON_VOLATILE | BOOTSERVICE_ACCESS | RUNTIME_ACCESS
ATTRIBUTES = 0x7
MAX_VARIABLE = 64 * 1024  # systemd-boot's variables are an entry name or a few numbers
_FS_IOC_GETFLAGS = 0x80086601
_FS_IOC_SETFLAGS = 0x40086602
_FS_IMMUTABLE_FL = 0x10


GLOBAL_GUID = "8be4df61-93ca-11d2-aa0d-00e098032b8c"  # the UEFI spec's own variables


def secure_boot(directory: Path) -> bool | None:
    """Whether the firmware enforces Secure Boot (``SecureBoot``); None when it does not say."""
    try:
        data = (directory / f"SecureBoot-{GLOBAL_GUID}").read_bytes()
    except OSError:
        return None
    return data[4:5] == b"\x01" if len(data) >= 5 else None


def var_path(directory: Path, name: str) -> Path:
    return directory / f"{name}-{LOADER_GUID}"


def encode(value: str) -> bytes:
    return struct.pack("<I", ATTRIBUTES) + (value + "\0").encode("utf-16-le")


def decode(data: bytes) -> str:
    return data[4:].decode("utf-16-le", errors="replace").split("\0", 1)[0]


def read(directory: Path, name: str) -> str | None:
    path = var_path(directory, name)
    if not path.exists() and not path.is_symlink():
        return None
    # a regular file, not a link (under -D ROOT one could name a host file), and small
    return decode(read_regular(path, MAX_VARIABLE))


def _is_efivarfs(directory: Path) -> bool:
    try:
        for line in Path("/proc/self/mounts").read_text().splitlines():
            fields = line.split()
            if len(fields) > 2 and fields[2] == "efivarfs" and Path(fields[1]) == directory:
                return True
    except OSError:
        pass
    return False


def _clear_immutable(path: Path) -> None:
    try:  # never through a link: under -D ROOT it could name a host file
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return  # missing, or a link the atomic write below replaces
    try:
        flags = struct.unpack("i", fcntl.ioctl(fd, _FS_IOC_GETFLAGS, b"\0" * 4))[0]
        if flags & _FS_IMMUTABLE_FL:
            fcntl.ioctl(fd, _FS_IOC_SETFLAGS, struct.pack("i", flags & ~_FS_IMMUTABLE_FL))
    except OSError:
        pass  # a filesystem without inode flags has nothing to clear
    finally:
        os.close(fd)


def write(directory: Path, name: str, value: str) -> None:
    path = var_path(directory, name)
    data = encode(value)
    try:
        _clear_immutable(path)
        if _is_efivarfs(directory):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
        else:
            atomic_write(path, data)
    except OSError as exc:
        raise MossError(f"cannot write EFI variable {name} in {directory}: {exc}") from None
