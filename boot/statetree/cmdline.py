"""Assembling a kernel command line in the order DESIGN.md fixes.

``root=``/``rw``, then the admin's ``/etc/kernel/cmdline.d``, then
``moss.fstx=<state>``, then the kernel's own ``*.cmdline``, then the vendor's
``/usr/lib/kernel/cmdline.d`` from the state's tree (every file there, as
blsforme reads it; the admin's folder counts ``*.cmdline`` only, and masks a
vendor snippet of any name).  Putting the admin's
snippets before the vendor's would let the vendor win on duplicate keys, so an
admin masks a vendor snippet instead: a same-named symlink to ``/dev/null``.
"""

from __future__ import annotations

import os
from pathlib import Path

from boot.statetree import inroot
from boot.statetree.kernels import Kernel
from moss.core.errors import MossError

# The kernel takes a few KiB of command line (COMMAND_LINE_SIZE); a snippet past this
# is not one, and reading it whole would only cost memory.
MAX_SNIPPET = 64 * 1024


def read_snippet(path: Path) -> str:
    """A snippet's words on one line; ``#`` comment lines are dropped.

    ``path`` must already be resolved (:mod:`boot.statetree.inroot`): a symlink, FIFO or
    device is refused rather than followed or read.
    """
    try:
        text = inroot.read_regular(path, MAX_SNIPPET).decode()
    except (MossError, UnicodeDecodeError) as exc:
        raise MossError(f"cannot read kernel command line file {path}: {exc}") from None
    lines = [ln.strip() for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    return " ".join(" ".join(lines).split())


def is_masked(path: Path) -> bool:
    return path.is_symlink() and os.readlink(path) == "/dev/null"


def snippets(directory: Path | None, every_file: bool = False) -> list[Path]:
    """``*.cmdline`` names of a resolved folder (``every_file``: every name, as blsforme
    reads a state's ``usr/lib/kernel/cmdline.d``), sorted; a missing folder has none."""
    if directory is None or not directory.is_dir():
        return []
    return sorted(directory.iterdir() if every_file else directory.glob("*.cmdline"),
                  key=lambda p: p.name)


def admin_snippets(root: Path) -> tuple[list[str], set[str]]:
    """The root's ``/etc/kernel/cmdline.d``, read inside the root, and the names it masks.

    A link to ``/dev/null`` masks; any other link is followed with the root as
    ``/``, so it can never reach the host's files.
    """
    where = inroot.resolve(root, "etc/kernel/cmdline.d")
    parts: list[str] = []
    masked: set[str] = set()
    for path in snippets(where, every_file=True):
        if is_masked(path):  # any name: it masks the vendor's snippet of that name
            masked.add(path.name)
            continue
        if not path.name.endswith(".cmdline"):
            continue
        assert where is not None
        found = inroot.resolve(root, f"{where.relative_to(root).as_posix()}/{path.name}")
        parts.append(read_snippet(found if found is not None else path))
    return parts, masked


def vendor_snippets(usr: Path, masked: set[str]) -> list[str]:
    """The state's ``/usr/lib/kernel/cmdline.d``, every file in it as blsforme reads it
    (not only ``*.cmdline``); a snippet that is not a regular file of the state is
    skipped with a warning."""
    parts = []
    for path in snippets(inroot.state_path(usr, "lib/kernel/cmdline.d"), every_file=True):
        if path.name in masked:
            continue
        found = inroot.state_path(usr, f"lib/kernel/cmdline.d/{path.name}")
        if found is None or not inroot.is_regular(found):
            inroot.warn(f"{path} skipped: not a regular file inside the state")
            continue
        parts.append(read_snippet(found))
    return parts


def assemble(root: Path, usr: Path, kernel: Kernel, state_id: int, root_args: str | None) -> str:
    """The full command line for booting ``kernel`` of state ``state_id``."""
    parts: list[str] = []
    if root_args:
        parts.append(root_args)
    admin, masked = admin_snippets(root)
    parts.extend(admin)
    parts.append(f"moss.fstx={state_id}")
    parts.extend(read_snippet(p) for p in kernel.cmdline_files)
    parts.extend(vendor_snippets(usr, masked))
    return " ".join(p for p in parts if p)
