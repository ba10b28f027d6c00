"""The transaction pipeline: from a request to a new, live state.

Read top to bottom, ``run`` is the whole story.  Everything before ``unpack``
only reads, so a refused request changes nothing; every step after it can be
interrupted at any instant, and :func:`moss.states.recovery.recover` at the start of
the next run either completes or undoes what it finds.  Once the new state is live
it stays live: its triggers run, then its boot entries are synced, and a failure
of either is reported as such (:func:`moss.states.bootsync.after_change`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from moss import subscriptions, triggers
from moss.core import fs
from moss.core.faults import checkpoint
from moss.core.progress import QUIET, Progress
from moss.core.root import STATE_ID_FILE, Root, ensure_skeleton, read_state_id, undone_without_state
from moss.db import extras
from moss.db.databases import Databases
from moss.planning import request as planning
from moss.planning.request import Wanted, fetch, resolve_request
from moss.planning.selection import Change, Selected, apply_changes, selection_of, to_selections
from moss.planning.sysmodel import STATE_MODEL, SystemModel, repositories, state_model
from moss.repo.cache import cache_root, cached_path
from moss.states.bootsync import after_change
from moss.states.culled import restore_missing
from moss.states.deferral import (
    carried_note,
    discard_superseded,
    reboot_needed,
    should_defer,
    stage_pending,
)
from moss.states.mutating import mutating
from moss.states.recovery import state_tree_ids
from moss.states.window import finish_switch, go_live
from moss.stone import EMPTY_DIGEST, FileKind
from moss.store import space
from moss.store.assets import check_blobs
from moss.store.incoming import IncomingPackage, read_package
from moss.store.ingest import unpack_packages
from moss.tree.blit import blit
from moss.tree.osrelease import record_os_release
from moss.tree.plan import TreePlan, plan_tree


@dataclass
class Request:
    install: Sequence[Path] = ()  # local .stone files
    names: Sequence[str] = ()  # names or providers, from the repositories
    remove: Sequence[str] = ()
    sync: bool = False  # bring everything to what the repositories offer
    upgrade_only: bool = False  # with sync: never downgrade
    summary: str = ""
    # Subscription choices for this state (default: ROOT/etc/moss/subscriptions.yaml).
    subscriptions: subscriptions.Choices | None = None
    rebuild: bool = False  # build a new state even if no package changes
    model: SystemModel | None = None  # exactly this system model (``sync --import``)


@dataclass
class Options:
    progress: Progress = QUIET
    dry_run: bool = False
    wait_for_lock: bool = True
    defer: bool | None = None  # None: defer kernel updates only under a running system
    skip_boot: bool = False  # do not sync managed boot entries
    cache: Path | None = None  # where downloads go (default ROOT/.moss/cache)
    # Shown the change before anything is written; returning False cancels.
    confirm: Callable[[Change], bool] | None = None


@dataclass
class Outcome:
    change: Change = field(default_factory=Change)
    state_id: int | None = None
    previous: int | None = None
    cancelled: bool = False
    deferred: bool = False  # built and pending: a reboot applies it


@dataclass
class Prepared:
    """What a request comes to, worked out before anything is written."""

    running: int | None  # the state of the live /usr
    pending: int | None  # a staged update this transaction builds on and replaces
    wanted: Wanted
    selected: dict[str, Selected]
    change: Change


def run(root_path: Path, request: Request, options: Options) -> Outcome:
    """Prepare, ask, apply.  On a fresh root, everything the run created goes again
    unless it made a state (:func:`moss.core.root.undone_without_state`)."""
    root = Root(root_path)
    with undone_without_state(root):
        ensure_skeleton(root)
        with mutating(root, wait=options.wait_for_lock, progress=options.progress) as dbs:
            prepared = prepare(root, dbs, request, options)
            outcome = Outcome(prepared.change, previous=prepared.running)
            if prepared.change.is_empty() and not request.rebuild:
                return outcome
            if options.dry_run or (options.confirm and not options.confirm(prepared.change)):
                outcome.cancelled = not options.dry_run
                return outcome
            return apply(root, dbs, request, options, prepared)


def prepare(root: Root, dbs: Databases, request: Request, options: Options) -> Prepared:
    """The new selection and the change it makes; reads only, so a refusal changes nothing."""
    running = read_state_id(root.usr)
    pending = dbs.state.pending()
    current = selection_of(dbs, pending or running)
    subscribed = subscriptions.subscribed_packages(root, dbs, current, request.subscriptions)
    wanted = resolve_request(planning.Request(
        root=root.path, current=current, local=[read_package(p) for p in request.install],
        names=request.names, subscribed=subscribed.names,
        subpackages=subscribed.subpackages, remove=request.remove,
        sync=request.sync, upgrade_only=request.upgrade_only, model=request.model,
    ))
    selected, change = apply_changes(current, wanted.install, wanted.remove, wanted.mark)
    if wanted.explicit is not None:  # a system model says exactly what is explicit
        selected = {n: replace(s, explicit=n in wanted.explicit) for n, s in selected.items()}
    cache = cache_root(root.path, options.cache)
    change.download_size = wanted.download_size(cache)
    change.disk_size, change.disk_unknown = disk_change(root, wanted, cache)
    if pending is not None:
        change.carried = carried_note(dbs, running, pending, now=options.defer is False)
    return Prepared(running, pending, wanted, selected, change)


def disk_change(root: Root, wanted: Wanted, cache: Path) -> tuple[int, int]:
    """What the transaction adds to the disk, for the plan: downloads, and the new blobs of
    every package at hand (local or cached; a blob the store holds costs nothing); with
    the number of packages whose files are not counted because they are not fetched yet."""
    at_hand = list(wanted.local.values())
    unknown = 0
    for sha in wanted.offers:
        path = cached_path(cache, sha)
        if path.exists():
            at_hand.append(read_package(path))
        else:
            unknown += 1
    needs = space.unpack_needs(root, at_hand)
    return wanted.download_size(cache) + sum(n.size for n in needs), unknown


def apply(root: Root, dbs: Databases, request: Request, options: Options,
          prepared: Prepared) -> Outcome:
    """Fetch, unpack, build and go live; recovery finishes or undoes any interruption."""
    cache = cache_root(root.path, options.cache)
    space.check([space.Need(cache, prepared.change.download_size)])
    incoming = fetch(root.path, prepared.wanted, options.cache, options.progress,
                     has_package=dbs.layout.has, warn=_warn)
    plan = plan_state_tree(dbs, prepared.selected, incoming)
    check_before_writing(root, dbs, incoming, plan)
    # Worked out (and any bad /etc/moss/system-model.kdl refused) before anything is written.
    model = state_model(root.path, [s.meta for s in prepared.selected.values() if s.explicit],
                        request.model, repositories(root.path))
    deferred = should_defer(root, options.defer,
                            reboot_needed(dbs, prepared.running, plan, prepared.selected),
                            prepared.pending)
    checkpoint("tx:planned")
    unpack_packages(root, dbs, incoming, options.progress, warn=_warn)
    checkpoint("tx:unpacked")
    plan, filtered = subscriptions.apply(root, plan, prepared.selected, request.subscriptions)
    restore_missing(root, dbs, plan_digests(plan), prepared.selected, cache, options.progress)
    state_id = record_state(root, dbs, prepared.selected,
                            request.summary or describe(prepared.change), filtered)
    checkpoint("tx:recorded")
    build_and_check_tree(root, dbs, plan, state_id, options.progress, filtered, model)
    if deferred:
        stage_pending(root, dbs, state_id)
    else:
        go_live(root, dbs, root.staging_usr, state_id)
        dbs.extras.record_activation(state_id, extras.TRANSACTION, prepared.running)
    discard_superseded(root, dbs, prepared.pending, state_id)
    checkpoint("tx:activated")
    # From here the state is in effect: what fails next is reported, never undone.
    if deferred:
        after_change(root, dbs, f"state {state_id} is staged for the next boot", live=False,
                     skip_boot=options.skip_boot, progress=options.progress)
    else:
        finish_switch(root, dbs, f"state {state_id} is active", skip_boot=options.skip_boot,
                      progress=options.progress)
    return Outcome(prepared.change, state_id, prepared.running, deferred=deferred)


def _warn(line: str) -> None:
    print(f"moss: warning: {line}", file=sys.stderr)


def plan_state_tree(
    dbs: Databases, selected: dict[str, Selected], incoming: Sequence[IncomingPackage]
) -> TreePlan:
    """Merge the layouts of the new selection; refuses conflicts and escapes, and
    says on stderr what it accepted as real moss does (a path shipped twice alike)."""
    fresh = {p.id: p.layout for p in incoming}
    plan = plan_tree(
        (s.meta.name, fresh[s.id] if s.id in fresh else dbs.layout.entries(s.id))
        for s in sorted(selected.values(), key=lambda s: s.meta.name)
    )
    for warning in plan.warnings:
        print(f"moss: warning: {warning}", file=sys.stderr)
    return plan


def check_before_writing(root: Root, dbs: Databases, incoming: Sequence[IncomingPackage],
                         plan: TreePlan) -> None:
    """Room for what comes in, and a store whose blobs are still what was recorded:
    refused now, nothing has been written yet."""
    space.check([*space.unpack_needs(root, incoming), tree_need(root, plan)])
    brought = {e.digest for p in incoming for e in p.layout if e.file_kind == FileKind.REGULAR}
    check_blobs(root, dbs.layout, plan_digests(plan), brought, restorable=True)


def tree_need(root: Root, plan: TreePlan) -> space.Need:
    """A new tree shares its files' inodes with the store; its directories and
    symlinks are new (and empty files, created fresh)."""
    entries = len(plan.directories) + sum(
        1 for placed in plan.files.values() if placed.entry.file_kind is not FileKind.REGULAR
        or placed.entry.digest == EMPTY_DIGEST
    )
    return space.Need(root.states_dir, entries * space.BLOCK, entries)


def plan_digests(plan: TreePlan) -> list[int]:
    """The store blobs a tree of ``plan`` links to."""
    return [p.entry.digest for p in plan.files.values()
            if p.entry.file_kind == FileKind.REGULAR and p.entry.digest != EMPTY_DIGEST]


def record_state(root: Root, dbs: Databases, selected: dict[str, Selected],
                 summary: str, filtered: subscriptions.Filtered) -> int:
    """A new state row; its id is above every id the database or the disk knows.

    This moss's extras for the state go first and real moss's row last: a crash
    between leaves extras naming no state, which recovery sweeps.
    """
    state_id = dbs.state.next_id(max(state_tree_ids(root), default=0) + 1)
    created = int(time.time())
    dbs.extras.claim(state_id, created)
    subscriptions.record(dbs, state_id, filtered)
    checkpoint("tx:extras-recorded")
    return dbs.state.add(summary, to_selections(selected), created=created, state_id=state_id)


def build_and_check_tree(root: Root, dbs: Databases, plan: TreePlan, state_id: int,
                         progress: Progress,
                         filtered: subscriptions.Filtered | None = None,
                         model: str | None = None) -> None:
    """Blit into staging, write its os-release (from os-info.json) and system
    model (``model``) as real moss does, and run the transaction triggers on it.

    The ``.stateID`` written after the blit marks the tree complete.  If the blit
    or a trigger fails, the state is abandoned (tree and row) and nothing changed.
    """
    try:
        if root.staging.exists():
            fs.remove_tree(root.staging)
        root.staging.mkdir(parents=True)
        blit(root, plan, root.staging_usr, progress, dbs.layout.asset_attributes())
        if filtered is not None:
            subscriptions.regenerate_module_metadata(root.staging_usr, filtered)
        record_os_release(root.staging_usr)
        if model is not None:
            fs.atomic_write(root.staging_usr / STATE_MODEL, model.encode())
        fs.atomic_write(root.staging_usr / STATE_ID_FILE, str(state_id).encode())
        checkpoint("tx:built")
        triggers.run_transaction_triggers(root.path, root.staging_usr, progress)
    except BaseException:
        abandon(root, dbs, state_id)
        raise


def abandon(root: Root, dbs: Databases, state_id: int) -> None:
    """Undo a state that failed before it went live: its tree and its row."""
    fs.remove_tree(root.staging, ignore_errors=True)
    dbs.state.remove([state_id])


def describe(change: Change) -> str:
    parts = []
    if change.added:
        parts.append("install " + ", ".join(change.added))
    if change.replaced:
        parts.append("replace " + ", ".join(f"{a} with {b}" for a, b in change.replaced))
    if change.removed:
        parts.append("remove " + ", ".join(change.removed))
    if change.marked:
        parts.append("keep as asked for " + ", ".join(change.marked))
    return "; ".join(parts)
