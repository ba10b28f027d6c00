"""Subscription definitions (shipped by the distribution) and the user's choices.

A definition is a YAML file in ``/usr/share/moss/subscriptions.d/`` — shipped by
a package, so it is part of the state like any other file — holding one
mapping, or a list of them::

    name: docs                      # required: [a-z0-9][a-z0-9_.-]*
    description: Documentation in /usr/share/doc
    default: true                   # on unless the user turns it off (default: false)
    keep: [share/doc]               # paths kept only while this subscription is on
    drop: []                        # paths dropped while this subscription is on
    packages: []                    # names or providers added while it is on
    drop-when-off: []               # paths dropped while it is off (no keep while on)
    subpackages: []                 # suffixes: each package P brings P-<suffix> while on
    locales: false                  # drop translations into languages the system does not use

Paths are globs relative to ``/usr`` (a leading ``/usr/`` is accepted): ``*``
and ``?`` stop at ``/``, ``**`` crosses it, and a pattern that matches a
directory covers everything below it.  Which rule wins, strongest first: the
``keep`` of a subscription that is on, the ``drop`` of a subscription that is
on, the ``keep`` of a subscription that is off (dropped), otherwise kept.  So
``drop: [share/locale]`` in one subscription and ``keep: [share/locale/de]`` in
another leaves German only.

``hardware`` is built in: while on, only the kernel modules this machine's
devices need (see :mod:`moss.subscriptions.hardware`) reach the state.  So are
``locales``, ``docs``, ``devel``, ``dbginfo`` and ``32bit`` (see :data:`BUILT_IN`);
a shipped definition of the same name replaces them.  No definition may drop
``/usr/bin``, ``/usr/sbin`` or a kernel: :func:`check_protected` refuses it.

The user's choices live in ``/etc/moss/subscriptions.yaml``::

    enabled: [hardware]             # turned on (beyond the defaults)
    locales: [fr_FR]                # for 'locales': languages kept beyond the system's
    disabled: [docs]                # defaults turned off
    hardware:
      modalias-file: /path/to/list  # another machine's devices (default: udev)
      pin: [fs-ext4, dm_crypt]      # modules, or aliases naming them, always kept
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from moss.core import confined, fs
from moss.core.errors import MossError
from moss.core.yamlload import load_yaml
from moss.subscriptions.globs import matches

DEFINITIONS_DIR = "share/moss/subscriptions.d"  # relative to /usr
CHOICES_FILE = Path("etc/moss/subscriptions.yaml")  # relative to the root
HARDWARE = "hardware"
LOCALES = "locales"
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*\Z")


@dataclass(frozen=True)
class Definition:
    name: str
    description: str = ""
    default: bool = False
    keep: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()
    source: str = "built in"
    modalias: bool = False  # the hardware subscription: chooses kernel modules
    drop_when_off: tuple[str, ...] = ()
    subpackages: tuple[str, ...] = ()  # suffixes: P brings P-<suffix> while this is on
    locales: bool = False  # while on: translations only into the system's languages


# Where packages keep documentation (Debian's, Fedora's and AerynOS's layouts).
# Translated man pages go with the rest of share/man: the locales subscription
# only chooses among what docs lets through.
DOC_PATHS = ("share/doc", "share/man", "share/info", "share/gtk-doc", "share/help",
             "share/devhelp/books", "share/gnome/help", "share/omf", "share/javadoc")

BUILT_IN = [
    Definition(HARDWARE, "only the kernel modules (and their dependencies) that this "
               "machine's devices need, by udev MODALIAS", modalias=True),
    Definition(LOCALES, "translations only into the languages this system uses "
               "(/etc/locale.conf, /etc/default/locale)", locales=True),
    Definition("docs", "documentation (share/doc, share/man, share/info, share/help...) "
               "and each package's -docs subpackage", default=True,
               drop_when_off=DOC_PATHS, subpackages=("docs",)),
    Definition("devel", "each package's -devel subpackage (headers, pkg-config files)",
               subpackages=("devel",)),
    Definition("dbginfo", "each package's -dbginfo subpackage (debug symbols)",
               subpackages=("dbginfo",)),
    Definition("32bit", "each package's -32bit subpackage (32-bit libraries)",
               subpackages=("32bit",)),
]
# Paths no subscription may drop: a system without them does not start.
PROTECTED_PROBES = ("bin", "bin/sh", "bin/moss", "sbin", "sbin/init", "lib/kernel",
                    "lib/kernel/default-x86_64", "lib/kernel/6.1.0/vmlinuz",
                    "lib/modules/6.1.0/vmlinuz", "lib/systemd/systemd")


@dataclass
class Choices:
    enabled: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    modalias_file: Path | None = None
    pins: list[str] = field(default_factory=list)
    locales: list[str] = field(default_factory=list)  # kept beyond the system's settings

    def active(self, definitions: dict[str, Definition]) -> list[str]:
        """The names that are on: defaults not disabled, plus what the user enabled."""
        on = {n for n, d in definitions.items() if d.default and n not in self.disabled}
        on |= {n for n in self.enabled if n in definitions}
        return sorted(on)

    def to_yaml(self) -> dict[str, Any]:
        data: dict[str, Any] = {"enabled": sorted(self.enabled),
                                "disabled": sorted(self.disabled)}
        hardware: dict[str, Any] = {}
        if self.modalias_file:
            hardware["modalias-file"] = str(self.modalias_file)
        if self.pins:
            hardware["pin"] = list(self.pins)
        if hardware:
            data[HARDWARE] = hardware
        if self.locales:
            data[LOCALES] = list(self.locales)
        return data


def _strings(value: object, where: str, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise MossError(f"{where}: '{key}' must be a list of strings")
    return tuple(value)


def parse_definitions(text: str, where: str) -> list[Definition]:
    data = load_yaml(text, where)
    items = data if isinstance(data, list) else [data]
    definitions = []
    for item in items:
        if not isinstance(item, dict):
            raise MossError(f"{where}: a subscription must be a mapping with a 'name'")
        unknown = set(item) - {"name", "description", "default", "keep", "drop", "packages",
                               "drop-when-off", "subpackages", "locales"}
        if unknown:
            raise MossError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        name = item.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise MossError(f"{where}: subscription name {name!r} is not [a-z0-9][a-z0-9_.-]*")
        if name == HARDWARE:
            raise MossError(f"{where}: '{HARDWARE}' is built into moss and cannot be redefined")
        subpackages = _strings(item.get("subpackages"), where, "subpackages")
        bad = [s for s in subpackages if not _NAME.match(s)]
        if bad:
            raise MossError(f"{where}: subpackage suffix {bad[0]!r} is not [a-z0-9][a-z0-9_.-]*")
        definition = Definition(
            name=name, description=str(item.get("description") or ""),
            default=bool(item.get("default", False)),
            keep=_strings(item.get("keep"), where, "keep"),
            drop=_strings(item.get("drop"), where, "drop"),
            packages=_strings(item.get("packages"), where, "packages"),
            source=where,
            drop_when_off=_strings(item.get("drop-when-off"), where, "drop-when-off"),
            subpackages=subpackages,
            locales=bool(item.get("locales", False)),
        )
        check_protected(definition)
        definitions.append(definition)
    return definitions


def check_protected(definition: Definition) -> None:
    """Refuse a definition with a pattern that would drop ``/usr/bin`` or a kernel.

    Every pattern can drop (``keep`` drops while off), so each is tried against
    paths that stand for what must stay.
    """
    for pattern in (*definition.keep, *definition.drop, *definition.drop_when_off):
        hit = next((p for p in PROTECTED_PROBES if matches([pattern], p)), None)
        if hit is not None:
            raise MossError(f"{definition.source}: subscription {definition.name!r}: "
                            f"pattern {pattern!r} would drop /usr/{hit}; refused")


def merge_definitions(files: Iterable[tuple[str, str]]) -> dict[str, Definition]:
    """Built-ins plus every ``(where, text)`` file, sorted by name; a later name wins."""
    definitions = {d.name: d for d in BUILT_IN}
    for where, text in sorted(files):
        for definition in parse_definitions(text, where):
            definitions[definition.name] = definition
    return dict(sorted(definitions.items()))


def load_choices(root: Path) -> Choices:
    path = root / CHOICES_FILE
    if not path.exists() and not path.is_symlink():
        return Choices()
    data = load_yaml(confined.read_config(root, path), str(path)) or {}
    if not isinstance(data, dict):
        raise MossError(f"{path}: expected a mapping with 'enabled' and 'disabled'")
    hardware = data.get(HARDWARE) or {}
    if not isinstance(hardware, dict):
        raise MossError(f"{path}: '{HARDWARE}' must be a mapping")
    modalias_file = hardware.get("modalias-file")
    return Choices(
        enabled=list(_strings(data.get("enabled"), str(path), "enabled")),
        disabled=list(_strings(data.get("disabled"), str(path), "disabled")),
        modalias_file=Path(modalias_file) if modalias_file else None,
        pins=list(_strings(hardware.get("pin"), str(path), f"{HARDWARE}.pin")),
        locales=list(_strings(data.get(LOCALES), str(path), LOCALES)),
    )


def save_choices(root: Path, choices: Choices) -> None:
    path = root / CHOICES_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "# moss subscriptions: see `moss subscription list`\n"
    text += yaml.safe_dump(choices.to_yaml(), sort_keys=False)
    fs.atomic_write(path, text.encode())
