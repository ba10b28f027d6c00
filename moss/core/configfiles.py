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

from moss.core.errors import MossError

FORMATS = (".yaml", ".kdl")
VENDOR = Path("usr/share/moss")
ADMIN = Path("etc/moss")


def _in_folder(folder: Path, domain: str) -> list[Path]:
    found = [folder / f"{domain}{ext}" for ext in FORMATS]
    files = [p for p in found if p.is_file()]
    directory = folder / f"{domain}.d"
    if directory.is_dir():
        files += sorted(p for p in directory.iterdir() if p.suffix in FORMATS and p.is_file())
    return files


def config_files(folders: Sequence[Path], domain: str) -> list[Path]:
    """The files that count, in reading order; a YAML file shadowed by its KDL twin is left out."""
    files: list[Path] = []
    for folder in folders:
        files += _in_folder(folder, domain)
    return [p for p in files if not (p.suffix == ".yaml" and p.with_suffix(".kdl") in files)]


def system_folders(root: Path) -> list[Path]:
    """Vendor then administrator: a later file overrides an earlier entry of the same id."""
    return [root / VENDOR, root / ADMIN]


def read_data(path: Path) -> object:
    """A YAML or KDL configuration file as plain data (mappings, lists, scalars).

    The parsers are imported here, for a file to read: finding that there is none
    (``info`` of an installed package on a root with no repositories) loads neither
    (issue 18: start-up time)."""
    if path.suffix == ".kdl":
        from moss.core import kdl

        return kdl.to_data(kdl.read(path))
    import yaml

    try:
        return yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise MossError(f"cannot read {path}: {exc}") from None
