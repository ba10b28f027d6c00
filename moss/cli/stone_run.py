"""What ``moss inspect``, ``extract``, ``pack`` and ``index`` do once their arguments are
parsed (``stone_commands`` builds their parsers and loads this module only to run one:
the stone reader and writer import zstandard, which no other command should pay for).
"""

from __future__ import annotations

import argparse
import stat
import sys
from pathlib import Path
from typing import Any

from moss.cli.stone_check import check_all
from moss.core.errors import MossError
from moss.core.progress import Progress
from moss.stone import (
    Dependency,
    FileKind,
    FileType,
    LayoutEntry,
    MetaTag,
    PackageMeta,
    PayloadHeader,
    StoneReader,
    open_stone,
)
from moss.stonetools.extract import extract_each, extract_packages
from moss.stonetools.index import index_folder
from moss.stonetools.pack import pack_tree


def split_list(values: list[str]) -> list[str]:
    """``--depends a,b --depends c`` is three values: split each on commas outside
    parentheses (``soname(libfoo.so.1(x86_64))`` has none, but stay safe)."""
    out: list[str] = []
    for value in values:
        depth, item = 0, ""
        for ch in value:
            depth += (ch == "(") - (ch == ")")
            if ch == "," and depth == 0:
                out.append(item.strip())
                item = ""
            else:
                item += ch
        out.append(item.strip())
    return [v for v in out if v]


def _dependencies(values: list[str], option: str) -> list[Dependency]:
    try:
        return [Dependency.parse(v) for v in split_list(values)]
    except ValueError as exc:
        raise MossError(f"--{option}: {exc}") from None


def _warn_destdir(tree: Path) -> None:
    """A DESTDIR (``tree/usr/bin``) packed as /usr would install ``/usr/usr/bin``."""
    if (tree / "usr").is_dir() and not any(
        (tree / d).exists() for d in ("bin", "lib", "share", "sbin", "libexec", "include")
    ):
        print(f"moss: warning: {tree} holds usr/: its files will land in /usr/usr/...; "
              f"pack {tree / 'usr'} instead if that is the /usr tree", file=sys.stderr)


def cmd_pack(args: argparse.Namespace) -> int:
    meta = PackageMeta(
        name=args.name,
        version=args.version,
        release=args.release,
        build_release=args.build_release,
        architecture=args.architecture,
        summary=args.summary,
        description=args.description,
        homepage=args.homepage,
        source_id=args.name,
        licenses=split_list(args.licenses),
        depends=_dependencies(args.depends, "depends"),
        provides=_dependencies(args.provides, "provides"),
        conflicts=_dependencies(args.conflicts, "conflicts"),
    )
    _warn_destdir(args.tree)
    if not args.no_auto_deps and Path(args.tree).is_dir():
        _add_derived(meta, args.tree)
    output = args.output or Path(
        f"{meta.name}-{meta.version}-{meta.release}-{meta.build_release}-"
        f"{meta.architecture}.stone"
    )
    out = pack_tree(args.tree, meta, output, level=args.level,
                    progress=Progress(enabled=False if args.quiet else None))
    if not args.quiet:
        print(f"Wrote {out} ({meta.id})")
    return 0


def _add_derived(meta: PackageMeta, tree: Path) -> None:
    """Boulder's providers and dependencies of ``tree``, after those given by hand."""
    from moss.stonetools.autodeps import derive

    found = derive(tree)
    meta.provides.extend(p for p in found.provides if p not in meta.provides)
    provided = set(meta.provides)
    meta.depends.extend(d for d in found.depends
                        if d not in meta.depends and d not in provided)


def cmd_index(args: argparse.Namespace) -> int:
    result = index_folder(args.dir, output=args.output_dir)
    if not args.quiet:
        for old, kept in result.dropped:
            print(f"Left out {old.uri}: {old.name} release {old.release} is older than "
                  f"release {kept.release} ({kept.uri}); an index offers one release "
                  "of each package")
        print(f"Wrote {result.path} ({len(result.packages)} packages)")
    return 0


def cmd_extract(args: argparse.Namespace) -> int:
    progress = Progress(enabled=False if args.quiet else None)
    if args.dest is None:  # real moss's form, into -o DIR or the current directory
        for path, tree in extract_each(args.files, args.output_dir or Path("."), progress):
            if not args.quiet:
                print(f"Extract: {path} -> {tree}")
        return 0
    usr = extract_packages(args.files, args.dest, progress)
    if not args.quiet:
        print(f"Extracted {len(args.files)} package(s) into {usr}")
    return 0


# --- inspect ------------------------------------------------------------------------


def _savings(h: PayloadHeader) -> float:
    return 100.0 * (1 - h.stored_size / h.plain_size) if h.plain_size else 0.0


def _payload_json(h: PayloadHeader) -> dict[str, Any]:
    return {
        "kind": h.kind.name.lower(),
        "compression": h.compression.name.lower(),
        "stored_size": h.stored_size,
        "plain_size": h.plain_size,
        "records": h.records,
        "checksum": f"{h.checksum:016x}",
    }


