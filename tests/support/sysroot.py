"""Fake sysroots for the pivot agent: state trees, both layouts, and a way to read them back."""

from __future__ import annotations

import os
from pathlib import Path

from moss.core import ondisk

ROOT_LINKS = dict(ondisk.ROOT_LINKS)  # the contract moss and the agent share


def make_tree(usr: Path, state_id: int | None, stamp: str | None = None) -> Path:
    """A small ``/usr`` whose files say which state they belong to."""
    stamp = stamp if stamp is not None else f"state {state_id}"
    (usr / "bin").mkdir(parents=True)
    (usr / "lib" / "os-release.d").mkdir(parents=True)
    (usr / "bin" / "hello").write_text(f"#!/bin/sh\necho {stamp}\n")
    (usr / "lib" / "os-release").write_text(f"NAME=moss test\nSTAMP={stamp}\n")
    os.symlink("../lib/os-release", usr / "bin" / "os-release")
    if state_id is not None:
        (usr / ondisk.STATE_ID_FILE).write_text(str(state_id))
    return usr


def make_sysroot(
    root: Path, active: int | None = 1, archived: tuple[int, ...] = (2, 3), layout: str = "new"
) -> Path:
    """A root with ``active`` live and ``archived`` under ``.moss/root/``.

    ``layout``: ``new`` (``/usr`` is the tree), ``old-abs`` / ``old-rel`` (``/usr``
    is a symlink, absolute or relative, to ``.moss/root/<active>/usr``).
    """
    root.mkdir(parents=True, exist_ok=True)
    states = root / ".moss" / "root"
    states.mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "etc" / "hostname").write_text("moss-test\n")
    if active is not None:
        if layout == "new":
            make_tree(root / "usr", active)
        else:
            make_tree(states / str(active) / "usr", active)
            target = f".moss/root/{active}/usr"
            if layout == "old-abs":
                target = "/" + target
            os.symlink(target, root / "usr")
    for state in archived:
        make_tree(states / str(state) / "usr", state)
    for name, target in ROOT_LINKS.items():
        os.symlink(target, root / name)
    return root


def stamp_of(usr: Path) -> str | None:
    try:
        text = (usr / "lib" / "os-release").read_text()
    except OSError:
        return None
    return text.split("STAMP=", 1)[1].strip() if "STAMP=" in text else None


def state_of(usr: Path) -> int | None:
    """The state a tree belongs to if it is complete: files and ``.stateID`` agree."""
    sid = ondisk.read_state_id(usr)
    if sid is None:
        return None
    return sid if stamp_of(usr) == f"state {sid}" and (usr / "bin" / "hello").is_file() else None


def live_state(root: Path) -> int | None:
    """The state the machine would boot: follows an old-layout link inside ``root``."""
    usr = root / "usr"
    if usr.is_symlink():
        usr = root / os.readlink(usr).lstrip("/")
    return state_of(usr) if usr.is_dir() else None


def archived_states(root: Path) -> dict[str, int | str | None]:
    """``.moss/root`` entries: name -> state of the tree there, ``"link"`` or ``None``."""
    out: dict[str, int | str | None] = {}
    states = root / ".moss" / "root"
    for slot in sorted(states.iterdir()):
        usr = slot / "usr"
        if usr.is_symlink():
            out[slot.name] = "link"
        elif usr.is_dir():
            out[slot.name] = state_of(usr)
        else:
            out[slot.name] = None
    return out


def root_links(root: Path) -> dict[str, str | None]:
    return {
        name: os.readlink(root / name) if (root / name).is_symlink() else None
        for name in ROOT_LINKS
    }


def stray_entries(root: Path) -> list[str]:
    """Temp links or files the agent may have left at the top of the root."""
    return sorted(p.name for p in root.iterdir() if p.name.startswith("."))


def snapshot(root: Path) -> list[tuple[str, str]]:
    """Every path with its kind and content or link target: compares "nothing changed"."""
    out: list[tuple[str, str]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            if path.is_symlink():
                out.append((rel, "-> " + os.readlink(path)))
            elif path.is_dir():
                out.append((rel, "dir"))
            else:
                out.append((rel, path.read_text(errors="replace")))
    return sorted(out)
