"""Real moss's versioned repositories: a ``moss-root-index.json`` names the index to use.

A repository configured with ``base-uri`` and ``version`` (instead of ``uri``) is
resolved at update time, as real moss does (``moss/src/repository``)::

    BASE/CHANNEL/moss-root-index.json                     (format v0)
    BASE/CHANNEL/history/HISTORY/ARCH/stone.index         (the index itself)

``version`` is ``stream/NAME``, ``tag/NAME`` or ``history/NAME``: streams and tags
point at a history entry, whose ``format`` must be one this moss reads (``v0``,
or ``legacy``); any other format is refused with the ``upgrade_via`` version the
root index suggests.  The resolved URI is kept in the cache folder's
``index-uri`` file, where real moss keeps it too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from moss.core.errors import MossError

DEFAULT_CHANNEL = "main"
DEFAULT_ARCH = "x86_64"
ROOT_INDEX_NAME = "moss-root-index.json"
SUPPORTED_FORMATS = ("legacy", "v0")
_SCOPES = ("stream", "tag", "history")


def check_identifier(text: str, what: str) -> str:
    """Real moss's ``Identifier``: alphanumerics and ``-``, not starting with ``-``."""
    if not text or text.startswith("-") or not all(c.isalnum() or c == "-" for c in text):
        raise MossError(f"invalid {what} {text!r}: use letters, digits and '-'")
    return text


def check_version(text: str) -> str:
    """``stream/NAME``, ``tag/NAME`` or ``history/NAME``."""
    scope, sep, ident = text.partition("/")
    if not sep or scope not in _SCOPES:
        raise MossError(f"invalid repository version {text!r}: use stream/NAME, tag/NAME "
                        "or history/NAME")
    check_identifier(ident, "version")
    return text


@dataclass(frozen=True)
class RootIndexSource:
    """Where a versioned repository lives: ``base-uri``, ``channel``, ``version``, ``arch``."""

    base_uri: str
    version: str
    channel: str = DEFAULT_CHANNEL
    arch: str = DEFAULT_ARCH

    def _base(self) -> str:
        return self.base_uri if self.base_uri.endswith("/") else self.base_uri + "/"

    def uri(self) -> str:
        """The root index: ``BASE/CHANNEL/moss-root-index.json``."""
        return f"{self._base()}{self.channel}/{ROOT_INDEX_NAME}"

    def history_index_uri(self, history: str) -> str:
        return f"{self._base()}{self.channel}/history/{history}/{self.arch}/stone.index"


def parse_options(base_uri: str, text: str) -> RootIndexSource:
    """Real moss's ``repo add --root-index channel=C,version=V,arch=A`` (version required)."""
    if "=" not in text:
        raise MossError("root index options must be key=value[,key=value]*")
    values = dict(kv.split("=", 1) for kv in text.split(",") if "=" in kv)
    unknown = sorted(set(values) - {"channel", "version", "arch"})
    if unknown:
        raise MossError(f"unknown root index option: {unknown[0]}")
    if "version" not in values:
        raise MossError("root index options need version=stream/NAME (or tag/, history/)")
    return RootIndexSource(
        base_uri=base_uri,
        version=check_version(values["version"]),
        channel=check_identifier(values.get("channel", DEFAULT_CHANNEL), "channel"),
        arch=values.get("arch", DEFAULT_ARCH),
    )


@dataclass(frozen=True)
class RootIndex:
    """The parts of a v0 root index moss needs: where each name points, and formats."""

    streams: dict[str, str]  # name -> history id
    tags: dict[str, str]
    history: dict[str, str]  # history id -> format
    upgrade_via: str | None


def _pointers(data: dict[str, object], key: str, where: str) -> dict[str, str]:
    section = data.get(key, {})
    if not isinstance(section, dict):
        raise MossError(f"{where}: '{key}' must be an object")
    result = {}
    for name, meta in section.items():
        value = meta.get("history") if isinstance(meta, dict) else None
        if not isinstance(value, str):
            raise MossError(f"{where}: {key} {name!r} names no history")
        result[str(name)] = value
    return result


def parse_root_index(text: bytes, where: str) -> RootIndex:
    """A ``moss-root-index.json``; anything malformed is one clear error naming ``where``."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MossError(f"{where}: not a valid root index: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("history"), dict):
        raise MossError(f"{where}: not a valid root index (no 'history')")
    history = {}
    for ident, meta in data["history"].items():
        fmt = meta.get("format") if isinstance(meta, dict) else None
        if not isinstance(fmt, str):
            raise MossError(f"{where}: history {ident!r} has no format")
        history[str(ident)] = fmt
    formats = data.get("formats")
    v0 = formats.get("v0") if isinstance(formats, dict) else None
    upgrade = v0.get("upgrade_via") if isinstance(v0, dict) else None
    return RootIndex(_pointers(data, "streams", where), _pointers(data, "tags", where),
                     history, upgrade if isinstance(upgrade, str) else None)


def resolve_history(index: RootIndex, version: str) -> str | None:
    """The history id a scoped version points at, if the root index has it."""
    scope, _, name = version.partition("/")
    ident = {"stream": index.streams.get(name), "tag": index.tags.get(name),
             "history": name}.get(scope)
    return ident if ident is not None and ident in index.history else None


def resolve_index_uri(source: RootIndexSource, index: RootIndex, repo_id: str) -> str:
    """The ``stone.index`` URI the configured version means today; refuses what moss can't read."""
    history = resolve_history(index, source.version)
    if history is None:
        raise MossError(f"repository {repo_id!r}: the root index {source.uri()} has no "
                        f"version {source.version}")
    fmt = index.history[history]
    if fmt not in SUPPORTED_FORMATS:
        hint = (f"; configure version {index.upgrade_via} to upgrade through it"
                if index.upgrade_via else "")
        raise MossError(f"repository {repo_id!r}: version {source.version} has format {fmt!r}, "
                        f"which this moss cannot read{hint}")
    return source.history_index_uri(history)


def cached_index_uri(cache_dir: Path) -> str:
    """The index URI resolved at the last update ('' when never resolved)."""
    try:
        return (cache_dir / "index-uri").read_text().strip()
    except (FileNotFoundError, NotADirectoryError):
        return ""
