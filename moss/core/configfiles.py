"""Which configuration files real moss reads, in which order, and their plain data.

Real moss (its ``config`` crate) reads, for a *domain* such as ``repo``, from each
base folder in turn (vendor ``usr/share/moss`` first, then the administrator's
``etc/moss``): the file ``DOMAIN.yaml``/``DOMAIN.kdl``, then every
``DOMAIN.d/*.yaml``/``*.kdl``.  When ``x.yaml`` and ``x.kdl`` both exist, only the
KDL one counts: it is the newer format.  New files are written as KDL.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from moss.core import confined

FORMATS = (".yaml", ".kdl")
VENDOR = Path("usr/share/moss")
ADMIN = Path("etc/moss")


def _in_folder(folder: Path, domain: str, root: Path | None) -> list[Path]:
    found = [folder / f"{domain}{ext}" for ext in FORMATS]
    files = [p for p in found if p.is_file()]
    directory: Path | None = folder / f"{domain}.d"
    if root is not None and directory is not None:
        directory = confined.resolve(root, directory.relative_to(root).as_posix())
    if directory is not None and directory.is_dir():
        files += sorted(p for p in directory.iterdir() if p.suffix in FORMATS and p.is_file())
    return files


def config_files(folders: Sequence[Path], domain: str, root: Path | None = None) -> list[Path]:
    """The files that count, in reading order; a YAML file shadowed by its KDL twin is left out.

    With ``root``, each folder (under it) is first resolved inside it
    (:mod:`moss.core.confined`): a ``repo.d`` linked to a host folder lists nothing
    of the host's."""
    files: list[Path] = []
    for folder in folders:
        if root is not None:
            inside = confined.resolve(root, folder.relative_to(root).as_posix())
            if inside is None:
                continue
            folder = inside
        files += _in_folder(folder, domain, root)
    return [p for p in files if not (p.suffix == ".yaml" and p.with_suffix(".kdl") in files)]


def system_folders(root: Path) -> list[Path]:
    """Vendor then administrator: a later file overrides an earlier entry of the same id."""
    return [root / VENDOR, root / ADMIN]


def is_vendor(root: Path, path: Path) -> bool:
    """True for a file a package ships (under ``usr/``), not the administrator's."""
    return path.relative_to(root).parts[:1] == ("usr",)


def read_data(path: Path, root: Path | None = None) -> object:
    """A YAML or KDL configuration file as plain data (mappings, lists, scalars).

    With ``root`` the file is one of that root's and is read inside it
    (:func:`moss.core.confined.read_config`); either way it is bounded in size,
    and its parser in depth and count (:mod:`moss.core.yamlload`,
    :func:`moss.core.kdl.parse`): every failure is one MossError naming the file.

    The parsers are imported here, for a file to read: finding that there is none
    (``info`` of an installed package on a root with no repositories) loads neither
    (issue 18: start-up time)."""
    if path.suffix == ".kdl":
        from moss.core import kdl

        return kdl.to_data(kdl.read(path, root))
    from moss.core.yamlload import load_yaml

    text = confined.read_config(root, path) if root is not None else confined.read_file(path)
    return load_yaml(text, str(path))
