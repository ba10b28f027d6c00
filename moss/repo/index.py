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
import shutil
import tempfile
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from moss.core.errors import MossError
from moss.core.fs import atomic_write, fsync_dir, remove_tree
from moss.core.heap import long_lived
from moss.core.progress import QUIET, Progress
from moss.repo import rootindex
from moss.repo.config import Repository, cache_dir
from moss.repo.indexpath import INDEX_NAME as INDEX_NAME
from moss.repo.indexpath import index_path as index_path
from moss.repo.metadb import write_meta_db
from moss.stone.errors import StoneError

if TYPE_CHECKING:
    from moss.repo.cache import Download
    from moss.repo.fetch import Fetched, FetchOptions, Validators
    from moss.stone import PackageMeta

SIGNATURE_SUFFIX = ".minisig"


@dataclass(frozen=True)
class Offer:
    """A package as a repository offers it, with what resolution needs to rank it."""

    meta: PackageMeta
    repository: str
    priority: int


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

    A signed index older than its key's newest is refused unless ``allow_older``
    (:mod:`moss.repo.freshness`).  The index is asked for conditionally
    (:mod:`moss.repo.revalidate`): on a 304 the index in use is checked again as if
    it had just been fetched (signature and freshness included), and when its
    signature did not change either, nothing is rewritten.
    """
    target = cache_dir(root, repo)
    target.mkdir(parents=True, exist_ok=True)
    repo = resolve_uri(repo, target, options)
    if repo.mirrors:
        return _update_from_mirrors(root, target, repo, progress, options, allow_older)
    return _update_from(root, target, repo, progress, options, allow_older)


def _update_from_mirrors(root: Path, target: Path, repo: Repository, progress: Progress,
                         options: FetchOptions | None, allow_older: bool) -> int:
    """Try the repository's URIs in :func:`moss.repo.mirrors.order`; each one that fails
    or serves an index that is refused gets a penalty, and the next is asked.  Only
    the last one asked is retried: the others are worth moving on from at once."""
    from moss.repo import mirrors
    from moss.repo.fetch import FetchOptions

    failures: list[str] = []
    urls = mirrors.order(target, repo.candidates())
    for number, url in enumerate(urls):
        patience = options if number == len(urls) - 1 else replace(
            options or FetchOptions(), retries=0)
        try:
            count = _update_from(root, target, replace(repo, uri=url), progress, patience,
                                 allow_older)
        except MossError as exc:
            mirrors.penalize(target, url, str(exc))
            failures.append(str(exc))
            continue
        mirrors.record_answer(target, url)
        return count
    raise MossError(f"repository {repo.id!r}: no mirror served a usable index: "
                    + "; ".join(failures))


def _update_from(root: Path, target: Path, repo: Repository, progress: Progress,
                 options: FetchOptions | None, allow_older: bool) -> int:
    """The update from ``repo.uri`` into ``target`` (conditional, checked, atomic)."""
    from moss.repo import deltalist, freshness

    scratch = Path(tempfile.mkdtemp(prefix=".update-", dir=target))
    progress.start(f"Updating {repo.id}", 1)
    try:
        new_index = scratch / INDEX_NAME
        new_signature = scratch / (INDEX_NAME + SIGNATURE_SUFFIX)
        fetched, trusted = _fetch_index(target, repo, new_index, new_signature, options)
        stamp: int | None = None
        if trusted is not None:
            stamp = freshness.check_freshness(root, repo, target, trusted, allow_older)
        metas = _read_fetched_index(repo, new_index)
        if fetched.modified or not _unchanged(target, new_signature):
            if repo.key:
                freshness.record_timestamp(root, repo, target, stamp, allow_older)
            _install(target, scratch, repo, metas, fetched.validators)
        deltalist.refresh(target, repo, options)
        progress.advance()
        return len(metas)
    finally:
        progress.done()
        remove_tree(scratch, ignore_errors=True)


def _fetch_index(target: Path, repo: Repository, new_index: Path, new_signature: Path,
                 options: FetchOptions | None) -> tuple[Fetched, str | None]:
    """The index (a 304 copies the one in use) and, with a key, its verified trusted
    comment.  A 304 whose index the signature does not match means the server's
    validators were too coarse (nginx's ETag is mtime and size: the same size
    published within one second): the index is then fetched whole."""
    from moss.repo import revalidate
    from moss.repo.fetch import download

    fetched = download(repo.uri, new_index, options=options,
                       validators=revalidate.stored(target, repo.uri))
    if not fetched.modified:
        shutil.copyfile(target / INDEX_NAME, new_index)
    if not repo.key:
        return fetched, None
    try:
        return fetched, _fetch_and_verify_signature(repo, new_index, new_signature, options)
    except MossError:
        if fetched.modified:
            raise
    fetched = download(repo.uri, new_index, options=options)
    return fetched, _fetch_and_verify_signature(repo, new_index, new_signature, options)


def _install(target: Path, scratch: Path, repo: Repository, metas: Sequence[PackageMeta],
             validators: Validators) -> None:
    """Put the checked index (and signature) from ``scratch`` in place, with what
    describes it: real moss's meta database and the validators (the signed
    timestamp is recorded just before, :func:`moss.repo.freshness.record_timestamp`)."""
    from moss.repo import revalidate

    # Real moss reads packages from its meta database, and fetches only when the
    # index is missing: the database goes in first, so an index never lacks one.
    # Its stat survives the rename: it tells queries the db is current (metacache).
    write_meta_db(target, metas, (scratch / INDEX_NAME).stat())
    for name in (INDEX_NAME + SIGNATURE_SUFFIX, INDEX_NAME):
        # Signature first: a crash in between leaves a signature that
        # matches nothing, which the next update simply replaces.
        if (scratch / name).exists():
            os.replace(scratch / name, target / name)
        elif name != INDEX_NAME:
            (target / name).unlink(missing_ok=True)
    revalidate.store(target, repo.uri, target / INDEX_NAME, validators)
    if repo.root_index is not None:
        # After the index: packages are fetched relative to the URI recorded here.
        atomic_write(target / "index-uri", repo.uri.encode())
    fsync_dir(target)


def _unchanged(target: Path, new_signature: Path) -> bool:
    """After a 304: whether the signature (if any) and real moss's meta database are
    as they were, so the update has nothing to write."""
    from moss.repo.metadb import DB_NAME

    old_signature = target / (INDEX_NAME + SIGNATURE_SUFFIX)
    if not (target / DB_NAME).is_file():
        return False
    if not new_signature.exists():
        return not old_signature.exists()
    return old_signature.is_file() and old_signature.read_bytes() == new_signature.read_bytes()


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
    With mirrors, the index's own URL is the mirror that served it.
    """
    url = urllib.parse.urljoin(repo.source(), meta_uri)
    base, got = urllib.parse.urlsplit(repo.source()), urllib.parse.urlsplit(url)
    if (got.scheme, got.netloc) != (base.scheme, base.netloc):
        raise MossError(
            f"the index of {repo.id!r} names a package at {url!r}, outside its own "
            f"server {base.scheme}://{base.netloc}; refused"
        )
    return url


def load_offers(root: Path, repos: Sequence[Repository]) -> list[Offer]:
    """Every package of the active repositories whose index has been fetched."""
    offers: list[Offer] = []
    with long_lived():  # the parsed metas live as long as the command
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
        repo = by_id[offer.repository]
        url = package_url(repo, meta.uri)
        others = [replace(repo, answered=uri) for uri in repo.candidates() if uri != repo.source()]
        alternates = tuple(package_url(other, meta.uri) for other in others) if repo.mirrors else ()
        result.append(Download(meta.name, url, meta.hash, meta.size, alternates))
    return result
