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

from moss.core import ondisk
from moss.core.errors import MossError
from moss.core.rootpaths import (
    REPO_INDEX_NAME,
    STATE_ID_FILE,
    RootPaths,
    cached_file,
    check_moss_root,
    read_state_id,
    refuse_borrowed,
)

__all__ = ["REPO_INDEX_NAME", "ROOT_LINKS", "STATE_ID_FILE", "Root", "cached_file",
           "check_moss_root", "ensure_skeleton", "read_state_id", "refuse_borrowed",
           "refuse_foreign_usr", "undone_without_state", "update_root_links",
           "write_cachedir_tag"]

# Compatibility links at the top of the root, pointing into /usr (the shared contract's).
ROOT_LINKS: dict[str, str] = dict(ondisk.ROOT_LINKS)


@dataclass(frozen=True)
class Root(RootPaths):
    """A root's paths (:class:`moss.core.rootpaths.RootPaths`) as a value: compared,
    hashed and printed by its path."""

    __slots__ = ()

    path: Path


def ensure_skeleton(root: Root) -> None:
    """Give a fresh root what real moss creates: /usr, the root links, etc, var, run, tmp."""
    from moss.core import namespace  # what changes a root: not loaded by queries

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
    from moss.core import fs  # ctypes and tempfile: only for what changes a root

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


def refuse_foreign_usr(root: Root) -> None:
    """Never take over a ``/usr`` that moss did not build, or whose id is unreadable.

    A transaction moves the old ``/usr`` aside and repoints ``/lib64`` and friends:
    on a system of another distribution (``moss`` run without ``-D`` by mistake)
    that would break every program on it.
    """
    usr = root.usr
    if usr.is_symlink() or not usr.is_dir() or read_state_id(usr) is not None:
        return
    from moss.core import fs
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
    from moss.core import fs

    for name, target in ROOT_LINKS.items():
        link = root.path / name
        if link.is_symlink() and os.readlink(link) == target:
            continue
        if link.exists() and not link.is_symlink():
            continue  # a real directory the admin put there: never clobber it
        fs.atomic_symlink(target, link)
