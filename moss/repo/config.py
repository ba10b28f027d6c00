"""Repository configuration: which indexes moss reads, and how much it trusts each.

The files are real moss's, read as it reads them (see :mod:`moss.core.configfiles`):
``{usr/share,etc}/moss/repo.{yaml,kdl}`` and ``repo.d/*.{yaml,kdl}``, vendor first,
the administrator's entries replacing vendor entries of the same id, and a KDL file
shadowing its YAML twin.  One mapping of repository ids per file::

    volatile {                       // or, in YAML: volatile: {description: ..., ...}
        description "Volatile packages"
        uri "https://packages.example.org/volatile/x86_64/stone.index"
        priority 10
        active #true
        key "RWQ..."                 // this moss's addition: a minisign public key
    }

A versioned repository gives ``base-uri``, ``version`` (``stream/volatile``) and
optionally ``channel`` and ``arch`` instead of ``uri`` (:mod:`moss.repo.rootindex`).
A higher ``priority`` number is preferred, as in real moss.  New files are written
as KDL (``etc/moss/repo.d/<id>.kdl``), as real moss writes them.

A repository's fetched index lives in ``.moss/repo/<hash>/``, the folder real moss
uses: the xxh3-64 of ``moss-<uri>`` (or ``moss-<base>-<channel>-<version>-<arch>``)
in lower-case hex, so either implementation finds the other's download.
"""

from __future__ import annotations

import re
import sys
import urllib.parse
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import xxhash

from moss.core import confined, kdl
from moss.core.configfiles import FORMATS, config_files, is_vendor, read_data, system_folders
from moss.core.errors import MossError
from moss.core.root import Root
from moss.repo.rootindex import (
    DEFAULT_ARCH,
    DEFAULT_CHANNEL,
    RootIndexSource,
    cached_index_uri,
    check_identifier,
    check_version,
    parse_options,
)

DOMAIN = "repo"
VENDOR_DIR = Path("usr/share/moss/repo.d")
ADMIN_DIR = Path("etc/moss/repo.d")
CACHE_PREFIX = "moss"  # real moss's identifier for repositories from its configuration
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_SCHEMES = ("https://", "http://", "file://")
# Real moss's priority is a u64; this moss stores and compares it as SQLite's i64.
MAX_PRIORITY = 2**63 - 1


@dataclass(frozen=True)
class Repository:
    """One configured repository; ``uri`` names its ``stone.index`` file.

    For a versioned repository (``root_index`` set), ``uri`` is the index its
    last update resolved, or ``""`` before the first one.
    """

    id: str
    uri: str
    description: str = ""
    priority: int = 0
    active: bool = True
    key: str | None = None
    root_index: RootIndexSource | None = None
    mirrors: tuple[str, ...] = ()
    # The URI whose index is in use (``mirrors.json``), when it is not ``uri``.
    answered: str | None = None

    def candidates(self) -> tuple[str, ...]:
        """Where its index may be fetched, in the order to try."""
        return (self.uri, *self.mirrors)

    def source(self) -> str:
        """The URI packages are fetched relative to: the one that served the index."""
        return self.answered or self.uri

    def to_yaml_entry(self) -> dict[str, Any]:
        """The fields in real moss's order (its serde names) as plain data."""
        entry: dict[str, Any] = {"description": self.description}
        if self.root_index is None:
            entry["uri"] = self.uri
        else:
            entry.update({"base-uri": self.root_index.base_uri,
                          "channel": self.root_index.channel,
                          "version": self.root_index.version,
                          "arch": self.root_index.arch})
        entry.update({"priority": self.priority, "active": self.active})
        if self.key:
            entry["key"] = self.key
        if self.mirrors:
            entry["mirrors"] = list(self.mirrors)
        return entry

    def to_kdl(self) -> kdl.Node:
        """``mirrors "URI" "URI"``: one node with an argument per mirror."""
        return kdl.parent(self.id, (kdl.leaf(k, *v) if isinstance(v, list) else kdl.leaf(k, v)
                                    for k, v in self.to_yaml_entry().items()))


def _normal_url(url: str) -> str:
    """The URL as real moss's ``Url`` prints it: lower-case scheme and host, ``/`` path."""
    parts = urllib.parse.urlsplit(url)
    path = parts.path or "/"
    return urllib.parse.urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path,
                                    parts.query, parts.fragment))


def cache_name(repo: Repository) -> str:
    """Real moss's folder name for a repository's cached index and meta database."""
    src = repo.root_index
    if src is None:
        text = f"{CACHE_PREFIX}-{_normal_url(repo.uri)}"
    else:
        text = (f"{CACHE_PREFIX}-{_normal_url(src.base_uri)}-{src.channel}-{src.version}"
                f"-{src.arch}")
    return format(xxhash.xxh3_64_intdigest(text.encode()), "x")


