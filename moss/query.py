"""Read-only questions about a root: what is installed, and what a package holds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from moss.errors import MossError
from moss.root import Root, read_state_id
from moss.selection import Selected, selection_of
from moss.stone import FileKind, LayoutEntry
from moss.transaction import databases


@dataclass(frozen=True)
class InstalledPackage:
    id: str
    name: str
    version: str
    release: int
    summary: str
    explicit: bool

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "version": self.version,
                "release": self.release, "summary": self.summary, "explicit": self.explicit}


def installed(root_path: Path) -> list[InstalledPackage]:
    root = Root(root_path)
    with databases(root) as dbs:
        selected = selection_of(dbs, read_state_id(root.usr))
    return [_installed(s) for s in sorted(selected.values(), key=lambda s: s.meta.name)]


def package_info(root_path: Path, name: str) -> tuple[InstalledPackage, dict[str, object],
                                                      list[LayoutEntry]]:
    """The installed package called ``name``: summary row, full meta, and its layout."""
    root = Root(root_path)
    with databases(root) as dbs:
        selected = selection_of(dbs, read_state_id(root.usr)).get(name)
        if selected is None:
            raise MossError(f"{name} is not installed")
        layout = dbs.layout.entries(selected.id)
    meta = selected.meta
    details: dict[str, object] = {
        "name": meta.name, "version": meta.version, "release": meta.release,
        "build_release": meta.build_release, "architecture": meta.architecture,
        "summary": meta.summary, "description": meta.description, "homepage": meta.homepage,
        "licenses": meta.licenses, "depends": [str(d) for d in meta.depends],
        "provides": [str(p) for p in meta.provides],
        "conflicts": [str(c) for c in meta.conflicts],
    }
    return _installed(selected), details, layout


def describe_entry(entry: LayoutEntry) -> str:
    if entry.file_kind == FileKind.SYMLINK:
        return f"/usr/{entry.target} -> {entry.source!s}"
    return f"/usr/{entry.target}"


def _installed(s: Selected) -> InstalledPackage:
    return InstalledPackage(s.id, s.meta.name, s.meta.version, s.meta.release, s.meta.summary,
                            s.explicit)
