"""Real moss's system model: one KDL file that says which repositories and packages make a system.

::

    repositories {
        volatile {
            description "where the build infra lands freshly built packages"
            base-uri "https://build.aerynos.dev/"
            version "stream/volatile"
            priority 10
        }
        local {
            uri "file:///path/to/my/stone.index"
            priority 1
            enabled #false
        }
    }
    packages {
        foo
        "pkgconfig(zlib)"
    }

Real moss writes one into every state (``usr/lib/system-model.kdl``), exports it
(``moss state export``) and builds a state from one (``moss sync --import FILE``);
with ``/etc/moss/system-model.kdl`` present it takes its repositories from there.
This is how a fleet gets the same selection on every machine from one file.
Decoding and encoding follow its ``system_model/{decode,encode}.rs``: a disabled
repository is ``enabled #false`` (not ``active``), ``priority`` is required, and
both lists are written sorted (repositories by id, packages by provider text).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from moss.core import confined, kdl
from moss.core.errors import MossError
from moss.repo.config import MAX_PRIORITY, Repository, check_uri, load_repositories, resolved
from moss.repo.rootindex import (
    DEFAULT_ARCH,
    DEFAULT_CHANNEL,
    RootIndexSource,
    check_identifier,
    check_version,
)
from moss.stone import PackageMeta

ADMIN_MODEL = Path("etc/moss/system-model.kdl")
STATE_MODEL = Path("lib/system-model.kdl")  # inside each state's /usr


@dataclass
class SystemModel:
    repositories: list[Repository] = field(default_factory=list)
    packages: list[str] = field(default_factory=list)  # names or providers, e.g. soname(...)
    disable_warning: bool = False


def _text(node: kdl.Node, name: str, where: str, default: str | None = None) -> str:
    value = node.value(name)
    if value is None and default is not None:
        return default
    if not isinstance(value, str):
        raise MossError(f"{where}: {name} must be a string" if value is not None
                        else f"{where}: missing {name}")
    return value


def _repository(node: kdl.Node, source: str) -> Repository:
    where = f"{source}: repository {node.name!r}"
    priority = node.value("priority")
    if (not isinstance(priority, int) or isinstance(priority, bool)
            or not 0 <= priority <= MAX_PRIORITY):
        raise MossError(f"{where}: priority must be a whole number from 0 to {MAX_PRIORITY}")
    enabled = node.value("enabled")
    if enabled is not None and not isinstance(enabled, bool):
        raise MossError(f"{where}: enabled must be #true or #false")
    root_index = None
    uri = node.value("uri")
    if uri is None:
        root_index = RootIndexSource(
            base_uri=_text(node, "base-uri", where),
            version=check_version(_text(node, "version", where)),
            channel=check_identifier(_text(node, "channel", where, DEFAULT_CHANNEL), "channel"),
            arch=_text(node, "arch", where, DEFAULT_ARCH))
    elif isinstance(uri, str):
        check_uri(uri)
    else:
        raise MossError(f"{where}: uri must be a string")
    return Repository(
        # Real moss's repository::Id::new: anything but alphanumerics and '-' becomes '_'.
        id="".join(c if c.isalnum() or c == "-" else "_" for c in node.name),
        uri=uri if isinstance(uri, str) else "",
        description=_text(node, "description", where, ""),
        priority=priority, active=enabled is not False, root_index=root_index)


def decode(text: str, source: str = "system-model.kdl") -> SystemModel:
    """A system model from its KDL text; anything malformed is one error naming ``source``."""
    nodes = kdl.parse(text, source)
    top = {n.name: n for n in nodes}
    disable = top["disable_warning"].args[0] if "disable_warning" in top and \
        top["disable_warning"].args else False
    if not isinstance(disable, bool):
        raise MossError(f"{source}: disable_warning must be #true or #false")
    repos = [_repository(n, source) for n in top["repositories"].children] \
        if "repositories" in top else []
    packages = [n.name for n in top["packages"].children] if "packages" in top else []
    return SystemModel(repos, packages, disable)


def load(path: Path, root: Path | None = None) -> SystemModel | None:
    """The model at ``path``, or None when there is none; with ``root``, a file of
    that root, read inside it (a link out of it is no model)."""
    if root is not None:
        found = confined.resolve(root, path.relative_to(root).as_posix())
        if found is None or not found.is_file():
            return None
    elif not path.is_file():
        return None
    return decode(kdl.read_text(path, root), str(path))


def _sort_key(provider: str) -> str:
    return provider if "(" in provider else f"name({provider})"


def _repository_node(repo: Repository) -> kdl.Node:
    fields = [kdl.leaf("description", repo.description)]
    src = repo.root_index
    if src is None:
        fields.append(kdl.leaf("uri", repo.uri))
    else:
        fields.append(kdl.leaf("base-uri", src.base_uri))
        if src.channel != DEFAULT_CHANNEL:
            fields.append(kdl.leaf("channel", src.channel))
        fields.append(kdl.leaf("version", src.version))
        if src.arch != DEFAULT_ARCH:
            fields.append(kdl.leaf("arch", src.arch))
    fields.append(kdl.leaf("priority", repo.priority))
    if not repo.active:
        fields.append(kdl.leaf("enabled", False))
    return kdl.parent(repo.id, fields)


def encode(repositories: Iterable[Repository], packages: Iterable[str]) -> str:
    """The KDL real moss writes for these repositories and packages (its ``encode``)."""
    repos = sorted(repositories, key=lambda r: r.id)
    names = sorted(set(packages), key=_sort_key)
    return kdl.dumps([kdl.parent("repositories", map(_repository_node, repos)),
                      kdl.parent("packages", (kdl.Node(n) for n in names))])


def create(repositories: Sequence[Repository], packages: Iterable[str]) -> str:
    """A fresh model: the active repositories and the explicitly selected packages."""
    return encode([r for r in repositories if r.active], packages)


def repositories(root: Path) -> list[Repository]:
    """The repositories moss uses: ``/etc/moss/system-model.kdl``'s when it exists (as
    real moss, whose repository manager then reads only the model), else the configured
    ones; most preferred first."""
    model = load(root / ADMIN_MODEL, root)
    if model is None:
        return load_repositories(root)
    repos = [resolved(root, r) for r in model.repositories]
    return sorted(repos, key=lambda r: (-r.priority, r.id))


def refuse_repo_edit(root: Path, command: str) -> None:
    """Real moss refuses ``moss repo add|remove|enable|disable`` under a system model."""
    if (root / ADMIN_MODEL).is_file():
        raise MossError(f"`moss repo {command}` is not allowed with a system model: edit the "
                        f"repositories in /{ADMIN_MODEL}")


def synced_packages(model: SystemModel, explicit: Sequence[PackageMeta]) -> list[str]:
    """The model's package list after a transaction, as real moss's ``sync_packages``:
    entries no explicit package provides go, explicit packages not yet covered are added
    by name, and entries still met keep their spelling (``pkgconfig(zlib)`` stays)."""
    from moss.planning.resolve import provider_keys  # the resolver: not for a query

    provided = {key for meta in explicit for key in provider_keys(meta)}
    kept = [p for p in model.packages if p in provided]
    added = [m.name for m in explicit if not set(provider_keys(m)) & set(kept)]
    return [*kept, *added]


def state_model(root: Path, explicit: Sequence[PackageMeta], imported: SystemModel | None,
                repositories: Sequence[Repository]) -> str:
    """The ``usr/lib/system-model.kdl`` of a new state.

    From the imported model, else ``/etc/moss/system-model.kdl``, with its package
    list synced; else a fresh one from the active repositories and the explicit
    packages, as real moss's ``update_or_create_system_model``.
    """
    model = imported if imported is not None else load(root / ADMIN_MODEL, root)
    if model is None:
        return create(repositories, (m.name for m in explicit))
    return encode(model.repositories, synced_packages(model, explicit))