def cache_dir(root: Path, repo: Repository) -> Path:
    """``ROOT/.moss/repo/<hash>``: where the repository's ``stone.index`` is kept."""
    return Root(root).repo_dir(cache_name(repo))


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


def _int(raw: dict[str, Any], name: str, default: int | None, where: str) -> int:
    value = raw.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_PRIORITY:
        raise MossError(f"{where} has an invalid {name} {str(value)[:40]!r}: "
                        f"a whole number from 0 to {MAX_PRIORITY}")
    return value


def _string(raw: dict[str, Any], name: str, where: str, default: str | None = None) -> str:
    value = raw.get(name, default)
    if not isinstance(value, str):
        raise MossError(f"{where} has no {name}" if value is None else f"{where}: invalid {name}")
    return value


def _root_source(raw: dict[str, Any], where: str) -> RootIndexSource:
    return RootIndexSource(
        base_uri=_string(raw, "base-uri", where),
        version=check_version(_string(raw, "version", where)),
        channel=check_identifier(_string(raw, "channel", where, DEFAULT_CHANNEL), "channel"),
        arch=_string(raw, "arch", where, DEFAULT_ARCH),
    )


def _entry(repo_id: str, raw: Any, source: Path) -> Repository:
    """One repository from its plain data (YAML or KDL alike): ``uri`` or ``base-uri``."""
    where = f"{source}: repository {repo_id!r}"
    if not isinstance(raw, dict):
        raise MossError(f"{where} must be a mapping")
    root_source = None if "uri" in raw or "base-uri" not in raw else _root_source(raw, where)
    uri = "" if root_source else _string(raw, "uri", where)
    key = raw.get("key")
    if key is not None and not isinstance(key, str):
        raise MossError(f"{where} has an invalid key")
    return Repository(
        id=repo_id,
        uri=uri,
        description=str(raw.get("description") or ""),
        priority=_int(raw, "priority", 0, where),
        active=bool(raw.get("active", True)),
        key=key,
        root_index=root_source,
        mirrors=_mirrors(raw.get("mirrors"), where, root_source is None),
    )


def _mirrors(raw: object, where: str, allowed: bool) -> tuple[str, ...]:
    """``mirrors``: one URI or a list of them (YAML), one argument each (KDL)."""
    if raw is None:
        return ()
    uris = [raw] if isinstance(raw, str) else raw
    if not isinstance(uris, list) or not all(isinstance(u, str) for u in uris):
        raise MossError(f"{where}: mirrors must be a list of index URIs")
    if not allowed:
        raise MossError(f"{where}: mirrors need a plain uri, not a base-uri")
    for uri in uris:
        try:
            check_uri(uri)
        except MossError as exc:
            raise MossError(f"{where}: mirror {exc}") from None
    return tuple(uris)


def _read_file(root: Path, path: Path) -> dict[str, Repository]:
    data = read_data(path, root)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise MossError(f"{path}: expected a mapping of repository ids")
    return {str(k): _entry(str(k), v, path) for k, v in data.items()}


def _config_files(root: Path, admin_only: bool = False) -> list[Path]:
    folders = system_folders(root)
    return config_files(folders[1:] if admin_only else folders, DOMAIN, root)


_warned: set[str] = set()


def _read_vendor_file(root: Path, path: Path) -> dict[str, Repository]:
    """A package's repository file: when it is bad (a link out of the root, too deep,
    not a mapping...), a warning and nothing, so that no command, ``remove`` of that
    package first of all, is blocked by what a package ships.  The administrator's
    own files stay errors: they are there to be fixed."""
    try:
        return _read_file(root, path)
    except MossError as exc:
        if str(exc) not in _warned:
            _warned.add(str(exc))
            print(f"moss: warning: {exc}; the file is skipped", file=sys.stderr)
        return {}


def resolved(root: Path, repo: Repository) -> Repository:
    """A versioned repository carries the index URI its last update resolved, and one
    with mirrors the URI that answered (:mod:`moss.repo.mirrors`)."""
    if repo.mirrors:
        from moss.repo import mirrors

        answered = mirrors.load(cache_dir(root, repo)).answered
        return replace(repo, answered=answered if answered in repo.candidates() else None)
    if repo.root_index is None:
        return repo
    return replace(repo, uri=cached_index_uri(cache_dir(root, repo)))


def load_repositories(root: Path) -> list[Repository]:
    """All configured repositories, most preferred (highest priority) first.

    Files are read as real moss reads them (``{usr/share,etc}/moss/repo.{yaml,kdl}``
    then ``repo.d/*``, KDL over YAML); a later entry of the same id wins.
    """
    merged: dict[str, Repository] = {}
    for path in _config_files(root):
        merged.update(_read_vendor_file(root, path) if is_vendor(root, path)
                      else _read_file(root, path))
    repos = [resolved(root, r) for r in merged.values()]
    return sorted(repos, key=lambda r: (-r.priority, r.id))


