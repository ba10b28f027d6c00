"""Repository configuration: which indexes moss reads, and how much it trusts each.

The files have the shape real moss uses, one YAML mapping per file::

    volatile:
      description: Volatile packages
      uri: https://packages.example.org/volatile/x86_64/stone.index
      priority: 10
      active: true
      key: RWQ...   # optional minisign public key (the base64 line)

Vendor files in ``ROOT/usr/share/moss/repo.d/`` are read first and the
administrator's files in ``ROOT/etc/moss/repo.d/`` replace entries of the same
id, so a vendor repository can be disabled or re-pointed without editing
``/usr``.  A higher ``priority`` number is preferred, as in real moss (its
``Priority`` orders by the reversed integer, and the active list is sorted by it).
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from moss.core.errors import MossError
from moss.core.fs import atomic_write, remove_tree
from moss.core.root import Root

VENDOR_DIR = Path("usr/share/moss/repo.d")
ADMIN_DIR = Path("etc/moss/repo.d")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_SCHEMES = ("https://", "http://", "file://")


@dataclass(frozen=True)
class Repository:
    """One configured repository; ``uri`` names its ``stone.index`` file."""

    id: str
    uri: str
    description: str = ""
    priority: int = 0
    active: bool = True
    key: str | None = None

    def to_yaml_entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "description": self.description,
            "uri": self.uri,
            "priority": self.priority,
            "active": self.active,
        }
        if self.key:
            entry["key"] = self.key
        return entry


def check_id(repo_id: str) -> None:
    if not _ID.match(repo_id):
        raise MossError(
            f"invalid repository name {repo_id!r}: use letters, digits, '-' and '_'"
        )


def check_uri(uri: str) -> None:
    """A repository's URI names its index file: ``.../stone.index`` over http(s) or file.

    A folder URL (``https://host/repo/``) is the usual mistake: the server answers
    with a web page.  It is refused here, when the user can still fix it, rather
    than at the first update.
    """
    if not uri.startswith(_SCHEMES):
        raise MossError(f"unsupported repository URI {uri!r}: use https://, http:// or file://")
    path = urllib.parse.urlsplit(uri).path
    if not path or path.endswith("/"):
        raise MossError(
            f"repository URI {uri!r} names a folder, not an index: give the index file, "
            f"e.g. {uri.rstrip('/')}/stone.index"
        )


def read_public_key(text_or_path: str) -> str:
    """Accept a minisign public key as its base64 line, a whole ``.pub`` file, or a path.

    Only the base64 line is stored: the comment line carries no trust.
    """
    candidate = Path(text_or_path)
    text = text_or_path
    if "\n" not in text_or_path and len(text_or_path) < 4096 and candidate.is_file():
        text = candidate.read_text()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith("untrusted comment:")]
    if len(lines) != 1:
        raise MossError(f"not a minisign public key: {text_or_path!r}")
    # Decode now so a typo is reported when the repository is added, not at update.
    from moss.repo.signature import parse_public_key

    parse_public_key(lines[0])
    return lines[0]


def _entry(repo_id: str, raw: Any, source: Path) -> Repository:
    if not isinstance(raw, dict):
        raise MossError(f"{source}: repository {repo_id!r} must be a mapping")
    uri = raw.get("uri")
    if not isinstance(uri, str):
        raise MossError(f"{source}: repository {repo_id!r} has no uri")
    priority = raw.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool) or priority < 0:
        raise MossError(f"{source}: repository {repo_id!r} has an invalid priority {priority!r}")
    key = raw.get("key")
    if key is not None and not isinstance(key, str):
        raise MossError(f"{source}: repository {repo_id!r} has an invalid key")
    return Repository(
        id=repo_id,
        uri=uri,
        description=str(raw.get("description") or ""),
        priority=priority,
        active=bool(raw.get("active", True)),
        key=key,
    )


def _read_file(path: Path) -> dict[str, Repository]:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise MossError(f"cannot read repository configuration {path}: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise MossError(f"{path}: expected a mapping of repository ids")
    return {str(k): _entry(str(k), v, path) for k, v in data.items()}


def _read_dir(directory: Path) -> dict[str, Repository]:
    repos: dict[str, Repository] = {}
    if directory.is_dir():
        for path in sorted(directory.glob("*.yaml")):
            repos.update(_read_file(path))
    return repos


def load_repositories(root: Path) -> list[Repository]:
    """All configured repositories, most preferred (highest priority) first."""
    merged = _read_dir(root / VENDOR_DIR)
    merged.update(_read_dir(root / ADMIN_DIR))
    return sorted(merged.values(), key=lambda r: (-r.priority, r.id))


def get_repository(root: Path, repo_id: str) -> Repository:
    for repo in load_repositories(root):
        if repo.id == repo_id:
            return repo
    raise MossError(f"no repository named {repo_id!r}")


def _write(root: Path, repo: Repository) -> None:
    data = yaml.safe_dump({repo.id: repo.to_yaml_entry()}, sort_keys=False)
    atomic_write(root / ADMIN_DIR / f"{repo.id}.yaml", data.encode())


def add_repository(
    root: Path,
    repo_id: str,
    uri: str,
    *,
    priority: int = 0,
    description: str = "",
    key: str | None = None,
) -> Repository:
    """Write ``etc/moss/repo.d/<id>.yaml``; an existing id is an error, not a silent edit."""
    check_id(repo_id)
    check_uri(uri)
    if priority < 0:
        raise MossError(f"priority must be 0 or more, not {priority}")
    existing = {r.id: r for r in load_repositories(root)}
    if repo_id in existing:
        raise MossError(
            f"repository {repo_id!r} already exists ({existing[repo_id].uri}); to change it, "
            f"'moss repo remove {repo_id}' then add it again, or add this one under "
            "another name"
        )
    repo = Repository(
        id=repo_id,
        uri=uri,
        description=description,
        priority=priority,
        active=True,
        key=read_public_key(key) if key else None,
    )
    _write(root, repo)
    return repo


def remove_repository(root: Path, repo_id: str) -> None:
    """Drop the administrator's entry and the fetched index; vendor entries stay (disable them)."""
    get_repository(root, repo_id)
    admin = root / ADMIN_DIR
    found = False
    for path in sorted(admin.glob("*.yaml")) if admin.is_dir() else []:
        entries = _read_file(path)
        if repo_id not in entries:
            continue
        found = True
        del entries[repo_id]
        if entries:
            body = {k: v.to_yaml_entry() for k, v in entries.items()}
            atomic_write(path, yaml.safe_dump(body, sort_keys=False).encode())
        else:
            path.unlink()
    if not found:
        raise MossError(
            f"repository {repo_id!r} is provided by the system in {VENDOR_DIR}; "
            f"disable it with 'moss repo disable {repo_id}'"
        )
    # Its downloaded index goes with it (Root.repo_dir is where moss keeps it).
    remove_tree(Root(root).repo_dir(repo_id), ignore_errors=True)


def set_active(root: Path, repo_id: str, active: bool) -> Repository:
    """Enable or disable by writing an override in ``etc`` (vendor files are never edited)."""
    repo = get_repository(root, repo_id)
    updated = replace(repo, active=active)
    admin = root / ADMIN_DIR
    # An entry living in another admin file is rewritten there, so ids stay unique.
    for path in sorted(admin.glob("*.yaml")) if admin.is_dir() else []:
        entries = _read_file(path)
        if repo_id in entries:
            entries[repo_id] = updated
            body = {k: v.to_yaml_entry() for k, v in entries.items()}
            atomic_write(path, yaml.safe_dump(body, sort_keys=False).encode())
            return updated
    _write(root, updated)
    return updated
