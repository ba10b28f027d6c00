"""Culled files: out of the store once no state's tree uses them, and back on demand.

A subscription leaves paths out of a state's tree (recorded per state as
``dropped``).  The layout database keeps every entry, but a blob that only
dropped paths name is used by no tree: :func:`tree_digests` lets garbage
collection (``state prune``, ``cache prune``) take it, which is where
``locales`` and ``docs`` off save space in the store and not only in ``/usr``.

A later transaction that wants such a path again (``subscription remove
locales``, ``add docs``) calls :func:`restore_missing` before building the
tree: the blobs come back from the cached ``.stone`` files first, and only
packages no longer cached are downloaded from the repositories that offer them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from moss.core.errors import MossError
from moss.core.progress import QUIET, Progress
from moss.core.root import Root
from moss.db.databases import Databases
from moss.planning.selection import Selected, selection_of
from moss.planning.sysmodel import repositories
from moss.repo.cache import cached_path, fetch_packages
from moss.repo.index import downloads_for, load_offers
from moss.stone import EMPTY_DIGEST, FileKind, digest_hex
from moss.store.assets import asset_path
from moss.store.restore import restore_blobs
from moss.subscriptions.step import DROPPED


def tree_digests(dbs: Databases, states: Iterable[int] | None = None) -> set[int]:
    """The blobs the trees of ``states`` (default: every state) link to.

    A state that left nothing out uses every blob of its packages; one that did
    uses those of the paths it kept.  Blobs a depmod rewrote stay: cheap, and
    the shipped file is what a rebuild starts from.
    """
    ids = dbs.state.ids() if states is None else list(states)
    dropped = {s: {t for t, why in dbs.state.filtered(s).items() if why == DROPPED}
               for s in ids}
    if states is None and not any(dropped.values()):
        return dbs.layout.referenced_digests()  # every package is some state's
    whole: set[str] = set()  # packages some state keeps entirely
    partial: dict[str, list[set[str]]] = {}  # package -> the drops of states culling it
    for state_id, paths in dropped.items():
        for selected in selection_of(dbs, state_id).values():
            if paths:
                partial.setdefault(selected.id, []).append(paths)
            else:
                whole.add(selected.id)
    used: set[int] = set()
    for package in whole | set(partial):
        for entry in dbs.layout.entries(package):
            if entry.file_kind != FileKind.REGULAR or entry.digest == EMPTY_DIGEST:
                continue
            if package in whole or any(entry.target not in p for p in partial[package]):
                used.add(entry.digest)
    return used


def restore_missing(root: Root, dbs: Databases, digests: Iterable[int],
                    selected: Mapping[str, Selected], cache: Path,
                    progress: Progress = QUIET) -> int:
    """Put back into the store the blobs of ``digests`` it lacks; returns how many.

    Cached packages first (the root's cache, then ``cache``); what no cached
    package holds is downloaded from the repositories offering its package.
    """
    # A blob with a row but no file is damage, which check_blobs reports; one
    # without a row left the store, or was stored by real moss (which keeps no
    # rows): only those are looked for on disk.
    stored = dbs.layout.all_assets()
    missing = {d for d in set(digests) if digest_hex(d) not in stored
               and not asset_path(root, d).exists()}
    if not missing:
        return 0
    wanted = set(missing)
    owners = [s for s in selected.values() if any(
        e.file_kind == FileKind.REGULAR and e.digest in missing
        for e in dbs.layout.entries(s.id))]
    sources = [(s.id, path) for s in owners
               for path in (root.cached_package(s.id), cached_path(cache, s.id))]
    restore_blobs(root, dbs, wanted, sources)
    if wanted:
        _download(root, dbs, wanted, owners, cache, progress)
    if wanted:
        names = sorted({s.meta.name for s in owners})
        raise MossError(f"{len(wanted)} file(s) of {', '.join(names)} left the store and "
                        "no cached package or repository has them: reinstall the package")
    return len(missing)


def _download(root: Root, dbs: Databases, wanted: set[int], owners: list[Selected],
              cache: Path, progress: Progress) -> None:
    """Fetch the owners still needed from the repositories that offer them (same sha256)."""
    needed = {s.id for s in owners if any(
        e.file_kind == FileKind.REGULAR and e.digest in wanted for e in dbs.layout.entries(s.id))}
    repos = repositories(root.path)
    offers = [o for o in load_offers(root.path, repos)
              if o.meta.hash and o.meta.hash.lower() in needed]
    unique = {o.meta.hash.lower(): o for o in offers if o.meta.hash}
    if not unique:
        return
    paths = fetch_packages(downloads_for(repos, list(unique.values())), cache, progress)
    restore_blobs(root, dbs, wanted, [(sha, paths[sha]) for sha in unique])
