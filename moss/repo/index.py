"""A repository's fetched index: ``ROOT/.moss/repo/<hash>/stone.index``.

The folder is real moss's (:func:`moss.repo.config.cache_dir`); an index that an
older moss fetched into ``.moss/repo/<id>/`` is still read until the next update.
A versioned repository's index URI is resolved from its root index first
(:mod:`moss.repo.rootindex`) and kept in ``index-uri`` beside it.

``update_repository`` fetches the index (and its ``.minisig`` when the
repository has a key) into a scratch directory, verifies and parses it there,
and only then renames it into place, so a failed update leaves the previous
index in use.

Freshness (:mod:`moss.repo.freshness`): a signed index older than the newest
its signing key has vouched for is refused unless the user passes ``allow_older``.
Unsigned repositories have no such guarantee.

Reading an index (:func:`load_offers`, what queries do) loads neither the fetcher nor
the signature code: they are imported by the functions that fetch (issue 18).
"""

from __future__ import annotations

import os
import tempfile
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from moss.core.errors import MossError
from moss.core.fs import atomic_write, fsync_dir, remove_tree
from moss.core.progress import QUIET, Progress
from moss.core.root import REPO_INDEX_NAME, Root
from moss.repo import rootindex
from moss.repo.config import Repository, cache_dir
from moss.repo.metadb import write_meta_db
from moss.stone.errors import StoneError

if TYPE_CHECKING:
    from moss.repo.cache import Download
    from moss.repo.fetch import FetchOptions
    from moss.stone import PackageMeta

INDEX_NAME = REPO_INDEX_NAME
SIGNATURE_SUFFIX = ".minisig"


@dataclass(frozen=True)
class Offer:
    """A package as a repository offers it, with what resolution needs to rank it."""

    meta: PackageMeta
    repository: str
    priority: int


def index_path(root: Path, repo: Repository) -> Path:
    """Where ``repo``'s fetched index lies under ``root``: real moss's folder, else the
    ``.moss/repo/<id>/`` an older moss used, while that is the only one there."""
    path = cache_dir(root, repo) / INDEX_NAME
    legacy = Root(root).repo_index(repo.id)
    return legacy if not path.is_file() and legacy.is_file() else path


def resolve_uri(repo: Repository, target: Path, options: FetchOptions | None) -> Repository:
    """A versioned repository with today's index URI (recorded once its index is in place)."""
    from moss.repo.fetch import download

    if repo.root_index is None:
        return repo
    source = repo.root_index
    scratch = Path(tempfile.mkdtemp(prefix=".root-", dir=target))
    try:
        download(source.uri(), scratch / rootindex.ROOT_INDEX_NAME, options=options)
        text = (scratch / rootindex.ROOT_INDEX_NAME).read_bytes()
    finally:
        remove_tree(scratch, ignore_errors=True)
    index = rootindex.parse_root_index(text, source.uri())
    return replace(repo, uri=rootindex.resolve_index_uri(source, index, repo.id))


def read_index(path: Path) -> list[PackageMeta]:
    """The PackageMeta records of a ``stone.index``; a damaged file is a MossError."""
    from moss.stone.reader import open_stone

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
    allow_older: bool = False,
) -> int:
    """Fetch, verify and install ``repo``'s index; returns how many packages it lists.

    A signed index older than its key's newest is refused unless ``allow_older``.
    """
    from moss.repo import freshness
    from moss.repo.fetch import download

    target = cache_dir(root, repo)
    target.mkdir(parents=True, exist_ok=True)
    repo = resolve_uri(repo, target, options)
    scratch = Path(tempfile.mkdtemp(prefix=".update-", dir=target))
    progress.start(f"Updating {repo.id}", 1)
    try:
        new_index = scratch / INDEX_NAME
        download(repo.uri, new_index, options=options)
        trusted = _fetch_and_verify_signature(
            repo, new_index, scratch / (INDEX_NAME + SIGNATURE_SUFFIX), options) if repo.key else ""
        stamp = freshness.check_freshness(root, repo, target, trusted,
                                          allow_older) if repo.key else None
        metas = _read_fetched_index(repo, new_index)
        if repo.key:
            freshness.record_timestamp(root, repo, target, stamp, allow_older)
        # Real moss reads packages from its meta database, and fetches only when the
        # index is missing: the database goes in first, so an index never lacks one.
        # Its stat survives the rename: it tells queries the db is current (metacache).
        write_meta_db(target, metas, new_index.stat())
        for name in (INDEX_NAME + SIGNATURE_SUFFIX, INDEX_NAME):
            # Signature first: a crash in between leaves a signature that
            # matches nothing, which the next update simply replaces.
            if (scratch / name).exists():
                os.replace(scratch / name, target / name)
            elif name != INDEX_NAME:
                (target / name).unlink(missing_ok=True)
        if repo.root_index is not None:
            # After the index: packages are fetched relative to the URI recorded here.
            atomic_write(target / "index-uri", repo.uri.encode())
        fsync_dir(target)
        progress.advance()
        return len(metas)
    finally:
        progress.done()
        remove_tree(scratch, ignore_errors=True)


