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
import subprocess
from collections.abc import Sequence
from pathlib import Path

from boot import esp
from boot.cmdline import assemble
from boot.config import BootConfig
from boot.kernels import Kernel
from boot.model import BootState, SyncReport
from boot.plan import choose
from moss.core.errors import MossError
from moss.core.fs import atomic_symlink, fsync_dir
from moss.core.progress import QUIET, Progress


def staging_root(root: Path, config: BootConfig) -> Path:
    return config.cbm_root or root / ".moss" / "boot" / "clr-boot-manager"


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
    stage = staging_root(root, config)
    kdir = stage / "usr" / "lib" / "kernel"
    kdir.mkdir(parents=True, exist_ok=True)
    report = SyncReport(config.boot_dir)
    chosen, default_key = choose(states, active, pending, config.keep)
    ns = config.cbm_namespace

    wanted: set[str] = set()
    defaults: dict[str, str] = {}
    for c in chosen:
        for kernel in c.kernels:
            version, variant = version_and_variant(kernel)
            release = str(c.state.id)
            image = f"{ns}.{variant}.{version}-{release}"
            suffix = f"{version}-{release}.{variant}"
            report.entries.append(image)
            if default_key == (c.state.id, kernel.kver):
                report.default = image
                defaults[variant] = image
            files: dict[str, Path] = {image: kernel.image}
            if kernel.initrds:
                files[f"initrd-{image}"] = kernel.initrds[0]
            if kernel.config is not None:
                files[f"config-{suffix}"] = kernel.config
            for name, src in files.items():
                wanted.add(name)
                if _place(src, kdir / name):
                    report.copied.append(kdir / name)
            options = assemble(root, c.state.usr, kernel, c.state.id, config.cmdline_root)
            wanted.add(f"cmdline-{suffix}")
            if esp.write_text(kdir / f"cmdline-{suffix}", options + "\n"):
                report.written.append(kdir / f"cmdline-{suffix}")
            defaults.setdefault(variant, image)

    for variant, image in defaults.items():
        link = kdir / f"default-{variant}"
        wanted.add(link.name)
        if not link.is_symlink() or os.readlink(link) != image:
            atomic_symlink(image, link)
            report.written.append(link)
    for path in sorted(kdir.iterdir()):
        if path.name not in wanted and not path.name.startswith("."):
            report.removed.extend(esp.remove_files([path]))

    if report.changed:
        fsync_dir(kdir)

    tool = shutil.which("clr-boot-manager")
    if tool is not None:
        command = [tool, "update", f"--path={stage}"]
        result = subprocess.run(command, check=False, capture_output=True, text=True)
        report.commands.append(command)
        if result.returncode != 0:
            raise MossError(
                f"clr-boot-manager update failed ({result.returncode}): "
                f"{(result.stderr or result.stdout).strip()}"
            )
    return report
