"""The pivot agent's work on the sysroot: reading ``/usr``, repairs, the activation itself.

The rules (what a state id is, where trees live, the exchange, the links) come
from the shared on-disk contract, ``moss/core/ondisk.py``, which moss itself
uses; what is here is the agent's own, stricter policy: it touches only what a
crash of moss or of the agent can have left, never a tree two states claim,
never a real directory where a root link belongs.

Imports: flat beside ``pivot.py`` in the initramfs (see ``pivot.py``), as the
``initrd`` package when tests import it and when mypy reads it.
"""

import os
import stat

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows the name)
if TYPE_CHECKING or __package__:
    from initrd.pivot_record import WARNING, KernelLog
    from moss.core import ondisk
else:
    import ondisk
    from pivot_record import WARNING, KernelLog

KILL_ENV = "MOSS_PIVOT_KILL_AT"
# Every point MOSS_PIVOT_KILL_AT accepts, in the order an activation passes them.
KILL_POINTS = (
    "before-exchange",
    "after-exchange",
    "after-archive-mkdir",
    "after-archive",
    "after-cleanup",
    "during-links",
    "after-links",
    "before-record",
    "during-repair",  # a second crash, while the next boot repairs the first one
)
SIGKILL = 9  # signal.SIGKILL on Linux; the signal module would add enum & co. to the image


def kill_point(name: str) -> None:
    """SIGKILL the agent here when tests ask for it: every instant must be recoverable."""
    if os.environ.get(KILL_ENV) == name:
        os.kill(os.getpid(), SIGKILL)


# --- reading the sysroot -----------------------------------------------------------------


class Current:
    """What ``<sysroot>/usr`` is now.

    ``kind`` is ``dir`` (new layout), ``link`` (old layout: a symlink to
    ``.moss/root/<id>/usr``), ``dangling`` (a symlink to nothing bootable) or
    ``missing``.  ``problem`` says why a ``dir``/``link`` cannot be archived.
    """

    __slots__ = ("kind", "problem", "state_id")

    def __init__(self, kind: str, state_id: int | None = None, problem: str = "") -> None:
        self.kind = kind
        self.state_id = state_id
        self.problem = problem

    @property
    def bootable(self) -> bool:
        return self.kind in ("dir", "link")

    def describe(self) -> str:
        if self.state_id is not None:
            return f"state {self.state_id}"
        return {"missing": "no /usr", "dangling": "a dangling /usr link"}.get(
            self.kind, "a /usr without .stateID"
        )


def inspect_usr(sysroot: str) -> Current:
    usr = os.path.join(sysroot, "usr")
    try:
        st = os.lstat(usr)
    except FileNotFoundError:
        return Current("missing")
    if stat.S_ISDIR(st.st_mode):
        state_id = ondisk.read_state_id(usr)
        return Current("dir", state_id, "" if state_id is not None else "/usr has no .stateID")
    if not stat.S_ISLNK(st.st_mode):
        return Current("missing")
    target = os.readlink(usr)
    rel = ondisk.link_target_in_root(target)
    tree = os.path.join(sysroot, rel)
    try:
        is_dir = stat.S_ISDIR(os.lstat(tree).st_mode)
    except OSError:
        is_dir = False
    if not is_dir:
        return Current("dangling")
    link_id = ondisk.old_layout_id(target)
    if link_id is None:
        return Current("link", None, f"/usr links to {rel}, not to .moss/root/<id>/usr")
    tree_id = ondisk.read_state_id(tree)
    if tree_id != link_id:
        return Current("link", None, f"/usr links to {rel} whose .stateID reads {tree_id}")
    return Current("link", link_id)


def check_archived(sysroot: str, state_id: int) -> str:
    """Empty if ``.moss/root/<id>/usr`` is a complete tree of that state, else why not."""
    tree = ondisk.slot_usr(sysroot, state_id)
    try:
        st = os.lstat(tree)
    except FileNotFoundError:
        return f"state {state_id} is missing (no .moss/root/{state_id}/usr)"
    if not stat.S_ISDIR(st.st_mode):
        return f"state {state_id} is damaged (.moss/root/{state_id}/usr is not a directory)"
    found = ondisk.read_state_id(tree)
    if found is None:
        return f"state {state_id} is incomplete (.moss/root/{state_id}/usr has no .stateID)"
    if found != state_id:
        return f"state {state_id} is mismatched (its .stateID reads {found})"
    return ""


# --- repairs ------------------------------------------------------------------------------


