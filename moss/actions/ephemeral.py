"""``install --to DIR`` and ``sync --to DIR``: real moss's ephemeral root.

Real moss's ``Client::ephemeral`` (moss/src/client/mod.rs) resolves against the
``-D`` root's repositories and active state, downloads into that root's cache
and store (so the root's ``install`` and ``layout`` databases learn the new
packages, as after any download), and then, instead of a new state, writes a
whole root into DIR: DIR is emptied and recreated, ``DIR/usr`` is built from
the store, ``usr/lib/os-release`` and ``usr/lib/system-model.kdl`` are written,
the root links (``bin``, ``lib``...) and ``etc`` are made, and the transaction
then system triggers run on DIR.  No state is recorded, no ``.stateID`` is
written, the root's ``/usr`` and boot entries are untouched.  boulder builds its
build roots this way.

What goes into DIR: for ``install``, the named packages and everything they
need (nothing else of the root's state); for ``sync``, the whole selection the
sync would make.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from moss import triggers
from moss.actions.transaction import (
    Options,
    Request,
    check_before_writing,
    plan_digests,
    plan_state_tree,
)
from moss.actions.transaction import prepare as prepare_transaction
from moss.core import fs
from moss.core.errors import MossError
from moss.core.root import Root, ensure_skeleton, update_root_links
from moss.db.databases import Databases
from moss.planning import resolve
from moss.planning.request import fetch
from moss.planning.selection import Change, Selected
from moss.planning.sysmodel import STATE_MODEL, repositories, state_model
from moss.repo.cache import cache_root
from moss.states.culled import restore_missing
from moss.states.mutating import mutating
from moss.store.ingest import unpack_packages
from moss.tree.blit import blit
from moss.tree.osrelease import record_os_release
from moss.tree.plan import TreePlan


@dataclass
class Outcome:
    """What an ephemeral run comes to: the packages in DIR, and whether it was written."""

    change: Change = field(default_factory=Change)
    written: bool = False
    entries: int = 0


def check_target(root_path: Path, target: Path) -> Path:
    """DIR as an absolute path, or a refusal before anything is read or written.

    Real moss refuses DIR being the root itself and fails when DIR is a file;
    it empties any existing directory.  A DIR that holds the root is refused
    too: emptying it would delete the root.
    """
    out = Path(os.path.abspath(target))
    real_out, real_root = Path(os.path.realpath(out)), Path(os.path.realpath(root_path))
    if real_out == real_root:
        raise MossError(f"--to {target}: that is the root itself (-D); an ephemeral root "
                        "goes into another directory")
    if real_root.is_relative_to(real_out):
        raise MossError(f"--to {target}: it holds the root {root_path}, and --to empties "
                        "its directory first")
    if os.path.lexists(out) and not out.is_dir():
        raise MossError(f"--to {target}: exists and is not a directory")
    return out


def run(root_path: Path, request: Request, target: Path, options: Options) -> Outcome:
    """Resolve, show, confirm, then build the root in ``target`` (see the module doc)."""
    out = check_target(root_path, target)
    root = Root(root_path)
    ensure_skeleton(root)
    with mutating(root, wait=options.wait_for_lock, progress=options.progress) as dbs:
        prepared = prepare_transaction(root, dbs, request, options)
        selected = prepared.selected if request.sync or request.model else closure(
            prepared.selected, request.names, set(prepared.wanted.local))
        outcome = Outcome(Change(added=sorted(label(s) for s in selected.values())))
        if not selected or options.dry_run:
            return outcome
        if options.confirm and not options.confirm(outcome.change):
            return outcome
        wanted, ids = prepared.wanted, {s.id for s in selected.values()}
        wanted.offers = {sha: o for sha, o in wanted.offers.items() if sha in ids}
        incoming = [p for p in fetch(root.path, wanted, options.cache, options.progress)
                    if p.id in ids]
        plan = plan_state_tree(dbs, selected, incoming)
        check_before_writing(root, dbs, incoming, plan)
        model = state_model(root.path, [s.meta for s in selected.values() if s.explicit],
                            request.model, repositories(root.path))
        unpack_packages(root, dbs, incoming, options.progress)
        # Every path, whatever this root's subscriptions: what they culled comes back.
        restore_missing(root, dbs, plan_digests(plan), selected,
                        cache_root(root.path, options.cache), options.progress)
        build(root, dbs, plan, out, model, options)
        outcome.written, outcome.entries = True, len(plan)
        return outcome


def closure(selected: dict[str, Selected], names: Sequence[str],
            local: set[str]) -> dict[str, Selected]:
    """The packages asked for (``names``: names or providers; ``local``: ids of local
    files) with what they need, taken from the selection an install would make;
    those asked for are explicit, as in real moss."""
    provides: dict[str, str] = {}
    for name, s in sorted(selected.items()):
        for key in resolve.provider_keys(s.meta):
            if key == name or key not in provides:
                provides[key] = name
    roots = {provides[n] for n in names if n in provides}
    roots |= {s.meta.name for s in selected.values() if s.id in local}
    plan = resolve.remove([s.meta for s in selected.values()], roots, [])
    kept = {m.name for m in plan.keep}
    return {n: Selected(s.id, s.meta, n in roots) for n, s in selected.items() if n in kept}


def build(root: Root, dbs: Databases, plan: TreePlan, out: Path, model: str,
          options: Options) -> None:
    """DIR from scratch, as real moss's ``blit_root`` and ``apply_ephemeral_blit``."""
    if os.path.lexists(out):
        fs.remove_tree(out)
    out.mkdir(mode=0o755, parents=True)
    usr = out / "usr"
    blit(root, plan, usr, options.progress, dbs.layout.asset_attributes())
    record_os_release(usr)
    fs.atomic_write(usr / STATE_MODEL, model.encode())
    update_root_links(Root(out))
    (out / "etc").mkdir(mode=0o755, exist_ok=True)
    triggers.run_transaction_triggers(out, usr, options.progress)
    triggers.run_system_triggers(out, options.progress)


def label(s: Selected) -> str:
    return f"{s.meta.name}-{s.meta.version}-{s.meta.release}"
