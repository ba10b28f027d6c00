"""Assembling a kernel command line in the order DESIGN.md fixes.

``root=``/``rw``, then the admin's ``/etc/kernel/cmdline.d``, then
``moss.fstx=<state>``, then the kernel's own ``*.cmdline``, then the vendor's
``/usr/lib/kernel/cmdline.d`` from the state's tree.  Putting the admin's
snippets before the vendor's would let the vendor win on duplicate keys, so an
admin masks a vendor snippet instead: a same-named symlink to ``/dev/null``.
"""

from __future__ import annotations

import os
from pathlib import Path

from boot.kernels import Kernel
from moss.core.errors import MossError


def read_snippet(path: Path) -> str:
    """A snippet's words on one line; ``#`` comment lines are dropped."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise MossError(f"cannot read kernel command line file {path}: {exc}") from None
    lines = [ln.strip() for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    return " ".join(" ".join(lines).split())


def is_masked(path: Path) -> bool:
    return path.is_symlink() and os.readlink(path) == "/dev/null"


def snippets(directory: Path) -> list[Path]:
    """``*.cmdline`` files of a folder, sorted by name; a missing folder has none."""
    if not directory.is_dir():
        return []
    return sorted(directory.glob("*.cmdline"), key=lambda p: p.name)


def assemble(root: Path, usr: Path, kernel: Kernel, state_id: int, root_args: str | None) -> str:
    """The full command line for booting ``kernel`` of state ``state_id``."""
    etc_dir = root / "etc" / "kernel" / "cmdline.d"
    vendor_dir = usr / "lib" / "kernel" / "cmdline.d"
    parts: list[str] = []
    if root_args:
        parts.append(root_args)
    masked = set()
    for path in snippets(etc_dir):
        if is_masked(path):
            masked.add(path.name)
        else:
            parts.append(read_snippet(path))
    parts.append(f"moss.fstx={state_id}")
    parts.extend(read_snippet(p) for p in kernel.cmdline_files)
    parts.extend(read_snippet(p) for p in snippets(vendor_dir) if p.name not in masked)
    return " ".join(p for p in parts if p)
