"""``moss state verify``: re-hash the store and check every state's tree.

The store is checked against the BLAKE3 recorded when each blob entered it;
each tree is compared entry by entry with the layouts of its selection.  With
``repair``, damaged blobs are re-extracted from the cached ``.stone`` files
(verified again on the way) and damaged tree entries are recreated by a
temp-name + rename, so a repair can itself be interrupted safely.

Special files follow the blit: a FIFO must be a FIFO with its mode, and is
recreated with ``mkfifo``; device nodes and sockets are never created (a
package shipping one is refused at install), so an entry of those kinds, from
a state recorded before that rule, is not looked for.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from moss.core.errors import MossError
from moss.core.hashing import blake3_file
from moss.core.progress import QUIET, Progress
from moss.core.root import STATE_ID_FILE, Root, read_state_id
from moss.db.databases import Databases
from moss.planning.selection import selection_of
from moss.states.consistency import disagreements
from moss.states.mutating import mutating
from moss.states.repair import make_directory, parent_problem, recreate
from moss.stone import EMPTY_DIGEST, FileKind, LayoutEntry, StoneError, digest_hex, open_stone
from moss.store.assets import asset_path, batch, is_regular_blob, orphaned_blobs, vouch_for
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
    orphans: list[str] = field(default_factory=list)
    orphan_bytes: int = 0


def verify(root_path: Path, repair: bool = False, progress: Progress = QUIET) -> VerifyReport:
    root = Root(root_path)
    report = VerifyReport()
    with mutating(root, progress=progress, refuse_disagreement=False) as dbs:
        disagreeing = disagreements(root, dbs)
        for line in disagreeing:
            report.problems.append(Problem(str(root.path), line))
        if disagreeing:
            return report  # trees and rows cannot be paired: `state rebuild` first
        damaged = _check_store(root, dbs, report, progress)
        if repair and damaged:
            _repair_blobs(root, dbs, damaged, report)
        for state_id in dbs.state.ids():
            _check_tree(root, dbs, state_id, report, repair)
        _find_orphans(root, dbs, report)
    return report


def _find_orphans(root: Root, dbs: Databases, report: VerifyReport) -> None:
    referenced = {digest_hex(d) for d in dbs.layout.referenced_digests()}
    for path in orphaned_blobs(root, referenced):
        report.orphans.append(str(path))
        report.orphan_bytes += path.lstat().st_size


def _check_store(root: Root, dbs: Databases, report: VerifyReport,
                 progress: Progress) -> set[str]:
    """Every blob a layout names, against its record; one without a record (a
    root real moss built, an emptied ``extras``) against its name, then recorded."""
    assets = dbs.layout.all_assets()
    unrecorded = {digest_hex(d) for d in dbs.layout.referenced_digests()} - set(assets)
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
    dbs.layout.add_assets(vouched)
    return damaged


def _repair_blobs(root: Root, dbs: Databases, damaged: set[str], report: VerifyReport) -> None:
    """Re-extract damaged blobs from any cached package that carries them."""
    wanted = {int(d, 16) for d in damaged}
    attributes = dbs.layout.asset_attributes()
    known = {d: b3 for d, b3 in dbs.layout.all_assets().items() if d not in damaged}
    for package in dbs.install.all_packages():
        cached = root.cached_package(package)
        if not wanted or not cached.exists():
            continue
        try:
            with open_stone(cached) as reader, batch(root) as scratch:
                for entry, chunks in reader.iter_content():
                    if entry.digest in wanted:
                        # The mode it was stored with, which the blit relies on.
                        recorded = attributes.get(entry.digest)
                        mode = recorded[0] if recorded else _mode_for(dbs, package, entry.digest)
                        asset_path(root, entry.digest).unlink(missing_ok=True)
                        scratch.add(entry.digest, chunks, mode, known)
                    else:
                        for _ in chunks:
                            pass
                rows = scratch.commit()
                dbs.layout.add_assets(rows)  # ignored where a record exists already
                for row in rows:
                    wanted.discard(int(row[0], 16))
                    report.repaired.append(f"asset {row[0]} from {cached.name}")
        except StoneError as exc:
            raise MossError(f"cached package {cached} is damaged too: {exc}") from exc
    for lost in wanted:
        report.problems.append(Problem(digest_hex(lost), "no cached package holds this asset"))


def _mode_for(dbs: Databases, package: str, digest: int) -> int:
    for entry in dbs.layout.entries(package):
        if entry.file_kind == FileKind.REGULAR and entry.digest == digest:
            return entry.mode
    return 0o644


def _check_tree(root: Root, dbs: Databases, state_id: int, report: VerifyReport,
                repair: bool) -> None:
    active = read_state_id(root.usr) == state_id
    usr = root.usr if active else root.archived_usr(state_id)
    if read_state_id(usr) != state_id:
        report.problems.append(Problem(str(usr / STATE_ID_FILE), f"not state {state_id}"))
        return
    selected = selection_of(dbs, state_id)
    plan = plan_tree((s.meta.name, dbs.layout.entries(s.id)) for s in selected.values())
    # Left out by the state's subscriptions, or rewritten by depmod: not damage.
    filtered = dbs.state.filtered(state_id)
    for target, placed in plan.files.items():
        if target in filtered or placed.entry.file_kind in NEVER_CREATED:
            continue
        report.files += 1
        problem = parent_problem(usr, target) or _check_entry(root, usr / target, placed.entry)
        if problem is None:
            continue
        report.problems.append(Problem(str(usr / target), problem))
        if repair:
            recreate(root, usr, target, placed.entry)
            report.repaired.append(str(usr / target))
    for target in plan.directories:
        if target in filtered:
            continue
        if not (usr / target).is_dir() or (usr / target).is_symlink():
            report.problems.append(Problem(str(usr / target), "directory missing"))
            if repair:
                make_directory(usr, target)
                report.repaired.append(str(usr / target))


def _check_entry(root: Root, path: Path, entry: LayoutEntry) -> str | None:
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
        if os.stat(blob).st_ino == st.st_ino:
            return None  # the same inode as the store, whose content was checked
        same = blake3_file(blob) == blake3_file(path)
    except FileNotFoundError:
        return "its asset is missing from the store"
    return None if same else "content differs from its asset"


def _mode_problem(st: os.stat_result, entry: LayoutEntry) -> str | None:
    if stat.S_IMODE(st.st_mode) != entry.mode & 0o7777:
        return f"mode {stat.S_IMODE(st.st_mode):o}, expected {entry.mode & 0o7777:o}"
    return None
