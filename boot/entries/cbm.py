"""The clr-boot-manager backend: stage kernels the way it reads them, then run it.

clr-boot-manager reads kernels from ``<path>/usr/lib/kernel`` of the root it is
told to manage (``--path``), named ``<ns>.<variant>.<version>-<release>`` with
``cmdline-<version>-<release>.<variant>``, ``initrd-<ns>.<variant>.<version>-<release>``,
``config-...`` and a ``default-<variant>`` symlink naming the kernel to boot by
default.  moss's states are not one root, so moss builds a staging root
(``ROOT/.moss/boot/clr-boot-manager`` unless ``cbm-root`` says otherwise) with
one kernel per (state, kernel): the release number is the state id, so the
newest state is also the highest release, and each cmdline file carries that
state's ``moss.fstx``.  Files are hard links into the state trees where possible.
clr-boot-manager garbage-collects kernels on $BOOT by its own rules, so how many
older states stay in its menu is its choice; moss restages them on every sync.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from boot.config import BootConfig
from boot.model import BootState, SyncReport
from boot.plan import choose
from boot.statetree.cmdline import assemble
from boot.statetree.kernels import Kernel
from boot.writing import esp
from moss.core.fs import atomic_symlink, fsync_dir
from moss.core.progress import QUIET, Progress
from moss.core.root import Root
from moss.core.run import run


def staging_root(root: Path, config: BootConfig) -> Path:
    return config.cbm_root or Root(root).cbm_staging


def version_and_variant(kernel: Kernel) -> tuple[str, str]:
    """clr-boot-manager's version may not contain '-', and its kernel type
    (variant) must be letters only; without one it is 'default'."""
    version, variant = kernel.version, kernel.variant
    if not version:
        match = re.fullmatch(r"(\d[\w.]*?)(?:-(\d+))?(?:\.([A-Za-z]\w*))?", kernel.kver)
        version = match[1] if match else kernel.kver
        variant = variant or (match[3] if match and match[3] else "")
    return version.replace("-", "_"), re.sub(r"[^A-Za-z]", "", variant) or "default"


def _place(src: Path, dest: Path) -> bool:
    """Hard-link (or copy across filesystems) ``src`` to ``dest``; False if already there."""
    with contextlib.suppress(FileNotFoundError):
        if os.path.samefile(src, dest) or esp.same_file(src, dest):
            return False
    tmp = dest.with_name(f".{dest.name}.moss-new")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copy2(src, tmp)
    os.replace(tmp, dest)
    return True


def sync(
    root: Path,
    states: Sequence[BootState],
    active: int,
    pending: int | None,
    config: BootConfig,
    progress: Progress = QUIET,
) -> SyncReport:
    """Restage every chosen (state, kernel), drop the rest, then run clr-boot-manager."""
    stage = staging_root(root, config)
    kdir = stage / "usr" / "lib" / "kernel"
    kdir.mkdir(parents=True, exist_ok=True)
    report = SyncReport(config.boot_dir)
    chosen, default_key = choose(states, active, pending, config.keep)
    wanted: set[str] = set()
    defaults: dict[str, str] = {}
    for c in chosen:
        for kernel in c.kernels:
            staged = stage_kernel(root, kdir, c.state, kernel, config, report)
            wanted.update(staged.files)
            if default_key == (c.state.id, kernel.kver):
                report.default = staged.image
                defaults[staged.variant] = staged.image
            defaults.setdefault(staged.variant, staged.image)
    wanted.update(link_defaults(kdir, defaults, report))
    remove_unwanted(kdir, wanted, report)
    if report.changed:
        fsync_dir(kdir)
    run_tool(stage, report)
    return report


@dataclass(frozen=True)
class Staged:
    """One kernel as clr-boot-manager reads it: its image name and every file it has."""

    image: str
    variant: str
    files: list[str]


def stage_kernel(root: Path, kdir: Path, state: BootState, kernel: Kernel,
                 config: BootConfig, report: SyncReport) -> Staged:
    """Link a state's kernel, initrd and config into ``kdir``, and write its cmdline."""
    version, variant = version_and_variant(kernel)
    release = str(state.id)  # the newest state is the highest release
    image = f"{config.cbm_namespace}.{variant}.{version}-{release}"
    suffix = f"{version}-{release}.{variant}"
    report.entries.append(image)
    files: dict[str, Path] = {image: kernel.image}
    if kernel.initrds:
        files[f"initrd-{image}"] = kernel.initrds[0]
    if kernel.config is not None:
        files[f"config-{suffix}"] = kernel.config
    for name, src in files.items():
        if _place(src, kdir / name):
            report.copied.append(kdir / name)
    options = assemble(root, state.usr, kernel, state.id, config.cmdline_root)
    if esp.write_text(kdir / f"cmdline-{suffix}", options + "\n"):
        report.written.append(kdir / f"cmdline-{suffix}")
    return Staged(image, variant, [*files, f"cmdline-{suffix}"])


def link_defaults(kdir: Path, defaults: dict[str, str], report: SyncReport) -> list[str]:
    """Point ``default-<variant>`` at the image to boot; returns the link names."""
    names = []
    for variant, image in defaults.items():
        link = kdir / f"default-{variant}"
        names.append(link.name)
        if not link.is_symlink() or os.readlink(link) != image:
            atomic_symlink(image, link)
            report.written.append(link)
    return names


def remove_unwanted(kdir: Path, wanted: set[str], report: SyncReport) -> None:
    """Kernels of states no longer chosen leave the staging (dot files are in-flight)."""
    for path in sorted(kdir.iterdir()):
        if path.name not in wanted and not path.name.startswith("."):
            report.removed.extend(esp.remove_files([path]))


def run_tool(stage: Path, report: SyncReport) -> None:
    """``clr-boot-manager update`` on the staging root, when it is installed."""
    tool = shutil.which("clr-boot-manager")
    if tool is not None:
        command = [tool, "update", f"--path={stage}"]
        report.commands.append(command)
        run(command, name="clr-boot-manager update")
