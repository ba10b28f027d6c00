"""Making a tree the live ``/usr``: one exchange, then tidying up behind it.

The order is what makes a crash harmless.  ``renameat2(RENAME_EXCHANGE)`` swaps
the new tree and ``/usr`` in one step, so ``/usr`` is always a complete tree of
either the old or the new state.  Only then is the old tree (now sitting where
the new one was) renamed to ``.moss/root/<old id>/usr``; a crash in between
leaves a tree whose ``.stateID`` names its real home, which :mod:`moss.states.recovery`
(and the pivot agent) move there.  The pivot agent in ``initrd/`` performs the
same steps; the calls both make (the exchange, ``fsync_dir``, the slots, the root
links) are the on-disk contract's, :mod:`moss.core.ondisk`, so they cannot drift.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from moss.core import fs, namespace, ondisk
from moss.core.errors import MossError
from moss.core.faults import checkpoint
from moss.core.root import Root, read_state_id, update_root_links


def activate_tree(root: Root, tree: Path) -> int | None:
    """Swap ``tree`` (a complete ``usr`` with its ``.stateID``) in as ``/usr``.

    Returns the id of the state that was active before, now archived.
    """
    new_id = read_state_id(tree)
    if new_id is None:
        raise MossError(f"{tree} has no state id; refusing to activate an incomplete tree")
    old_id = read_state_id(root.usr)
    old_layout = root.usr.is_symlink()
    checkpoint("activate:before-exchange")
    ondisk.exchange(tree, root.usr)
    checkpoint("activate:exchanged")
    # `tree` now holds what was /usr: the previous state's tree, or an old-style symlink.
    if old_layout:
        os.unlink(tree)
    else:
        archive_tree(root, tree, old_id)
    fs.remove_empty_dir(tree.parent)
    checkpoint("activate:archived")
    update_root_links(root)
    ondisk.fsync_dir(root.path)
    ondisk.fsync_dir(root.states_dir)
    namespace.rebind_usr_local(root.path)
    return old_id


def archive_tree(root: Root, tree: Path, state_id: int | None) -> None:
    """Put a former ``/usr`` where archived states live, under its own id."""
    if state_id is None:
        # A /usr that no state owns: a fresh root's empty skeleton, or a system moss
        # did not build.  Keep anything non-empty rather than lose it.
        if not any(tree.iterdir()):
            tree.rmdir()
            return
        dest = root.states_dir / f"unmanaged-{int(time.time())}" / "usr"
    else:
        dest = root.archived_usr(state_id)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        # An archived copy of the same state already exists (e.g. re-activation of an
        # old-layout system); the trees are the same state, keep the one in place.
        fs.remove_tree(tree)
        return
    os.rename(tree, dest)

