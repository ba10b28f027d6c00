"""``moss cache prune``: what no state uses, shown before asking, as real moss's command.

Real moss (``moss/src/cli/cache.rs``) prunes "downloaded stones & unpacked asset
data for packages not in any state", and keeps the packages an active repository
still offers, so a later install or a rollback to them does not download again.
Here the same, plus the orphaned blobs an interrupted install leaves (``moss state
verify`` reports them) and downloads no package row names.  The plan is worked out
under the lock, shown, and confirmed before anything is deleted; ``--dry-run``
stops after showing it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from moss.core.progress import QUIET, Progress
from moss.core.root import Root
from moss.db.databases import Databases
from moss.planning.sysmodel import repositories
from moss.repo.index import load_offers
from moss.states.mutating import mutating
from moss.states.operations import collect_garbage, downloads
from moss.stone import EMPTY_DIGEST, FileKind, digest_hex
from moss.store.assets import stored_digests


@dataclass
class CachePlan:
    """What a cache prune deletes: packages no state uses (labels), their downloads
    and blobs, and downloads nobody names; ``kept`` counts the unused packages kept
    because an active repository offers them."""

    packages: list[str] = field(default_factory=list)
    downloads: list[Path] = field(default_factory=list)
    blobs: list[Path] = field(default_factory=list)
    kept: int = 0
    size: int = 0  # bytes freed
    done: bool = False  # deleted (not a dry run, not declined)

    @property
    def files(self) -> int:
        return len(self.downloads) + len(self.blobs)


def offered_packages(root_path: Path) -> set[str]:
    """The sha256 ids of every package an active repository offers."""
    offers = load_offers(root_path, [r for r in repositories(root_path) if r.active])
    return {o.meta.hash.lower() for o in offers if o.meta.hash}


def plan_prune(root: Root, dbs: Databases, offered: set[str]) -> CachePlan:
    """Read only: what :func:`prune_cache` would delete now."""
    used = dbs.state.referenced_packages()
    known = dbs.install.all_packages()
    unused = [p for p in known if p not in used]
    doomed = [p for p in unused if p not in offered]
    plan = CachePlan(kept=len(unused) - len(doomed))
    for package in doomed:
        meta = dbs.install.get(package)
        plan.packages.append(f"{meta.name}-{meta.version}-{meta.release}" if meta else package)
    gone = set(doomed)
    plan.downloads = [p for p in downloads(root) if p.name in gone
                      or (p.name not in known and p.name not in offered)]
    referenced = {digest_hex(e.digest) for p in known if p not in gone
                  for e in dbs.layout.entries(p)
                  if e.file_kind == FileKind.REGULAR and e.digest != EMPTY_DIGEST}
    plan.blobs = [path for name, path in stored_digests(root) if name not in referenced]
    plan.size = sum(p.lstat().st_size for p in [*plan.downloads, *plan.blobs])
    plan.packages.sort()
    return plan


def prune_cache(root_path: Path, confirm: Callable[[CachePlan], bool] | None = None,
                dry_run: bool = False, wait_for_lock: bool = True,
                progress: Progress = QUIET) -> CachePlan:
    """Work out the plan, ask ``confirm`` (unless ``dry_run``), then delete it."""
    root = Root(root_path)
    if not root.db.is_dir():
        return CachePlan()
    offered = offered_packages(root_path)
    with mutating(root, wait=wait_for_lock, progress=progress) as dbs:
        plan = plan_prune(root, dbs, offered)
        if not plan.files and not plan.packages:
            return plan
        if dry_run or (confirm is not None and not confirm(plan)):
            return plan
        collect_garbage(root, dbs, progress, keep=offered)
        for path in plan.downloads:  # those of the packages went already
            path.unlink(missing_ok=True)
        plan.done = True
        return plan
