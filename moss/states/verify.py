"""``moss state verify``: re-hash the store and check every state's tree.

The store is checked against the BLAKE3 recorded when each blob entered it;
each tree is compared entry by entry with the layouts of its selection.  Every
check runs before any repair, so ``verify`` and ``verify --repair`` report the
same problems (a tree file that is a hard link of a damaged blob is damaged too,
whether or not the blob is about to be repaired).  With ``repair``, damaged blobs
are then re-extracted from the cached ``.stone`` files (verified again on the
way) and damaged tree entries are recreated by a temp-name + rename, so a repair
can itself be interrupted safely; what cannot be repaired is said, with why.

Without ``repair`` verify only reads: on a root whose ``.moss`` this process
cannot write (a read-only filesystem or mount, another user's root) it opens the
databases read-only and takes no lock, as a query does.  Where it can write, it
enters as every changing command does (:func:`moss.states.mutating.mutating`), so
an interrupted transaction is finished first instead of reported as damage.

Special files follow the blit: a FIFO must be a FIFO with its mode, and is
recreated with ``mkfifo``; device nodes and sockets are never created (a
package shipping one is refused at install), so an entry of those kinds, from
a state recorded before that rule, is not looked for.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from moss.core import fs, namespace
from moss.core.errors import MossError
from moss.core.hashing import blake3_file
from moss.core.progress import QUIET, Progress
from moss.core.root import STATE_ID_FILE, Root, read_state_id
from moss.db.databases import Databases, databases
from moss.planning.selection import selection_of
from moss.states.consistency import disagreements
from moss.states.culled import tree_digests
from moss.states.mutating import mutating
from moss.states.repair import make_directory, parent_problem, recreate
from moss.stone import EMPTY_DIGEST, FileKind, LayoutEntry, digest_hex
from moss.store.assets import asset_path, is_regular_blob, orphaned_blobs, vouch_for
from moss.store.restore import restore_blobs
from moss.tree.plan import plan_tree

#: Kinds the blit never creates (:data:`moss.store.incoming.REFUSED_KINDS`).
NEVER_CREATED = (FileKind.CHAR_DEVICE, FileKind.BLOCK_DEVICE, FileKind.SOCKET)


@dataclass
class Problem:
    path: str
    what: str

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "problem": self.what}


@dataclass
class VerifyReport:
    assets: int = 0
    files: int = 0
    problems: list[Problem] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    unrepaired: list[Problem] = field(default_factory=list)  # with ``repair``: why not
    orphans: list[str] = field(default_factory=list)
    orphan_bytes: int = 0


@dataclass(frozen=True)
class _Broken:
    """A damaged tree entry, to recreate once the store is repaired."""

    usr: Path
    target: str
    entry: LayoutEntry | None  # None: a directory


def verify(root_path: Path, repair: bool = False, progress: Progress = QUIET) -> VerifyReport:
    root = Root(root_path)
    report = VerifyReport()
    writable = _writable(root, repair)
    with (mutating(root, progress=progress, refuse_disagreement=False) if writable
          else databases(root)) as dbs:
        disagreeing = disagreements(root, dbs)
        for line in disagreeing:
            report.problems.append(Problem(str(root.path), line))
        if disagreeing:
            return report  # trees and rows cannot be paired: `state rebuild` first
        damaged = _check_store(root, dbs, report, progress, record=writable)
        broken = [b for state_id in dbs.state.ids()
                  for b in _check_tree(root, dbs, state_id, report, damaged)]
        if repair:
            lost = _repair_blobs(root, dbs, damaged, report) if damaged else set()
            _repair_trees(root, broken, lost, report)
        _find_orphans(root, dbs, report)
    return report


def _writable(root: Root, repair: bool) -> bool:
    """Verify works under the lock where it can write (or must: ``repair``), and
    records blobs it vouched for; on a read-only filesystem it only reads.

    A read-only OS (a read-only mount of a writable filesystem) is writable to moss
    in its own namespace, as for every changing command: there verify also settles
    an interrupted switch and says so, as the first command after a cut must.
    """
    if repair:
        return True
    if not root.moss.is_dir():
        return False
    try:
        namespace.enter_writable(root.path)
    except MossError:
        return False  # the filesystem itself is read-only, or no namespace here
    return os.access(root.moss, os.W_OK)


def _repair_trees(root: Root, broken: list[_Broken], lost: set[int],
                  report: VerifyReport) -> None:
    for item in broken:
        path = str(item.usr / item.target)
        if item.entry is None:
            make_directory(item.usr, item.target)
        elif item.entry.file_kind == FileKind.REGULAR and item.entry.digest in lost:
            report.unrepaired.append(Problem(path, "its asset is lost (no cached package)"))
            continue
        else:
            recreate(root, item.usr, item.target, item.entry)
        report.repaired.append(path)


def _find_orphans(root: Root, dbs: Databases, report: VerifyReport) -> None:
    referenced = {digest_hex(d) for d in dbs.layout.referenced_digests()}
    for path in orphaned_blobs(root, referenced):
        report.orphans.append(str(path))
        report.orphan_bytes += path.lstat().st_size


def _check_store(root: Root, dbs: Databases, report: VerifyReport,
                 progress: Progress, record: bool) -> set[str]:
    """Every blob a state's tree links, against its record; one without a record (a
    root real moss built, an emptied ``extras``) against its name, then recorded
    (``record``: verify can write).  A blob only paths a subscription left out use
    may have left the store (:mod:`moss.states.culled`): not damage."""
    assets = dbs.layout.all_assets()
    unrecorded = {digest_hex(d) for d in tree_digests(dbs)} - set(assets)
    unrecorded.discard(digest_hex(EMPTY_DIGEST))
    progress.start("Verifying store", len(assets) + len(unrecorded), "files")
    damaged = set()
    vouched = []
    for digest in sorted({*assets, *unrecorded}):
        path = asset_path(root, int(digest, 16))
        if not is_regular_blob(path):
            report.problems.append(Problem(str(path), "asset missing from the store (or "
                                                      "not a regular file)"))
            damaged.add(digest)
        elif digest in unrecorded:
            row = vouch_for(root, int(digest, 16))
            if row is None:
                report.problems.append(Problem(str(path), "asset content does not match its "
                                                          "name (XXH3-128)"))
                damaged.add(digest)
            else:
                vouched.append(row)
        elif blake3_file(path) != assets[digest]:
            report.problems.append(Problem(str(path), "asset content does not match its BLAKE3"))
            damaged.add(digest)
        report.assets += 1
        progress.advance()
    progress.done()
    if record and vouched:
        # Intact as read, perhaps only in the page cache (an install killed before its
        # syncfs): durable before it is recorded, as every blob is.
        fs.sync_interruptibly(root.assets)
        dbs.layout.add_assets(vouched)
    return damaged


def _repair_blobs(root: Root, dbs: Databases, damaged: set[str], report: VerifyReport
                  ) -> set[int]:
    """Re-extract damaged blobs from any cached package that carries them; the lost ones."""
    wanted = {int(d, 16) for d in damaged}
    sources = [(p, root.cached_package(p)) for p in dbs.install.all_packages()]
    restored = restore_blobs(root, dbs, wanted, sources, damaged)
    for digest, path in restored:
        report.repaired.append(f"asset {digest} from {path.name}")
    for lost in wanted:
        report.unrepaired.append(Problem(str(asset_path(root, lost)),
                                         "no cached package holds this asset"))
    return wanted


def _check_tree(root: Root, dbs: Databases, state_id: int, report: VerifyReport,
                damaged: set[str]) -> Iterator[_Broken]:
    active = read_state_id(root.usr) == state_id
    usr = root.usr if active else root.archived_usr(state_id)
    if read_state_id(usr) != state_id:
        report.problems.append(Problem(str(usr / STATE_ID_FILE), f"not state {state_id}"))
        return
    damaged_digests = {int(d, 16) for d in damaged}
    selected = selection_of(dbs, state_id)
    plan = plan_tree((s.meta.name, dbs.layout.entries(s.id)) for s in selected.values())
    # Left out by the state's subscriptions, or rewritten by depmod: not damage.
    filtered = dbs.state.filtered(state_id)
    for target, placed in plan.files.items():
        if target in filtered or placed.entry.file_kind in NEVER_CREATED:
            continue
        report.files += 1
        problem = parent_problem(usr, target) or _check_entry(root, usr / target, placed.entry,
                                                               damaged_digests)
        if problem is None:
            continue
        report.problems.append(Problem(str(usr / target), problem))
        yield _Broken(usr, target, placed.entry)
    for target in plan.directories:
        if target in filtered:
            continue
        if not (usr / target).is_dir() or (usr / target).is_symlink():
            report.problems.append(Problem(str(usr / target), "directory missing"))
            yield _Broken(usr, target, None)


def _check_entry(root: Root, path: Path, entry: LayoutEntry,
                 damaged: set[int]) -> str | None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return "missing"
    if entry.file_kind == FileKind.SYMLINK:
        if not stat.S_ISLNK(st.st_mode):
            return "should be a symlink"
        return None if os.readlink(path) == entry.source else "symlink points elsewhere"
    if entry.file_kind == FileKind.FIFO:
        if not stat.S_ISFIFO(st.st_mode):
            return "should be a fifo"
        return _mode_problem(st, entry)
    if entry.file_kind != FileKind.REGULAR:
        return None
    if not stat.S_ISREG(st.st_mode):
        return "should be a regular file"
    if problem := _mode_problem(st, entry):
        return problem
    if entry.digest == EMPTY_DIGEST:
        return None if st.st_size == 0 else "should be empty"
    blob = asset_path(root, entry.digest)
    try:
        if os.stat(blob).st_ino == st.st_ino:  # the same inode as the store's, checked
            return "content damaged, as its asset in the store" if entry.digest in damaged else None
        same = blake3_file(blob) == blake3_file(path)
    except FileNotFoundError:
        return "its asset is missing from the store"
    return None if same else "content differs from its asset"


def _mode_problem(st: os.stat_result, entry: LayoutEntry) -> str | None:
    if stat.S_IMODE(st.st_mode) != entry.mode & 0o7777:
        return f"mode {stat.S_IMODE(st.st_mode):o}, expected {entry.mode & 0o7777:o}"
    return None
