"""Where everything lives under a moss root, and the checks every command makes on it
before it trusts anything there, without loading what changes a root.

:class:`moss.core.root.Root` is these paths as a frozen dataclass; the queries
answered without the full command line (:mod:`moss.cli.quick`, issue 27) use
:class:`RootPaths` itself, because ``dataclasses`` alone costs a third of a plain
Python start-up.  The names follow real moss so existing systems stay readable.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from moss.core import ondisk
from moss.core.errors import MossError

STATE_ID_FILE = ondisk.STATE_ID_FILE
REPO_INDEX_NAME = "stone.index"


def cached_file(cache: Path, sha256: str) -> Path:
    """Where a downloaded package lives in a cache folder, shared with real moss.

    The cache is ``ROOT/.moss/cache`` (:attr:`Root.cache`) unless ``--cache``
    names another folder; the layout inside is the same either way.
    """
    return cache / "downloads" / "v1" / sha256[:5] / sha256[-5:] / sha256


class RootPaths:
    """The folders and files of the root at ``path``."""

    __slots__ = ("path",)

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def moss(self) -> Path:
        return self.path / ".moss"

    @property
    def usr(self) -> Path:
        return self.path / "usr"

    @property
    def assets(self) -> Path:
        return self.moss / "assets" / "v2"

    @property
    def incoming(self) -> Path:
        """Scratch space for blobs being verified, on the same filesystem as the store."""
        return self.moss / "assets" / "incoming"

    @property
    def db(self) -> Path:
        return self.moss / "db"

    @property
    def cache(self) -> Path:
        return self.moss / "cache"

    @property
    def states_dir(self) -> Path:
        return self.path / ondisk.STATES_DIR

    @property
    def staging(self) -> Path:
        return self.states_dir / ondisk.STAGING

    @property
    def staging_usr(self) -> Path:
        return self.staging / "usr"

    @property
    def lockfile(self) -> Path:
        return self.moss / ".moss-lockfile"

    @property
    def repos(self) -> Path:
        return self.moss / "repo"

    @property
    def signing_keys(self) -> Path:
        """This moss's record of each signing key's newest index (``<key hex>.timestamp``):
        outside ``repos``, so removing a repository (real moss deletes its folder there)
        keeps it."""
        return self.moss / "signing-keys"

    def repo_dir(self, repo_id: str) -> Path:
        """A repository's folder: its ``stone.index``, signature and caches."""
        return self.repos / repo_id

    def repo_index(self, repo_id: str) -> Path:
        """The fetched ``stone.index`` of a repository."""
        return self.repo_dir(repo_id) / REPO_INDEX_NAME

    @property
    def cbm_staging(self) -> Path:
        """The root clr-boot-manager is pointed at, unless ``cbm-root`` names another."""
        return self.moss / "boot" / "clr-boot-manager"

    def archived_usr(self, state_id: int) -> Path:
        return Path(ondisk.slot_usr(self.path, state_id))

    def cached_package(self, sha256: str) -> Path:
        return cached_file(self.cache, sha256)


def read_state_id(usr: Path) -> int | None:
    """The state a ``/usr`` tree belongs to, or None when it has no readable id.

    The rule (ASCII digits only, whitespace around them allowed) is the contract's,
    :func:`moss.core.ondisk.read_state_id`, which the pivot agent applies too.
    """
    return ondisk.read_state_id(usr)


def refuse_borrowed(root: RootPaths) -> None:
    """Refuse a root whose ``.moss`` folders are links: each must be this root's own.

    With ``B/.moss`` (or its ``db``, ``root``, store, cache, a database file, the
    lock) a link to root A's, a command on B reads A's databases without A's
    ``/usr``, forgets A's live state, and a prune on B deletes A's states and
    blobs.  Real moss never makes such links, so there is nothing to follow: the
    check is one ``lstat`` per folder and one listing of ``.moss/db``.  ``/usr``
    may be a link only in the old layout, to a slot of this root.
    """
    places = [root.moss, root.db, root.states_dir, root.staging, root.moss / "assets",
              root.assets, root.incoming, root.cache, root.cache / "downloads", root.lockfile]
    with contextlib.suppress(OSError):
        places += sorted(root.db / name for name in os.listdir(root.db))
    for path in places:
        if path.is_symlink():
            raise MossError(f"{path} is a link to {os.readlink(path)}; refusing to reach "
                            "another root's data through it (each root's .moss is its own)")
    if root.usr.is_symlink() and ondisk.old_layout_id(os.readlink(root.usr)) is None:
        raise MossError(f"{root.usr} is a link to {os.readlink(root.usr)}, not to a state "
                        "of this root (.moss/root/<id>/usr); refusing to use it")


def check_moss_root(path: Path, installed: bool = True) -> None:
    """Refuse a root moss has never used (or, with ``installed`` false, one that does
    not exist), as real moss says the root is invalid: a misspelt ``-D`` must not read
    as an empty system (an empty table, exit 0)."""
    if not path.is_dir():
        raise MossError(f"invalid root {path}: no such directory (check -D)")
    if installed and not os.path.isdir(path / ".moss"):
        refuse_borrowed(RootPaths(path))  # a /usr linked to another root's: say that first
        raise MossError(f"invalid root {path}: moss has never installed anything there "
                        "(no .moss folder; check -D)")


def holds_states(root: RootPaths) -> bool:
    """Whether the disk shows a system: a state tree, or blobs in the store."""
    if read_state_id(root.usr) is not None:
        return True
    with contextlib.suppress(OSError):
        for entry in os.scandir(root.states_dir):
            if entry.name.isdigit() and read_state_id(Path(entry.path) / "usr") is not None:
                return True
    with contextlib.suppress(OSError), os.scandir(root.assets) as blobs:
        return any(True for _ in blobs)
    return False
