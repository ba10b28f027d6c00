"""What the ``locales`` and ``docs`` subscriptions save on a real package set.

The package set: this Debian machine's installed packages that ship
translations (a file under ``/usr/share/locale``), each packed with ``moss
pack`` from the files ``dpkg`` lists for it under ``/usr`` (``--quick``: the
first 12).  They are installed into a fresh root with ``LANG=de_DE.UTF-8`` in
``/etc/locale.conf``; then, each followed by ``moss state prune --keep 1`` so
the store holds only what the remaining state uses:

1. everything (the full system);
2. ``subscription add locales`` (German only);
3. ``subscription remove docs`` as well;
4. ``subscription remove locales`` again: docs off alone.

Measured after each: regular files and their bytes under ``/usr`` (apparent
sizes, each path once) and blobs and bytes in the store (``.moss/assets``:
what moss's ``/usr`` costs on disk, its files being hard links to the store).

Baseline: what ``dpkg --path-exclude`` would leave of the same files, with the
rules below (:data:`DPKG_LOCALES`, :data:`DPKG_DOCS`), applied as dpkg does: the
last matching rule wins and ``*`` matches ``/`` too.  dpkg keeps no store, so its
``/usr`` is all it costs; moss's figure to compare with it is the store.

    python -m bench.subscriptions [--quick] [--packages N]
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import io
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from bench.common import Result, print_results, workdir
from moss.cli import main as moss_main
from moss.stone import PackageMeta
from moss.stonetools.pack import pack_tree

DPKG_INFO = Path("/var/lib/dpkg/info")
LANG = "de_DE.UTF-8"
# /etc/dpkg/dpkg.cfg.d/ rules a German user writes to keep only German (the
# shape localepurge's dpkg mode generates: the kept locales listed one by one).
DPKG_LOCALES = [
    ("exclude", "/usr/share/locale/*"),
    ("include", "/usr/share/locale/locale.alias"),
    ("include", "/usr/share/locale/de/*"),
    ("include", "/usr/share/locale/de_DE/*"),
    ("exclude", "/usr/share/man/??/*"),
    ("exclude", "/usr/share/man/??_??/*"),
    ("exclude", "/usr/share/man/??.*/*"),
    ("include", "/usr/share/man/de/*"),
    ("exclude", "/usr/share/help/*"),
    ("include", "/usr/share/help/C/*"),
    ("include", "/usr/share/help/de/*"),
]
# Ubuntu's minimal images' /etc/dpkg/dpkg.cfg.d/excludes, for documentation.
DPKG_DOCS = [
    ("exclude", "/usr/share/doc/*"),
    ("include", "/usr/share/doc/*/copyright"),
    ("exclude", "/usr/share/man/*"),
    ("exclude", "/usr/share/info/*"),
    ("exclude", "/usr/share/gtk-doc/*"),
    ("exclude", "/usr/share/help/*"),
]


@dataclass(frozen=True)
class Usage:
    files: int
    size: int


def translation_packages(limit: int | None) -> list[tuple[str, list[str]]]:
    """(package, its paths under /usr) for each installed package shipping translations."""
    found = []
    for listing in sorted(DPKG_INFO.glob("*.list")):
        paths = [line for line in listing.read_text(errors="replace").splitlines()
                 if line.startswith("/usr/")]
        if any(p.startswith("/usr/share/locale/") for p in paths):
            found.append((listing.stem.split(":")[0], paths))
        if limit is not None and len(found) >= limit:
            break
    return found


def pack_debian(name: str, paths: list[str], work: Path) -> Path | None:
    """A .stone of the regular files and symlinks dpkg lists for ``name``."""
    tree = work / "trees" / name
    for path in paths:
        source = Path(path)
        if not source.is_symlink() and not source.is_file():
            continue  # a directory, or a file removed since
        target = tree / source.relative_to("/usr")
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            os.symlink(os.readlink(source), target)
        else:
            shutil.copyfile(source, target)
            target.chmod(source.stat().st_mode & 0o755)
    if not tree.is_dir():
        return None
    meta = PackageMeta(name=name, version="1", release=1, summary=f"Debian's {name}")
    out = pack_tree(tree, meta, work / f"{name}.stone", level=1)
    shutil.rmtree(tree)
    return out


def moss(root: Path, *args: str) -> None:
    with contextlib.redirect_stdout(io.StringIO()):  # the commands' own reports
        code = moss_main(["-D", str(root), "-y", "--quiet", *args])
    if code != 0:
        raise RuntimeError(f"moss {' '.join(args)} failed ({code})")


def usage(top: Path, skip: str = "") -> Usage:
    files = size = 0
    for dirpath, _dirs, names in os.walk(top):
        for name in names:
            st = (Path(dirpath) / name).lstat()
            if name != skip and st.st_mode & 0o170000 == 0o100000:
                files += 1
                size += st.st_size
    return Usage(files, size)


def dpkg_leaves(tree: dict[str, int], rules: list[tuple[str, str]]) -> Usage:
    """Files and bytes of ``tree`` (path -> size) that dpkg's path rules keep."""
    kept = [size for path, size in tree.items() if _dpkg_keeps(path, rules)]
    return Usage(len(kept), sum(kept))


