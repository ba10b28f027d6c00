"""Before ``moss state rebuild``: make every tree on disk a state of its own.

The consistency check (:mod:`moss.states.consistency`) refuses roots whose
databases and disk disagree and points to ``state rebuild``; some of those
disagreements are on the disk alone, and new databases cannot mend them.  This
step settles each without deleting anything a user could want back:

- a slot (``.moss/root/<id>`` or its ``usr``) that is a link to somewhere else
  is unlinked: what it points to belongs to no state of this root, and stays;
- a tree in a slot without a readable ``.stateID`` gets the slot's id;
- a slot whose ``usr`` is no tree with its id otherwise (a file, another state's
  id where that state has a tree already) is moved aside to
  ``.moss/root/unclaimed-<name>``, a name no moss ever reads as a state;
- a tree in another state's free slot moves to its own slot, as recovery does;
- a live ``/usr`` without an id, or whose id repeats an archived tree's, gets a
  new id (one above every id on disk), so both trees stay states.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from moss.core import fs, ondisk
from moss.core.errors import MossError
from moss.core.root import STATE_ID_FILE, Root, read_state_id
from moss.states.consistency import slot_problem

UNCLAIMED = "unclaimed-"


def settle_disk(root: Root) -> list[str]:
    """Settle what only the disk gets wrong; returns what was done, for the user."""
    if root.usr.is_symlink() and ondisk.old_layout_id(os.readlink(root.usr)) is None:
        raise MossError(f"{root.usr} is a link to {os.readlink(root.usr)}, not a tree of this "
                        "root; put this root's own /usr there first")
    done: list[str] = []
    live = None if root.usr.is_symlink() else read_state_id(root.usr)
    for name, state_id in ondisk.state_slots(root.path):
        _settle_slot(root, name, state_id, live, done)
    if root.usr.is_symlink() or not root.usr.is_dir():
        return done
    archived = [i for _, i in ondisk.state_slots(root.path)]
    # Without archived trees, a /usr with no id is moss's only when the store has
    # blobs: never write an id into another distribution's /usr.
    ours = archived or (fs.has_entries(root.usr) and fs.has_entries(root.assets))
    if ((live is None and ours) or live in archived) and _give_id(
            root.usr, new := max([*archived, live or 0]) + 1):
        why = "had no id" if live is None else f"repeated the id of archived state {live}"
        done.append(f"the live {root.usr}, which {why}, is now state {new}")
    return done


def _settle_slot(root: Root, name: str, state_id: int, live: int | None,
                 done: list[str]) -> None:
    slot = root.states_dir / name
    usr = slot / "usr"
    problem, mode = slot_problem(slot)
    if os.path.islink(slot):
        _unlink(slot, done)
        return
    if problem is not None:
        _set_aside(root, slot, name, state_id, done)
        return
    if mode is None:
        return
    if stat.S_ISLNK(mode):
        if ondisk.old_layout_id(os.readlink(usr)) is None:
            _unlink(usr, done)
        return
    owner = read_state_id(usr) if stat.S_ISDIR(mode) else None
    if owner == state_id:
        return
    if (owner is None and stat.S_ISDIR(mode) and state_id != live
            and _give_id(usr, state_id)):
        done.append(f"{usr}, which had no id, is state {state_id}, as its slot says")
        return
    home = root.states_dir / str(owner)
    if owner is not None and owner != live and not os.path.lexists(home):
        home.mkdir()
        os.rename(usr, home / "usr")
        fs.remove_empty_dir(slot)
        done.append(f"moved state {owner}'s tree from {slot} to {home}")
        return
    _set_aside(root, slot, name, state_id, done)


def _set_aside(root: Root, slot: Path, name: str, state_id: int, done: list[str]) -> None:
    """Move a slot that holds no tree of its state where no moss reads a state."""
    aside = root.states_dir / f"{UNCLAIMED}{name}"
    while os.path.lexists(aside):
        aside = aside.with_name(aside.name + "+")
    os.rename(slot, aside)
    done.append(f"moved {slot}, which holds no tree of state {state_id}, to {aside}")


def _give_id(usr: Path, state_id: int) -> bool:
    """Write ``usr``'s ``.stateID`` (replacing a file or link there, never writing
    through it); False when something else is in its place."""
    path = usr / STATE_ID_FILE
    if os.path.lexists(path) and not (path.is_symlink() or path.is_file()):
        return False
    fs.atomic_write(path, str(state_id).encode())
    return True


def _unlink(link: os.PathLike[str], done: list[str]) -> None:
    target = os.readlink(link)
    os.unlink(link)
    done.append(f"removed the link {os.fspath(link)} -> {target} (what it points to is "
                "untouched)")
