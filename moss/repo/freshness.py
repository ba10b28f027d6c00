"""How new a signed index must be: the newest one each signing key has vouched for.

A signature says who made an index, not when, so an attacker on the path could
replay an old signed index and walk every machine back to old packages.  The signed
trusted comment carries ``timestamp:<unix seconds>`` (minisign's default); an index
signed earlier than the newest one accepted, or with no timestamp once one was seen,
is refused unless the user passes ``allow_older``.

The newest time belongs to the *key*, not to a configuration entry (issue 23): it is
kept in ``.moss/signing-keys/<public key, hex>.timestamp``, so ``repo remove`` and
``repo add`` (the only way to change a priority), another spelling of the URI
(``/./stone.index``), or a mirror serving the same key's indexes all start from it.
Every repository signed with one key shares that one time line.  The repository
folder's own ``stone.index.timestamp`` is still written (and honoured) beside it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from moss.core.errors import MossError
from moss.core.fs import atomic_write
from moss.core.root import REPO_INDEX_NAME, Root
from moss.repo import signature
from moss.repo.config import Repository

TIMESTAMP_SUFFIX = ".timestamp"
# Past any plausible time, and what a 64-bit time_t (and datetime) can hold.
_NEWEST = 253402300799  # 9999-12-31 23:59:59 UTC


def timestamp_path(target: Path) -> Path:
    """The repository folder's record, beside its index."""
    return target / (REPO_INDEX_NAME + TIMESTAMP_SUFFIX)


def key_timestamp_path(root: Path, public_key: str) -> Path:
    """The signing key's record, named by its whole Ed25519 key (not the 8-byte key id,
    which the key's maker chooses)."""
    key = signature.parse_public_key(public_key)
    return Root(root).signing_keys / f"{key.key.hex()}{TIMESTAMP_SUFFIX}"


def _read(path: Path) -> int | None:
    try:
        text = path.read_text(errors="replace").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise MossError(f"{path}: cannot read the newest index time it records: "
                        f"{exc.strerror or exc}") from None
    return int(text) if text.isdigit() and len(text) <= 12 else None


def recorded_timestamp(root: Path, repo: Repository, target: Path) -> int | None:
    """The newest signed time accepted for ``repo``'s key, or for its folder."""
    assert repo.key is not None
    stamps = [s for s in (_read(key_timestamp_path(root, repo.key)), _read(timestamp_path(target)))
              if s is not None]
    return max(stamps, default=None)


def record_timestamp(root: Path, repo: Repository, target: Path, stamp: int | None,
                     allow_older: bool) -> None:
    """Written before the index is renamed in: a crash can only leave it newer.

    The key's record only moves forward, except on a rollback the user asked for.
    """
    assert repo.key is not None
    key_path = key_timestamp_path(root, repo.key)
    for path in (timestamp_path(target), key_path):
        if stamp is None:
            path.unlink(missing_ok=True)
            continue
        old = _read(path)
        if path == key_path and old is not None and old > stamp and not allow_older:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, f"{stamp}\n".encode())


def _when(stamp: int) -> str:
    return datetime.fromtimestamp(min(stamp, _NEWEST), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def check_freshness(root: Path, repo: Repository, target: Path, trusted: str,
                    allow_older: bool) -> int | None:
    """The new index's signed timestamp; refuses one older than the key's newest."""
    new = signature.signed_timestamp(trusted)
    if new is not None and new > _NEWEST:
        raise MossError(f"repository {repo.id!r}: the index is signed with timestamp {new}, "
                        "past the year 9999; refused")
    old = recorded_timestamp(root, repo, target)
    if old is None or allow_older or (new is not None and new >= old):
        return new
    offered = "carries no signed timestamp" if new is None else f"was signed {_when(new)}"
    raise MossError(
        f"repository {repo.id!r}: the index offered {offered}, older than the one in use "
        f"for its signing key (signed {_when(old)}); kept the index in use "
        f"('moss repo update --allow-older {repo.id}' accepts it)"
    )
