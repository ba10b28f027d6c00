"""Whether the databases agree with the disk, checked before moss acts on them.

A record's absence is not data's absence.  A state row that is missing while its
tree is on disk (``DELETE FROM state``, a bad restore), a live ``/usr`` that lost
its ``.stateID``, a ``.stateID`` that repeats an archived id, an archived ``usr``
that is a link to somewhere else: each makes the databases describe a system the
disk does not hold.  Built on, such a root loses data: ``cache prune`` deletes
every tree no row names, an install builds a tiny ``/usr`` from an empty
selection, recovery forgets a state whose tree it cannot see.

So every mutating command (:mod:`moss.states.mutating`) first compares them and
refuses, in one line pointing to ``moss state rebuild``, where they disagree;
``state verify`` reports the same disagreements as problems.  The check is cheap
enough to run every time: a listing of ``.moss/root``, one ``lstat`` and one small
``.stateID`` read per slot, the state ids, two queries on the selections, and one
listing of the store; nothing is hashed.

The only disagreements tolerated are the ones an interrupted moss (or pivot agent)
leaves and recovery (:mod:`moss.states.recovery`) settles: the previous ``/usr``
still in the slot of the state that went live, an old-layout link left in a slot,
an empty slot.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from moss.core import fs, ondisk
from moss.core.errors import MossError
from moss.core.root import Root, read_state_id
from moss.db.databases import Databases
from moss.stone import EMPTY_DIGEST

HINT = "`moss state rebuild` makes the databases match the disk again"
#: An extras setting: the states ``state rebuild`` found no cached package of (it
#: said so), which therefore select nothing while their trees hold files.
UNRECOVERED = "rebuilt-without-packages"


class Disagreement(MossError):
    """The databases and the disk describe different systems."""


def disagreements(root: Root, dbs: Databases) -> list[str]:
    """Each way the disk and the databases disagree, as a line for the user."""
    found: list[str] = []
    live = _live_id(root, found)
    linked = bool(found)
    slots = _archived_ids(root, live, found)
    if root.usr.is_symlink():  # old layout: the live tree is its slot's
        slots = [i for i in slots if i != live]
    rows = set(dbs.state.ids())
    # A fresh root's /usr is empty and has no id, and stays so until the first
    # transaction's exchange (a kill before it leaves a row and a staging tree).
    if live is None and not linked and (slots or (rows and fs.has_entries(root.usr))):
        found.append(f"{root.usr} has no {ondisk.STATE_ID_FILE} while the root holds states")
    trees = set(slots) | ({live} if live is not None else set())
    for state_id in sorted(trees - rows):
        where = root.usr if state_id == live else root.archived_usr(state_id)
        found.append(f"state {state_id} has a tree at {where} but no row in the state database")
    known = set((dbs.extras.get_setting(UNRECOVERED) or "").split(","))
    for state_id in dbs.state.selecting_nothing():
        usr = root.usr if state_id == live else root.archived_usr(state_id)
        if state_id in trees and str(state_id) not in known and _holds_files(usr):
            found.append(f"state {state_id} selects no package, but its tree holds "
                         "packaged files")
    found.extend(_store_problems(root, dbs, rows))
    return found


def refusal(found: list[str]) -> Disagreement:
    """The one line that refuses a root with these disagreements (nothing changed)."""
    more = f" (and {len(found) - 1} more: `moss state verify` lists them)" \
        if len(found) > 1 else ""
    return Disagreement(f"{found[0]}{more}; refusing to act on databases that disagree "
                        f"with the disk: {HINT}")


def _live_id(root: Root, found: list[str]) -> int | None:
    """The live state's id; a ``/usr`` link must be an old-layout link into this root
    (``/usr`` -> ``.moss/root/<id>/usr``), whose slot is then the live tree."""
    usr = root.usr
    if not usr.is_symlink():
        return read_state_id(usr)
    target = os.readlink(usr)
    slot = ondisk.old_layout_id(target)
    if slot is None:
        found.append(f"{usr} is a link to {target}, not a tree of this root")
        return None
    return slot if read_state_id(root.archived_usr(slot)) == slot else None


def _archived_ids(root: Root, live: int | None, found: list[str]) -> list[int]:
    """Ids of the complete archived trees, noting every slot that is not one."""
    ids: list[int] = []
    for name, state_id in ondisk.state_slots(root.path):
        slot = root.states_dir / name
        usr = slot / "usr"
        problem, mode = slot_problem(slot)
        if problem is not None:
            found.append(problem)
        if mode is None:
            continue  # an empty slot (recovery removes it), or not a slot at all
        if stat.S_ISLNK(mode):
            if ondisk.old_layout_id(os.readlink(usr)) is None:
                found.append(f"{usr} is a link to {os.readlink(usr)}, not a tree of this root")
            continue  # an old-layout leftover: recovery removes it
        if not stat.S_ISDIR(mode):
            found.append(f"{usr} is not a directory")
            continue
        owner = read_state_id(usr)
        if owner is None:
            found.append(f"{usr} has no readable {ondisk.STATE_ID_FILE}")
        elif owner == state_id:
            if owner == live and not root.usr.is_symlink():
                found.append(f"{root.usr} says it is state {live}, and so does {usr}")
            else:
                ids.append(state_id)
        elif live != state_id or read_state_id(root.archived_usr(owner)) == owner:
            # Only an exchange cut off before its archive rename leaves a tree in
            # another's slot, and then the slot's own state is the live one.
            found.append(f"{usr} says it is state {owner}, in the slot of state {state_id}")
    return ids


def slot_problem(slot: Path) -> tuple[str | None, int | None]:
    """What is wrong with a slot folder itself, and its ``usr``'s mode when it has one.

    A slot that is a link or no folder, or whose ``usr`` cannot be looked at, is
    not a tree of this root; a slot without ``usr`` is an empty one.
    """
    try:
        slot_mode = os.lstat(slot).st_mode
    except FileNotFoundError:
        return None, None
    if stat.S_ISLNK(slot_mode):
        return f"{slot} is a link to {os.readlink(slot)}, not a tree of this root", None
    if not stat.S_ISDIR(slot_mode):
        return f"{slot} is not a directory", None
    try:
        return None, os.lstat(slot / "usr").st_mode
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        return f"{slot / 'usr'} cannot be read ({exc.strerror})", None


def _store_problems(root: Root, dbs: Databases, rows: set[int]) -> list[str]:
    """The packages the states select are recorded, and the store is not emptied."""
    problems: list[str] = []
    missing = dbs.state.referenced_packages() - set(dbs.install.all_packages())
    if missing:
        problems.append(f"the states select {len(missing)} packages the install database "
                        f"does not hold (e.g. {sorted(missing)[0]})")
    if (rows and not problems and not fs.has_entries(root.assets)
            and dbs.layout.referenced_digests() - {EMPTY_DIGEST}):
        problems.append(f"the store {root.assets} is empty while the states' layouts name files")
    return problems


def _holds_files(usr: Path) -> bool:
    """Whether a tree holds what only packages bring: a link, or a file shared with
    the store (a hard link).  A state that selects nothing still has folders and the
    files moss writes itself (``.stateID``, ``lib/system-model.kdl``).

    The walk stops at the first such entry, so a tree whose selections were lost
    costs a few listings; only states that select nothing are walked at all.
    """
    for directory, dirs, files in fs.walk(usr):
        for name in dirs + files:
            try:
                st = os.lstat(os.path.join(directory, name))
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode) or (stat.S_ISREG(st.st_mode) and st.st_nlink > 1):
                return True
    return False
