"""What ``moss subscription`` and ``moss hardware`` do, as library calls.

Changing subscriptions is a transaction: a new state is built with the new
choices (and can be rolled back like any other); the choices are written to
``/etc/moss/subscriptions.yaml`` only once that state exists.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from moss.actions import transaction
from moss.core import fs
from moss.core.errors import MossError, PartlyDone
from moss.core.root import Root, read_state_id
from moss.db.databases import databases
from moss.planning.request import offered_names, subpackage_names
from moss.planning.selection import Selected, selection_of
from moss.subscriptions.config import Choices, Definition, load_choices, save_choices
from moss.subscriptions.hardware import DeviceModules, choose_modules
from moss.subscriptions.kmod import is_module_file, read_kernel_modules
from moss.subscriptions.modalias import devices_for, pins_for, read_modalias_file
from moss.subscriptions.step import MODULES_DIR, Evaluator, evaluator
from moss.tree.plan import TreePlan, plan_tree


@dataclass
class SubscriptionInfo:
    definition: Definition
    active: bool
    # What switching it (on if off, off if on) does to the tree: positive saves.
    toggle_files: int
    toggle_bytes: int
    # Subpackages switching it removes (installed, measured in the numbers above)
    # or brings from the repositories (not measured: their files are not here yet).
    toggle_packages: list[str] = dataclasses.field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        d = self.definition
        return {"name": d.name, "description": d.description, "active": self.active,
                "default": d.default, "source": d.source, "keep": list(d.keep),
                "drop": list(d.drop), "packages": list(d.packages),
                "toggle": {"action": "remove" if self.active else "add",
                           "saves_files": self.toggle_files,
                           "saves_bytes": self.toggle_bytes,
                           "packages": self.toggle_packages}}


def _active_plan(root: Root) -> tuple[TreePlan, dict[str, Selected]]:
    if not root.db.is_dir():
        return TreePlan(), {}  # nothing installed; and a query must not create databases
    with databases(root) as dbs:
        selected = selection_of(dbs, dbs.state.pending() or read_state_id(root.usr))
        plan = plan_tree((s.meta.name, dbs.layout.entries(s.id)) for s in selected.values())
        return plan, selected


def _evaluator(root_path: Path, choices: Choices | None = None) -> Evaluator:
    root = Root(root_path)
    return evaluator(root, *_active_plan(root), choices)


def list_subscriptions(root_path: Path) -> list[SubscriptionInfo]:
    root = Root(root_path)
    plan, selected = _active_plan(root)
    ev = evaluator(root, plan, selected)
    active = ev.choices.active(ev.definitions)
    now = ev.evaluate(active)
    now_files, now_bytes = ev.dropped_size(now)
    infos = []
    for name, definition in ev.definitions.items():
        on = name in active
        toggled = sorted(set(active) - {name}) if on else sorted({*active, name})
        then = ev.evaluate(toggled)
        files, size = ev.dropped_size(then)
        info = SubscriptionInfo(definition, on, files - now_files, size - now_bytes)
        others = {s for n in active if n != name for s in ev.definitions[n].subpackages}
        suffixes = [s for s in definition.subpackages if s not in others]
        if suffixes and on:
            info.toggle_packages = _subpackages_of(selected, suffixes)
            # Their files the tree has now and would not lose to the paths alone.
            kept = [t for t, p in plan.files.items() if p.package in info.toggle_packages
                    and t not in now.dropped and t not in then.dropped]
            info.toggle_files += len(kept)
            info.toggle_bytes += sum(ev.files.size(t) for t in kept)
        elif suffixes:
            absent = [n for n in subpackage_names(selected, suffixes) if n not in selected]
            offered = offered_names(root_path, absent)
            info.toggle_packages = [n for n in absent if n in offered]
        infos.append(info)
    return infos


def _subpackages_of(selected: dict[str, Selected], suffixes: Sequence[str]) -> list[str]:
    """The installed ``P-<suffix>`` of installed packages P that nobody asked for by name."""
    wanted = set(subpackage_names(selected, suffixes))
    return sorted(n for n, s in selected.items() if n in wanted and not s.explicit)


def new_choices(root_path: Path, add: Sequence[str] = (), remove: Sequence[str] = ()
                ) -> Choices:
    """The user's choices with ``add`` turned on and ``remove`` off; unknown names refused."""
    ev = _evaluator(root_path)
    unknown = [n for n in [*add, *remove] if n not in ev.definitions]
    if unknown:
        raise MossError(f"no subscription named {', '.join(unknown)}: "
                        "see `moss subscription list`")
    choices = dataclasses.replace(ev.choices)
    choices.enabled = sorted((set(choices.enabled) | set(add)) - set(remove))
    choices.disabled = sorted((set(choices.disabled) | set(remove)) - set(add))
    # What differs from the definition's default is written down; so is a default
    # added by name when it brings subpackages: only then does it bring them
    # (moss.subscriptions.step.subscribed_packages).
    choices.enabled = [n for n in choices.enabled
                       if not ev.definitions[n].default or ev.definitions[n].subpackages]
    choices.disabled = [n for n in choices.disabled if ev.definitions[n].default]
    return choices


