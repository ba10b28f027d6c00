"""The subscription step of a transaction: filter the planned tree, then fix up modules.

The layout database keeps every entry of every package; subscriptions only
decide what is blitted.  :func:`apply` runs after the packages are unpacked (so
the definitions and ``modules.alias`` shipped in the new selection can be read
from the store) and before the state is recorded; :func:`record` remembers per
state what was dropped on purpose, so ``moss state verify`` and ``moss info
--files`` of any state know it; :func:`regenerate_module_metadata` runs depmod
on the staging tree once the blit is done, because the shipped ``modules.dep``
lists modules that are no longer there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from moss.core.confined import MAX_CONFIG_BYTES
from moss.core.errors import MossError
from moss.core.root import STATE_ID_FILE, Root
from moss.core.run import run
from moss.db.databases import Databases
from moss.planning.selection import Selected
from moss.stone import EMPTY_DIGEST, FileKind
from moss.store.assets import asset_path
from moss.subscriptions.config import (
    DEFINITIONS_DIR,
    HARDWARE,
    Choices,
    Definition,
    load_choices,
    merge_definitions,
)
from moss.subscriptions.filter import PathRules
from moss.subscriptions.hardware import ModuleChoice, choose_modules
from moss.subscriptions.kmod import from_texts, is_module_file
from moss.subscriptions.locales import system_languages
from moss.subscriptions.modalias import Device, devices_for, pins_for
from moss.tree.plan import Placed, TreePlan

MODULES_DIR = "lib/modules"
FIRMWARE_DIR = "lib/firmware"
# A package provides "kmod-firmware:<module>" to say its lib/firmware files serve
# that module: with the hardware subscription on, they are kept only while one of
# the modules they name is kept.  Packages that declare nothing are left alone.
FIRMWARE_PROVIDER = "kmod-firmware:"
# depmod's inputs, kept as shipped; every other modules.* file it rewrites.
DEPMOD_INPUTS = {"modules.order", "modules.builtin", "modules.builtin.modinfo"}
DROPPED = "dropped"
REGENERATED = "regenerated"


@dataclass
class Filtered:
    """What the subscriptions did to one tree."""

    active: list[str] = field(default_factory=list)
    dropped: dict[str, Placed | None] = field(default_factory=dict)
    regenerated: list[str] = field(default_factory=list)  # rewritten by depmod
    modules: list[ModuleChoice] = field(default_factory=list)

    @property
    def kernels(self) -> list[str]:
        """Kernel versions whose module tree was filtered: depmod runs for these."""
        return [m.kver for m in self.modules]


class TreeFiles:
    """Reads files of a planned tree from the store (the tree is not blitted yet)."""

    def __init__(self, root: Root, plan: TreePlan) -> None:
        self.root = root
        self.plan = plan

    def read(self, target: str) -> bytes | None:
        placed = self.plan.files.get(target)
        if placed is None or placed.entry.file_kind != FileKind.REGULAR:
            return None
        if placed.entry.digest == EMPTY_DIGEST:
            return b""
        try:
            return asset_path(self.root, placed.entry.digest).read_bytes()
        except FileNotFoundError as exc:
            raise MossError(f"/usr/{target}: its asset is missing from the store") from exc

    def size(self, target: str) -> int:
        placed = self.plan.files.get(target)
        if placed is None or placed.entry.file_kind != FileKind.REGULAR:
            return 0
        if placed.entry.digest == EMPTY_DIGEST:
            return 0
        try:
            return asset_path(self.root, placed.entry.digest).stat().st_size
        except FileNotFoundError:
            return 0

    def definitions(self) -> dict[str, Definition]:
        prefix = DEFINITIONS_DIR + "/"
        texts = []
        for target in self.plan.files:
            if target.startswith(prefix) and target.endswith((".yaml", ".yml")):
                if self.size(target) > MAX_CONFIG_BYTES:
                    raise MossError(f"/usr/{target} is larger than {MAX_CONFIG_BYTES} bytes; "
                                    "refused")
                data = self.read(target)
                if data is not None:
                    texts.append((f"/usr/{target}", data.decode(errors="replace")))
        return merge_definitions(texts)

    def kernels(self) -> list[str]:
        return sorted({t.split("/")[2] for t in self.plan.files
                       if t.startswith(MODULES_DIR + "/") and t.count("/") == 3
                       and t.endswith("/modules.alias")})


@dataclass
class Evaluator:
    """Decides drops for one tree; the device list and module choices are computed once."""

    files: TreeFiles
    choices: Choices
    definitions: dict[str, Definition]
    firmware_for: dict[str, set[str]] = field(default_factory=dict)  # package -> modules
    _devices: list[Device] | None = None
    _modules: dict[str, ModuleChoice] = field(default_factory=dict)
    _languages: set[str] | None = None

    def languages(self) -> set[str]:
        """The languages the root's locale settings name; read only while ``locales``
        is on, so a broken ``locale.conf`` stops nothing else."""
        if self._languages is None:
            self._languages = system_languages(self.files.root.path, self.choices.locales)
        return self._languages

    def rules(self, active: list[str]) -> PathRules:
        definitions = list(self.definitions.values())
        wants_languages = any(d.locales and d.name in active for d in definitions)
        return PathRules(definitions, active, self.languages() if wants_languages else None)

    def devices(self) -> list[Device]:
        if self._devices is None:
            self._devices = devices_for(self.choices.modalias_file)
        return self._devices

    def module_choice(self, kver: str) -> ModuleChoice:
        if kver not in self._modules:
            base = f"{MODULES_DIR}/{kver}/"
            texts = [(self.files.read(base + n) or b"").decode(errors="replace")
                     for n in ("modules.alias", "modules.dep", "modules.builtin")]
            kernel = from_texts(kver, *texts)
            pins = pins_for(self.choices.modalias_file, self.choices.pins)
            choice = choose_modules(kernel, self.devices(), pins)
            choice.keep_paths = {base + f for f in choice.keep_files(kernel)}
            self._modules[kver] = choice
        return self._modules[kver]

    def evaluate(self, active: list[str]) -> Filtered:
        plan = self.files.plan
        filtered = Filtered(active=active)
        rules = self.rules(active)
        hardware = HARDWARE in active
        kernels = self.files.kernels() if hardware else []
        filtered.modules = [self.module_choice(k) for k in kernels]
        module_keep = set().union(*(m.keep_paths for m in filtered.modules))
        module_prefixes = tuple(f"{MODULES_DIR}/{k}/" for k in kernels)
        kept_modules = set().union(*(m.keep for m in filtered.modules))
        unused_firmware = {p for p, mods in self.firmware_for.items()
                           if hardware and not mods & kept_modules}

        def drop_file(target: str, package: str) -> bool:
            if target.startswith(DEFINITIONS_DIR + "/") or target == STATE_ID_FILE:
                return False
            if (target.startswith(module_prefixes) and is_module_file(target)
                    and target not in module_keep):
                return True
            if package in unused_firmware and target.startswith(FIRMWARE_DIR + "/"):
                return True
            return rules.dropped(target)

        def droppable_dir(target: str) -> bool:
            return rules.dropped(target) or (hardware and target.startswith(
                (*(p + "kernel" for p in module_prefixes), FIRMWARE_DIR + "/")))

        needed: set[str] = set()
        for target, placed in plan.files.items():
            if drop_file(target, placed.package):
                filtered.dropped[target] = placed
            else:
                needed.update(_ancestors(target))
        for target, declared in plan.directories.items():
            if declared is not None and not droppable_dir(target):
                needed.add(target)
                needed.update(_ancestors(target))
        for target, declared in plan.directories.items():
            if target not in needed:
                filtered.dropped[target] = declared
        for kver in kernels:
            base = f"{MODULES_DIR}/{kver}/"
            filtered.regenerated += sorted(
                t for t in plan.files if t.startswith(base + "modules.")
                and t.count("/") == 3 and t[len(base):] not in DEPMOD_INPUTS)
        return filtered

    def filters_anything(self, active: list[str]) -> bool:
        """False when no rule can drop a path: most transactions skip the walk."""
        return HARDWARE in active or self.rules(active).drops_anything

    def dropped_size(self, filtered: Filtered) -> tuple[int, int]:
        files = [t for t in filtered.dropped if t in self.files.plan.files]
        return len(files), sum(self.files.size(t) for t in files)


def _ancestors(target: str) -> list[str]:
    parts = target.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def evaluator(root: Root, plan: TreePlan, selected: Mapping[str, Selected],
              choices: Choices | None = None) -> Evaluator:
    files = TreeFiles(root, plan)
    firmware_for = {}
    for name, package in selected.items():
        modules = {str(p)[len(FIRMWARE_PROVIDER):].replace("-", "_")
                   for p in package.meta.provides if str(p).startswith(FIRMWARE_PROVIDER)}
        if modules:
            firmware_for[name] = modules
    return Evaluator(files, choices or load_choices(root.path), files.definitions(),
                     firmware_for)


def apply(root: Root, plan: TreePlan, selected: Mapping[str, Selected],
          choices: Choices | None = None) -> tuple[TreePlan, Filtered]:
    """The plan without what the active subscriptions drop, and what was dropped."""
    ev = evaluator(root, plan, selected, choices)
    unknown = [n for n in ev.choices.enabled if n not in ev.definitions]
    if unknown:
        raise MossError(f"unknown subscription(s) {', '.join(unknown)}: "
                        "see `moss subscription list`")
    active = ev.choices.active(ev.definitions)
    if not ev.filters_anything(active):
        return plan, Filtered(active=active)
    filtered = ev.evaluate(active)
    kept = TreePlan(
        directories={t: p for t, p in plan.directories.items() if t not in filtered.dropped},
        files={t: p for t, p in plan.files.items() if t not in filtered.dropped},
    )
    return kept, filtered


@dataclass
class Subscribed:
    """What the active subscriptions add to a selection."""

    names: list[str] = field(default_factory=list)  # names or providers
    subpackages: list[str] = field(default_factory=list)  # suffixes: P brings P-<suffix>


def subscribed_packages(root: Root, dbs: Databases, current: Mapping[str, Selected],
                        choices: Choices | None = None) -> Subscribed:
    """Names, providers and subpackage suffixes the active subscriptions add.

    A subscription that is on by default (``docs``) brings its subpackages only once
    added by name (``moss subscription add docs``): otherwise upgrading from real moss
    would install every ``P-docs`` a repository offers at the next transaction.

    They are selected implicitly: they stay while a subscription wants them and
    go, as orphans, when none does.  Definitions come from the current
    selection: a subscription shipped by a package being installed in this same
    transaction takes effect on the next.
    """
    plan = TreePlan()  # only the definition files: reading them needs nothing else
    for selected in current.values():
        for entry in dbs.layout.entries(selected.id):
            if entry.target.startswith(DEFINITIONS_DIR + "/"):
                plan.files[entry.target] = Placed(selected.meta.name, entry)
    ev = evaluator(root, plan, current, choices)
    wanted = Subscribed()
    for name in ev.choices.active(ev.definitions):
        definition = ev.definitions[name]
        wanted.names += [p for p in definition.packages if p not in wanted.names]
        if definition.default and name not in ev.choices.enabled:
            continue  # on by default only: no P-<suffix> real moss would not install
        wanted.subpackages += [s for s in definition.subpackages if s not in wanted.subpackages]
    return wanted


def record(dbs: Databases, state_id: int, filtered: Filtered) -> None:
    """Remember what this state's tree left out on purpose, and its subscriptions."""
    paths = [(t, DROPPED) for t in filtered.dropped]
    paths += [(t, REGENERATED) for t in filtered.regenerated]
    dbs.state.set_filtered(state_id, filtered.active, paths)


def regenerate_module_metadata(usr: Path, filtered: Filtered) -> None:
    """Run depmod on each kernel whose module tree was filtered, inside ``usr``.

    The tree is usr-merged, so ``usr`` serves as depmod's base directory
    (``<usr>/lib/modules/<kver>``).  depmod writes each file to a temporary
    name and renames it, so the hard links into the store are replaced, never
    written through.
    """
    for kver in filtered.kernels:
        run(["depmod", "-b", usr, kver],
            missing="depmod (kmod) is needed to filter kernel modules; "
                    "install kmod or turn off the hardware subscription")