def _dpkg_keeps(path: str, rules: list[tuple[str, str]]) -> bool:
    keep = True
    for how, pattern in rules:
        if fnmatch.fnmatchcase(path, pattern):
            keep = how == "include"
    return keep


def measure(packages: list[tuple[str, list[str]]], work: Path) -> dict[str, tuple[Usage, Usage]]:
    stones = [s for name, paths in packages if (s := pack_debian(name, paths, work))]
    root = work / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/locale.conf").write_text(f"LANG={LANG}\n")
    moss(root, "install", *map(str, stones))
    steps = [("full system", []), ("locales on (de)", ["add", "locales"]),
             ("locales on, docs off", ["remove", "docs"]),
             ("docs off", ["remove", "locales"])]
    figures = {}
    for label, change in steps:
        if change:
            moss(root, "subscription", *change, "--skip-boot")
            moss(root, "state", "prune", "--keep", "1", "--skip-boot")
        figures[label] = (usage(root / "usr", skip=".stateID"), usage(root / ".moss/assets"))
    return figures


def results(figures: dict[str, tuple[Usage, Usage]], dpkg: dict[str, Usage],
            count: int) -> list[Result]:
    full_usr, full_store = figures["full system"]
    rows = []
    for label in ("locales on (de)", "docs off", "locales on, docs off"):
        usr, store = figures[label]
        note = (f"{count} Debian packages; /usr {usr.files}/{full_usr.files} files, "
                f"store {store.files}/{full_store.files} blobs")
        rows += [
            Result(f"subscriptions: /usr, {label}", usr.size, full_usr.size,
                   "/usr of the full system", "B", note),
            Result(f"subscriptions: /usr, {label}", usr.size, dpkg[label].size,
                   f"dpkg --path-exclude /usr ({dpkg[label].files} files)", "B"),
            Result(f"subscriptions: store, {label}", store.size, full_store.size,
                   "store of the full system", "B"),
            Result(f"subscriptions: store, {label}", store.size, dpkg[label].size,
                   f"dpkg --path-exclude /usr ({dpkg[label].files} files)", "B"),
        ]
    return rows


def run(quick: bool, packages: int | None = None) -> list[Result]:
    chosen = translation_packages(packages or (12 if quick else None))
    if not chosen:
        return [Result("subscriptions", None, None, "-", "B",
                       "no dpkg package with translations on this machine")]
    with workdir("subscriptions") as work:
        figures = measure(chosen, work)
        files = {}  # what dpkg would have unpacked: the same files, from its lists
        for _name, paths in chosen:
            for path in paths:
                source = Path(path)
                if source.is_file() and not source.is_symlink():
                    files[path] = source.stat().st_size
        dpkg = {"locales on (de)": dpkg_leaves(files, DPKG_LOCALES),
                "docs off": dpkg_leaves(files, DPKG_DOCS),
                "locales on, docs off": dpkg_leaves(files, DPKG_LOCALES + DPKG_DOCS)}
        return results(figures, dpkg, len(chosen))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.subscriptions",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="12 packages")
    parser.add_argument("--packages", type=int, help="at most this many packages")
    args = parser.parse_args()
    print_results(run(args.quick, args.packages))


if __name__ == "__main__":
    main()
