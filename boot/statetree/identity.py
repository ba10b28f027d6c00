"""What each state says the OS is called, as AerynOS's blsforme reads it.

blsforme titles every entry from the os-release of the state it boots, so an
entry of last year's state still says last year's name; and when an OS changes
its id (``serpentos`` to ``aerynos``), ``os-info.json`` lists the ids it had
(``metadata.identity.former_identities``), and entries and kernel folders under
those ids are cleaned up.  Both are read inside the state (:mod:`boot.statetree.inroot`),
bounded, and anything unreadable counts as absent: a name is never worth a
failed sync.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from boot.statetree import inroot
from moss.core.errors import MossError

MAX_BYTES = 64 * 1024  # an os-release or os-info.json is a few hundred bytes
MAX_FORMER = 16
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
# Folders of EFI/ that belong to the firmware, the boot loader or another OS.
RESERVED = ("boot", "systemd", "linux", "microsoft")


def usable_id(os_id: str) -> bool:
    """Whether ``os_id`` can name entries and a folder ``EFI/<os_id>`` of its own."""
    return len(os_id) <= 64 and _ID.fullmatch(os_id) is not None and \
        os_id.lower() not in RESERVED


def _read(usr: Path, rel: str) -> bytes | None:
    path = inroot.state_path(usr, rel)
    if path is None or not inroot.is_regular(path):
        return None
    try:
        if path.stat().st_size > MAX_BYTES:
            return None
        return inroot.read_regular(path)
    except (MossError, OSError):
        return None


def state_name(usr: Path) -> str | None:
    """The state's ``NAME``, else ``PRETTY_NAME``, from its ``usr/lib/os-release``.

    blsforme prefers ``PRETTY_NAME`` for a title of the name alone; moss's titles add
    the kernel, state and date themselves, and ``PRETTY_NAME`` usually repeats
    ``NAME`` with a version (``Debian GNU/Linux 12 (bookworm)``), so ``NAME`` first.
    """
    data = _read(usr, "lib/os-release")
    if data is None:
        return None
    fields: dict[str, str] = {}
    for line in data.decode(errors="replace").splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key in ("PRETTY_NAME", "NAME"):
            fields[key] = value.strip().strip("\"'")
    name = fields.get("NAME") or fields.get("PRETTY_NAME")
    return name or None


def former_ids(usr: Path) -> list[str]:
    """The ids ``os-info.json`` says the OS had before, each one that can name a
    folder; none when the file is missing, too big, nested too deep or malformed."""
    data = _read(usr, "lib/os-info.json")
    if data is None:
        return []
    try:
        info = json.loads(data)
    except (ValueError, RecursionError):
        return []
    node: object = info
    for key in ("metadata", "identity", "former_identities"):
        node = node.get(key) if isinstance(node, dict) else None
    if not isinstance(node, list):
        return []
    found = []
    for item in node[:MAX_FORMER]:
        former = item.get("id") if isinstance(item, dict) else None
        if isinstance(former, str) and usable_id(former):
            found.append(former)
    return found
