"""A repository's fetched index: ``ROOT/.moss/repo/<id>/stone.index``.

``update_repository`` fetches the index (and its ``.minisig`` when the
repository has a key) into a scratch directory, verifies and parses it there,
and only then renames it into place, so a failed update leaves the previous
index in use.
"""

from __future__ import annotations

import os
import tempfile
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from moss.core.errors import MossError
from moss.core.fs import fsync_dir, remove_tree
from moss.core.progress import QUIET, Progress
from moss.core.root import Root
from moss.repo import signature
from moss.repo.cache import Download
from moss.repo.config import Repository
from moss.repo.fetch import FetchOptions, download
from moss.stone import PackageMeta, StoneError, open_stone

INDEX_NAME = "stone.index"
SIGNATURE_SUFFIX = ".minisig"


@dataclass(frozen=True)
class Offer:
    """A package as a repository offers it, with what resolution needs to rank it."""

    meta: PackageMeta
    repository: str
    priority: int


def repo_dir(root: Path, repo_id: str) -> Path:
    return Root(root).repo_dir(repo_id)


def index_path(root: Path, repo_id: str) -> Path:
    return repo_dir(root, repo_id) / INDEX_NAME


def read_index(path: Path) -> list[PackageMeta]:
    """The PackageMeta records of a ``stone.index``; a damaged file is a MossError."""
    try:
        with open_stone(path) as reader:
            return list(reader.repository_metas())
    except StoneError as exc:
        raise MossError(f"{path}: not a valid repository index: {exc}") from None


def update_repository(
    root: Path,
    repo: Repository,
    progress: Progress = QUIET,
    *,
    options: FetchOptions | None = None,
) -> int:
    """Fetch, verify and install ``repo``'s index; returns how many packages it lists."""
    target = repo_dir(root, repo.id)
    target.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".update-", dir=target))
    progress.start(f"Updating {repo.id}", 1)
    try:
        new_index = scratch / INDEX_NAME
        download(repo.uri, new_index, options=options)
        new_signature = scratch / (INDEX_NAME + SIGNATURE_SUFFIX)
        if repo.key:
            _fetch_and_verify_signature(repo, new_index, new_signature, options)
        metas = read_index(new_index)
        for name in (INDEX_NAME + SIGNATURE_SUFFIX, INDEX_NAME):
            # Signature first: a crash in between leaves a signature that
            # matches nothing, which the next update simply replaces.
            if (scratch / name).exists():
                os.replace(scratch / name, target / name)
            elif name != INDEX_NAME:
                (target / name).unlink(missing_ok=True)
        fsync_dir(target)
        progress.advance()
        return len(metas)
    finally:
        progress.done()
        remove_tree(scratch, ignore_errors=True)


def _fetch_and_verify_signature(
    repo: Repository, index: Path, sig_path: Path, options: FetchOptions | None
) -> None:
    assert repo.key is not None
    sig_url = repo.uri + SIGNATURE_SUFFIX
    try:
        download(sig_url, sig_path, options=options)
    except MossError as exc:
        raise MossError(
            f"repository {repo.id!r} requires a signed index, but its signature "
            f"could not be fetched: {exc}"
        ) from None
    try:
        signature.verify(index, sig_path.read_text(errors="replace"), repo.key)
    except MossError as exc:
        raise MossError(f"repository {repo.id!r}: index signature rejected: {exc}") from None


def package_url(repo: Repository, meta_uri: str) -> str:
    """Package URIs in an index are relative to the index's own URL, as in real moss."""
    return urllib.parse.urljoin(repo.uri, meta_uri)


def load_offers(root: Path, repos: Sequence[Repository]) -> list[Offer]:
    """Every package of the active repositories whose index has been fetched."""
    offers: list[Offer] = []
    for repo in repos:
        path = index_path(root, repo.id)
        if repo.active and path.is_file():
            offers.extend(Offer(meta, repo.id, repo.priority) for meta in read_index(path))
    return offers


def downloads_for(repos: Sequence[Repository], offers: Sequence[Offer]) -> list[Download]:
    """Turn chosen offers into cache downloads (the index must give uri and hash)."""
    by_id = {r.id: r for r in repos}
    result = []
    for offer in offers:
        meta = offer.meta
        if not meta.uri or not meta.hash:
            raise MossError(f"{meta.name}: the index of {offer.repository!r} gives no uri or hash")
        url = package_url(by_id[offer.repository], meta.uri)
        result.append(Download(meta.name, url, meta.hash, meta.size))
    return result
