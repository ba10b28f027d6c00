"""Where everything lives under a moss root, and the skeleton a fresh root gets.

``<root>`` is ``/`` on a live system and any directory given with ``-D`` (tests,
image builds).  The names follow real moss so existing systems stay readable.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from moss.core import fs, namespace, ondisk
from moss.core.errors import MossError

# Compatibility links at the top of the root, pointing into /usr (the shared contract's).
ROOT_LINKS: dict[str, str] = dict(ondisk.ROOT_LINKS)

STATE_ID_FILE = ondisk.STATE_ID_FILE
REPO_INDEX_NAME = "stone.index"


def cached_file(cache: Path, sha256: str) -> Path:
    """Where a downloaded package lives in a cache folder, shared with real moss.

    The cache is ``ROOT/.moss/cache`` (:attr:`Root.cache`) unless ``--cache``
    names another folder; the layout inside is the same either way.
    """
    return cache / "downloads" / "v1" / sha256[:5] / sha256[-5:] / sha256


@dataclass(frozen=True)
class Root:
    path: Path

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


def refuse_borrowed(root: Root) -> None:
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


def ensure_skeleton(root: Root) -> None:
    """Give a fresh root what real moss creates: /usr, the root links, etc, var, run, tmp."""
    refuse_borrowed(root)
    refuse_foreign_usr(root)
    namespace.enter_writable(root.path)  # a read-only OS: from here on in moss's namespace
    for sub in (root.moss, root.db, root.assets, root.cache, root.states_dir):
        sub.mkdir(parents=True, exist_ok=True)
    write_cachedir_tag(root.cache)
    if not root.usr.exists() and not root.usr.is_symlink():
        root.usr.mkdir(mode=0o755)
    for name in ("etc", "var", "run"):
        (root.path / name).mkdir(mode=0o755, exist_ok=True)
    tmp = root.path / "tmp"
    if not tmp.exists():
        tmp.mkdir()
        os.chmod(tmp, 0o1777)
    update_root_links(root)


# Real moss's CACHEDIR.TAG (its installation.rs), byte for byte: backup tools that honour
# the convention (https://bford.info/cachedir/) skip the downloads.
CACHEDIR_TAG = (b"Signature: 8a477f597d28d172789f06886806bc55\n"
                b"# This file is a cache directory tag created by moss.\n"
                b"# For information about cache directory tags see https://bford.info/cachedir/")


def write_cachedir_tag(cache: Path) -> None:
    """Tag ``cache`` as real moss does, once; like real moss, a failure is no error."""
    tag = cache / "CACHEDIR.TAG"
    if os.path.lexists(tag):
        return
    try:
        fd = os.open(tag, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    except OSError:
        return
    try:
        os.write(fd, CACHEDIR_TAG)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def undone_without_state(root: Root) -> Iterator[None]:
    """On a fresh root (no ``.moss`` yet), remove what the block created if it ends
    without a state: ``.moss``, ``etc`` and the rest appear only when a transaction
    succeeds, so a failed install into a misspelt ``-D`` leaves nothing behind.  A
    state that went live or is pending keeps everything, whatever failed after it;
    a root that moss already uses is never touched here."""
    if os.path.lexists(root.moss):
        yield
        return
    existed = root.path.is_dir()
    before = set(os.listdir(root.path)) if existed else set()
    try:
        yield
    finally:
        states = root.states_dir
        made = read_state_id(root.usr) is not None or (
            states.is_dir() and any(name.isdigit() for name in os.listdir(states)))
        if not made and not existed:
            fs.remove_tree(root.path, ignore_errors=True)
        elif not made:  # only what the skeleton makes: never another program's files
            ours = {".moss", "usr", "etc", "var", "run", "tmp", *ROOT_LINKS}
            for name in (set(os.listdir(root.path)) - before) & ours:
                fs.remove_tree(root.path / name, ignore_errors=True)


def check_moss_root(path: Path, installed: bool = True) -> None:
    """Refuse a root moss has never used (or, with ``installed`` false, one that does
    not exist), as real moss says the root is invalid: a misspelt ``-D`` must not read
    as an empty system (an empty table, exit 0)."""
    if not path.is_dir():
        raise MossError(f"invalid root {path}: no such directory (check -D)")
    if installed and not os.path.isdir(path / ".moss"):
        raise MossError(f"invalid root {path}: moss has never installed anything there "
                        "(no .moss folder; check -D)")


def refuse_foreign_usr(root: Root) -> None:
    """Never take over a ``/usr`` that moss did not build, or whose id is unreadable.

    A transaction moves the old ``/usr`` aside and repoints ``/lib64`` and friends:
    on a system of another distribution (``moss`` run without ``-D`` by mistake)
    that would break every program on it.
    """
    usr = root.usr
    if usr.is_symlink() or not usr.is_dir() or read_state_id(usr) is not None:
        return
    if os.path.lexists(usr / STATE_ID_FILE):
        raise MossError(
            f"{usr / STATE_ID_FILE} does not hold a state id (moss writes plain ASCII "
            "digits); refusing to change this root until it does"
        )
    if any(usr.iterdir()) and (ondisk.state_slots(root.path)
                                 or fs.has_entries(root.assets)):
        raise MossError(f"{usr} has no {STATE_ID_FILE} while the root holds states; refusing "
                        "to change it: `moss state rebuild` gives it an id of its own")
    if any(usr.iterdir()):
        raise MossError(
            f"{usr} holds a system moss did not build; refusing to replace it "
            "(use -D DIR to build a moss root elsewhere)"
        )


def update_root_links(root: Root) -> None:
    """Recreate ``bin``, ``sbin``, ``lib``... so each swap is a single rename."""
    for name, target in ROOT_LINKS.items():
        link = root.path / name
        if link.is_symlink() and os.readlink(link) == target:
            continue
        if link.exists() and not link.is_symlink():
            continue  # a real directory the admin put there: never clobber it
        fs.atomic_symlink(target, link)