def plan_repairs(sysroot: str, current: Current) -> list[tuple[str, str, str]]:
    """Leftovers of an interrupted activation, as (action, path, destination).

    ``move``: a tree in the wrong slot (:func:`ondisk.misplaced_owner`) goes to
    its own.  ``unlink``: ``.moss/root/X/usr`` is the old-layout ``/usr`` symlink
    that an exchange put there.  ``rmdir``: an empty ``.moss/root/X``.
    ``staging`` and anything not named by a state id are never touched.
    """
    plan: list[tuple[str, str, str]] = []
    for name, _ in ondisk.state_slots(sysroot):
        slot = os.path.join(ondisk.states_dir(sysroot), name)
        usr = os.path.join(slot, "usr")
        try:
            st = os.lstat(usr)
        except FileNotFoundError:
            if os.path.isdir(slot) and not os.path.islink(slot) and not os.listdir(slot):
                plan.append(("rmdir", slot, ""))
            continue
        except OSError:
            continue
        if stat.S_ISLNK(st.st_mode):
            if current.kind == "dir":
                plan.append(("unlink", usr, ""))
            continue
        owner = ondisk.misplaced_owner(name, usr)
        if owner is None:
            continue
        if current.kind == "dir" and owner == current.state_id:
            continue  # two trees claim the live id: leave it for a human to judge
        dest = ondisk.slot_usr(sysroot, owner)
        if not os.path.lexists(dest):
            plan.append(("move", usr, dest))
    # An empty slot that a move is about to fill is not a leftover.
    filling = {os.path.dirname(dest) for action, _, dest in plan if action == "move"}
    return [step for step in plan if not (step[0] == "rmdir" and step[1] in filling)]


def apply_repairs(plan: list[tuple[str, str, str]], log: KernelLog) -> None:
    for action, path, dest in plan:
        slot = os.path.dirname(path)
        if action == "rmdir":
            try:
                os.rmdir(path)
            except OSError:
                continue  # not empty after all: leave it
            ondisk.fsync_dir(os.path.dirname(path))
            continue
        if action == "unlink":
            os.unlink(path)
        else:
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            os.rename(path, dest)
            ondisk.fsync_dir(os.path.dirname(dest))
        kill_point("during-repair")
        try:
            os.rmdir(slot)
            ondisk.fsync_dir(os.path.dirname(slot))
        except OSError:
            pass  # something else lives in the slot: harmless, keep it
        log(WARNING, f"repaired an interrupted activation: {action} {path} {dest}".rstrip())


# --- the root links -----------------------------------------------------------------------


def links_to_fix(sysroot: str) -> list[tuple[str, str]]:
    """Root links that are missing or point elsewhere, and stray temp links; real dirs stay."""
    todo: list[tuple[str, str]] = []
    for name, target in ondisk.ROOT_LINKS:
        path = os.path.join(sysroot, name)
        if os.path.lexists(os.path.join(sysroot, ondisk.link_temp_name(name))):
            todo.append((name, target))
            continue
        try:
            if os.readlink(path) == target:
                continue
        except FileNotFoundError:
            pass
        except OSError:
            continue  # a real directory (not a merged-/usr system): not ours to replace
        todo.append((name, target))
    return todo


def fix_links(sysroot: str, todo: list[tuple[str, str]]) -> None:
    """Recreate each link with the contract's symlink-to-temp + rename."""
    for name, target in todo:
        path = os.path.join(sysroot, name)
        if os.path.lexists(path) and not os.path.islink(path):
            continue  # a real directory (not a merged-/usr system): not ours to replace
        tmp = ondisk.temp_symlink(target, path)
        kill_point("during-links")
        os.replace(tmp, path)
    if todo:
        ondisk.fsync_dir(sysroot)


# --- the activation -----------------------------------------------------------------------


def activate(sysroot: str, current: Current, wanted: int) -> None:
    """Make archived state ``wanted`` the live /usr; the steps ``moss state activate`` takes."""
    base = ondisk.states_dir(sysroot)
    tree = ondisk.slot_usr(sysroot, wanted)
    slot = os.path.dirname(tree)
    usr = os.path.join(sysroot, "usr")
    kill_point("before-exchange")
    if current.kind == "missing":
        os.rename(tree, usr)  # nothing to exchange with; /usr only ever appears whole
    else:
        ondisk.exchange(tree, usr)
    ondisk.fsync_dir(sysroot)
    ondisk.fsync_dir(slot)
    kill_point("after-exchange")
    if current.kind == "dir" and current.state_id is not None:
        archive = ondisk.slot_usr(sysroot, current.state_id)
        os.makedirs(os.path.dirname(archive), exist_ok=True)
        kill_point("after-archive-mkdir")
        os.rename(tree, archive)
        ondisk.fsync_dir(os.path.dirname(archive))
    elif current.kind in ("link", "dangling"):
        # Old layout: the symlink now sits in the slot; the old tree never moved.
        os.unlink(tree)
    kill_point("after-archive")
    os.rmdir(slot)
    ondisk.fsync_dir(base)
    kill_point("after-cleanup")
    fix_links(sysroot, list(ondisk.ROOT_LINKS))
    kill_point("after-links")


# --- a read-only sysroot ------------------------------------------------------------------


def remount(target: str, read_only: bool) -> None:
    """Remount ``target`` keeping nosuid/nodev/noexec (atime options are kept by the kernel)."""
    keep = os.statvfs(target).f_flag & (ondisk.MS_NOSUID | ondisk.MS_NODEV | ondisk.MS_NOEXEC)
    flags = ondisk.MS_REMOUNT | keep | (ondisk.MS_RDONLY if read_only else 0)
    ondisk.mount(None, target, None, flags)


def is_read_only(path: str) -> bool:
    return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