def preview(root_path: Path, choices: Choices) -> tuple[int, int]:
    """Files and bytes the active state's tree would shrink by with ``choices``."""
    current = _evaluator(root_path)
    if not current.files.plan.files:
        raise MossError("nothing is installed: subscriptions shape a state's packages")
    proposed = dataclasses.replace(current, choices=choices)
    now = current.dropped_size(current.evaluate(current.choices.active(current.definitions)))
    new = proposed.dropped_size(proposed.evaluate(choices.active(proposed.definitions)))
    return new[0] - now[0], new[1] - now[1]


def change(root_path: Path, choices: Choices, summary: str,
           options: transaction.Options) -> transaction.Outcome:
    """Build a state with ``choices``; save them once it exists.

    A state that went live and then failed its triggers or boot entries
    (:class:`PartlyDone`) exists with these choices: they are saved too.
    """
    try:
        outcome = transaction.run(root_path, transaction.Request(
            summary=summary, subscriptions=choices, rebuild=True), options)
    except PartlyDone:
        save_choices(root_path, choices)
        raise
    if outcome.state_id is not None:
        save_choices(root_path, choices)
    return outcome


@dataclass
class KernelReport:
    kver: str
    devices: list[DeviceModules]
    pinned: list[str]
    kept: list[str]  # module names whose files are kept
    total_files: int
    total_bytes: int
    kept_files: int
    kept_bytes: int

    def to_json(self) -> dict[str, object]:
        return {"kver": self.kver, "devices": [d.to_json() for d in self.devices],
                "pinned": self.pinned, "modules": self.kept,
                "module_files": {"total": self.total_files, "kept": self.kept_files,
                                 "saved": self.total_files - self.kept_files},
                "module_bytes": {"total": self.total_bytes, "kept": self.kept_bytes,
                                 "saved": self.total_bytes - self.kept_bytes}}


def hardware_report(root_path: Path, modalias_file: Path | None = None,
                    modules_dir: Path | None = None) -> list[KernelReport]:
    """Devices, their modules and the saving, for each kernel of the active state.

    ``modules_dir`` (a ``lib/modules/<kver>`` directory) reports on that kernel
    instead, e.g. a kernel package unpacked somewhere.
    """
    choices = load_choices(root_path)
    if modalias_file is not None:
        read_modalias_file(modalias_file)  # a bad list is an error even with no kernel
        choices.modalias_file = modalias_file
    if modules_dir is not None:
        return [_directory_report(modules_dir, choices)]
    ev = _evaluator(root_path, choices)
    reports = []
    for kver in ev.files.kernels():
        choice = ev.module_choice(kver)
        prefix = f"{MODULES_DIR}/{kver}/"
        modules = [t for t in ev.files.plan.files if t.startswith(prefix) and is_module_file(t)]
        kept = [t for t in modules if t in choice.keep_paths]
        reports.append(KernelReport(
            kver, choice.devices, choice.pinned, sorted(choice.keep),
            len(modules), sum(ev.files.size(t) for t in modules),
            len(kept), sum(ev.files.size(t) for t in kept)))
    return reports


def _directory_report(moddir: Path, choices: Choices) -> KernelReport:
    if not (moddir / "modules.alias").is_file():
        raise MossError(f"{moddir}: no modules.alias here (expected lib/modules/<kver>)")
    kernel = read_kernel_modules(moddir)
    choice = choose_modules(kernel, devices_for(choices.modalias_file),
                            pins_for(choices.modalias_file, choices.pins))
    sizes = {}
    for dirpath, _dirs, names in fs.walk(moddir):
        for name in names:
            path = Path(dirpath) / name
            if is_module_file(name):
                sizes[str(path.relative_to(moddir))] = path.lstat().st_size
    kept = choice.keep_files(kernel) & set(sizes)
    return KernelReport(kernel.kver, choice.devices, choice.pinned, sorted(choice.keep),
                        len(sizes), sum(sizes.values()),
                        len(kept), sum(sizes[p] for p in kept))