def _meta_json(meta: PackageMeta) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": meta.id,
        "name": meta.name,
        "version": meta.version,
        "release": meta.release,
        "build_release": meta.build_release,
        "architecture": meta.architecture,
        "summary": meta.summary,
        "description": meta.description,
        "homepage": meta.homepage,
        "source_id": meta.source_id,
        "licenses": meta.licenses,
        "depends": [str(d) for d in meta.depends],
        "provides": [str(d) for d in meta.provides],
        "conflicts": [str(d) for d in meta.conflicts],
        "extra": [
            {"tag": r.tag, "type": r.type, "value": _value_text(r.value)} for r in meta.extra
        ],
    }
    for key in ("uri", "hash", "size"):
        if getattr(meta, key) is not None:
            out[key] = getattr(meta, key)
    return out


def _value_text(value: object) -> str | int:
    if isinstance(value, bytes):
        return value.hex()
    return value if isinstance(value, int) else str(value)


def _layout_json(entry: LayoutEntry) -> dict[str, Any]:
    out: dict[str, Any] = {
        "target": "/usr/" + entry.target,
        "kind": entry.file_kind.name.lower(),
        "mode": f"{entry.mode:o}",
        "uid": entry.uid,
        "gid": entry.gid,
    }
    if entry.file_kind is FileKind.REGULAR:
        out["digest"] = f"{entry.digest:032x}"
    elif entry.file_kind is FileKind.SYMLINK:
        out["link"] = entry.source
    return out


def _inspect_json(reader: StoneReader) -> dict[str, Any]:
    out: dict[str, Any] = {
        "path": str(reader.path),
        "file_type": reader.file_type.name.lower(),
        "version": reader.version,
        "payloads": [_payload_json(h) for h in reader.payload_headers()],
    }
    if reader.file_type is FileType.REPOSITORY:
        out["packages"] = [_meta_json(m) for m in reader.repository_metas()]
        return out
    metas = [_meta_json(m) for m in reader.repository_metas()]
    if metas:
        out["meta"] = metas[0]
        out["metas"] = metas  # a build manifest has one per package of the recipe
    out["layout"] = [_layout_json(e) for e in reader.layout()]
    return out


def _print_meta(meta: PackageMeta) -> None:
    rows: list[tuple[str, object]] = [
        ("Name", meta.name),
        ("Version", meta.version),
        ("Release", meta.release),
        ("Build Release", meta.build_release),
        ("Architecture", meta.architecture),
        ("Summary", meta.summary),
        ("Description", meta.description),
        ("Homepage", meta.homepage),
        ("Source ID", meta.source_id),
    ]
    rows += [("License", lic) for lic in meta.licenses]
    rows += [("Package URI", meta.uri), ("Package Hash", meta.hash), ("Package Size", meta.size)]
    for r in meta.extra:
        try:
            label = MetaTag(r.tag).name.replace("_", " ").title()
        except ValueError:
            label = f"Tag {r.tag}"
        rows.append((label, _value_text(r.value)))
    for label, value in rows:
        if value is not None and value != "":
            print(f"{label:<15} : {value}")
    for title, deps in (
        ("Dependencies", meta.depends),
        ("Providers", meta.provides),
        ("Conflicts", meta.conflicts),
    ):
        if deps:
            print(f"\n{title}:")
            for dep in deps:
                print(f"    - {dep}")


def _print_layout_entry(entry: LayoutEntry) -> None:
    mode = f"{stat.filemode(entry.mode)} {entry.uid}:{entry.gid}"
    if entry.file_kind is FileKind.REGULAR:
        print(f"    - /usr/{entry.target} - [Regular] {entry.digest:032x} ({mode})")
    elif entry.file_kind is FileKind.SYMLINK:
        link = entry.source if isinstance(entry.source, str) else entry.source.hex()
        print(f"    - /usr/{entry.target} -> {link} [Symlink] ({mode})")
    else:
        print(f"    - /usr/{entry.target} [{entry.file_kind.name.title()}] ({mode})")


def _inspect_text(reader: StoneReader) -> None:
    print(f"{reader.path}: {reader.file_type.name.replace('_', ' ').title()}, v{reader.version}")
    for h in reader.payload_headers():
        print(
            f"Payload: {h.kind.name.title()} [Records: {h.records} "
            f"Compression: {h.compression.name.title()}, Savings: {_savings(h):.2f}%, "
            f"Size: {h.plain_size} bytes]"
        )
    if reader.file_type is FileType.REPOSITORY:
        for meta in reader.repository_metas():
            print()
            _print_meta(meta)
        return
    for meta in reader.repository_metas():  # several in a recipe's build manifest
        print()
        _print_meta(meta)
    layout = reader.layout()
    if layout:
        print(f"\nLayout entries ({len(layout)}):")
        for entry in layout:
            _print_layout_entry(entry)


def cmd_inspect(args: argparse.Namespace) -> int:
    if args.check_quiet and not args.check:
        from moss.core.errors import UsageError

        raise UsageError("inspect: -q/--quiet requires --check")
    if args.check:
        return check_all(args.files, args.check_quiet)
    results = []
    for n, path in enumerate(args.files):
        with open_stone(path) as reader:
            if args.json:
                results.append(_inspect_json(reader))
            else:
                if n:
                    print()
                _inspect_text(reader)
    if args.json:
        from moss.cli.output import print_json

        print_json(results if len(results) > 1 else results[0])
    return 0