def get_repository(root: Path, repo_id: str) -> Repository:
    for repo in load_repositories(root):
        if repo.id == repo_id:
            return repo
    raise MossError(f"no repository named {repo_id!r}")


def _encode(path: Path, entries: dict[str, Repository]) -> bytes:
    """A configuration file's new content, in the file's own format."""
    if path.suffix == ".kdl":
        return kdl.dumps([r.to_kdl() for r in entries.values()]).encode()
    import yaml  # only to write a YAML file: reading one goes through moss.core.yamlload

    body = {k: v.to_yaml_entry() for k, v in entries.items()}
    return yaml.safe_dump(body, sort_keys=False).encode()


def _save(path: Path, entries: dict[str, Repository]) -> None:
    """Write a config file whole: moss.core.fs (tempfile, ctypes) only then, not for queries."""
    from moss.core.fs import atomic_write

    atomic_write(path, _encode(path, entries))


def _write(root: Path, repo: Repository) -> None:
    path = confined.inside(root, ADMIN_DIR.as_posix()) / f"{repo.id}.kdl"  # never via a link out
    _save(path, {repo.id: repo})


def _admin_files(root: Path) -> list[Path]:
    """Every administrator file, YAML twins of KDL files included (both are edited)."""
    folder = confined.inside(root, "etc/moss")  # a link out of ROOT edits nothing outside
    files = [folder / f"{DOMAIN}{ext}" for ext in FORMATS]
    directory = confined.inside(root, ADMIN_DIR.as_posix())
    if directory.is_dir():
        files += sorted(directory.iterdir())
    return [p for p in files if p.suffix in FORMATS and p.is_file()]


def add_repository(root: Path, repo_id: str, uri: str, *, priority: int = 0,
                   description: str = "", key: str | None = None,
                   root_index: str | None = None, mirrors: tuple[str, ...] = ()
                   ) -> Repository:
    """Write ``etc/moss/repo.d/<id>.kdl``; an existing id is an error, not a silent edit.

    With ``root_index`` (real moss's ``--root-index version=...`` options) ``uri`` is
    the repository's base URI, resolved through its root index at update.
    """
    check_id(repo_id)
    source = parse_options(uri, root_index) if root_index is not None else None
    if source is None:
        check_uri(uri)
    elif not uri.startswith(_SCHEMES):
        raise MossError(f"unsupported repository URI {uri!r}: use https://, http:// or file://")
    if not 0 <= priority <= MAX_PRIORITY:
        raise MossError(f"priority must be a whole number from 0 to {MAX_PRIORITY}, "
                        f"not {str(priority)[:40]}")
    if mirrors and source is not None:
        raise MossError("mirrors need a plain index URI, not --root-index")
    for mirror in mirrors:
        check_uri(mirror)
    existing = {r.id: r for r in load_repositories(root)}
    if repo_id in existing:
        raise MossError(
            f"repository {repo_id!r} already exists ({existing[repo_id].uri}); to change it, "
            f"'moss repo remove {repo_id}' then add it again, or add this one under "
            "another name"
        )
    if key:
        from moss.repo.signature import read_public_key  # cryptography only with a key

        key = read_public_key(key)
    repo = Repository(id=repo_id, uri="" if source else uri, description=description,
                      priority=priority, active=True, key=key or None, root_index=source,
                      mirrors=tuple(mirrors))
    _write(root, repo)
    return repo


def remove_repository(root: Path, repo_id: str) -> None:
    """Drop the administrator's entry and the fetched index; vendor entries stay (disable them)."""
    repo = get_repository(root, repo_id)
    found = False
    for path in _admin_files(root):
        entries = _read_file(root, path)
        if repo_id not in entries:
            continue
        found = True
        del entries[repo_id]
        if entries:
            _save(path, entries)
        else:
            path.unlink()
    if not found:
        raise MossError(
            f"repository {repo_id!r} is provided by the system in {VENDOR_DIR}; "
            f"disable it with 'moss repo disable {repo_id}'"
        )
    from moss.core.fs import remove_tree  # the fetched index goes too, as in real moss

    remove_tree(cache_dir(root, repo), ignore_errors=True)


def set_active(root: Path, repo_id: str, active: bool) -> Repository:
    """Enable or disable by writing an override in ``etc`` (vendor files are never edited)."""
    updated = replace(get_repository(root, repo_id), active=active)
    put_repository(root, updated)
    return updated


def put_repository(root: Path, repo: Repository) -> None:
    """Configure ``repo`` as given, replacing an entry of its id: an entry living in an
    admin file is rewritten there, so ids stay unique; otherwise it goes to ``repo.d``
    (a vendor entry is overridden, never edited)."""
    for path in reversed(_config_files(root, admin_only=True)):
        entries = _read_file(root, path)
        if repo.id in entries:
            entries[repo.id] = repo
            _save(path, entries)
            return
    _write(root, repo)