def _read_fetched_index(repo: Repository, path: Path) -> list[PackageMeta]:
    """The fetched index's packages; a bad one is named by its URL, not a scratch path."""
    from moss.stone.reader import open_stone

    try:
        with open_stone(path) as reader:
            return list(reader.repository_metas())
    except StoneError as exc:
        with path.open("rb") as f:
            head = f.read(512).lstrip().lower()
        web_page = head.startswith((b"<!doctype html", b"<html", b"<head", b"<body"))
        why = "the server returned a web page" if web_page else str(exc).replace(f"{path}: ", "")
        raise MossError(
            f"repository {repo.id!r}: {repo.uri} is not a valid repository index ({why}); "
            "check the URL: it should name the index file, e.g. .../stone.index"
        ) from None


def _fetch_and_verify_signature(
    repo: Repository, index: Path, sig_path: Path, options: FetchOptions | None
) -> str:
    """Fetch the ``.minisig`` and check it; returns its (signed) trusted comment."""
    from moss.repo import signature
    from moss.repo.fetch import download

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
        return signature.verify(index, sig_path.read_text(errors="replace"), repo.key)
    except MossError as exc:
        raise MossError(f"repository {repo.id!r}: index signature rejected: {exc}") from None


def package_url(repo: Repository, meta_uri: str) -> str:
    """Package URIs in an index are relative to the index's own URL, as in real moss.

    An index may name packages on its own server only: an ``http://`` index that
    says ``file:///etc/shadow`` (or another host, or another scheme) would make
    moss read the machine's files or fetch from anywhere the index's author likes.
    """
    url = urllib.parse.urljoin(repo.uri, meta_uri)
    base, got = urllib.parse.urlsplit(repo.uri), urllib.parse.urlsplit(url)
    if (got.scheme, got.netloc) != (base.scheme, base.netloc):
        raise MossError(
            f"the index of {repo.id!r} names a package at {url!r}, outside its own "
            f"server {base.scheme}://{base.netloc}; refused"
        )
    return url


def load_offers(root: Path, repos: Sequence[Repository]) -> list[Offer]:
    """Every package of the active repositories whose index has been fetched."""
    offers: list[Offer] = []
    for repo in repos:
        path = index_path(root, repo)
        if repo.active and path.is_file():
            offers.extend(Offer(meta, repo.id, repo.priority) for meta in read_index(path))
    return offers


def downloads_for(repos: Sequence[Repository], offers: Sequence[Offer]) -> list[Download]:
    """Turn chosen offers into cache downloads (the index must give uri and hash)."""
    from moss.repo.cache import Download

    by_id = {r.id: r for r in repos}
    result = []
    for offer in offers:
        meta = offer.meta
        if not meta.uri or not meta.hash:
            raise MossError(f"{meta.name}: the index of {offer.repository!r} gives no uri or hash")
        url = package_url(by_id[offer.repository], meta.uri)
        result.append(Download(meta.name, url, meta.hash, meta.size))
    return result
