"""A real Debian kernel for tests, fetched with apt and cached between runs.

Installing ``linux-image-*`` would run a generic dracut in its postinst (70 s,
500 MB), so the package is only downloaded and unpacked.  The unpacked tree is
kept under ``/var/cache/moss-tests/`` so later test sessions (and CI reruns on
the same machine) reuse it; the download happens here, inside the fixture that
needs it, so a fresh machine works without a separate set-up step.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

CACHE = Path(os.environ.get("MOSS_TEST_CACHE", "/var/cache/moss-tests"))
META_PACKAGE = "linux-image-amd64"


class KernelUnavailable(Exception):
    """The kernel could not be fetched (no apt, no network, no candidate)."""


@dataclass(frozen=True)
class DebianKernel:
    kver: str
    package: str
    root: Path  # the unpacked package: boot/, lib/modules/<kver>/
    vmlinuz: Path
    moddir: Path  # root/lib/modules/<kver>, with depmod already run


def _run(cmd: list[str], cwd: Path | None = None) -> str:
    try:
        proc = subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise KernelUnavailable(f"{cmd[0]} is not installed") from exc
    except subprocess.CalledProcessError as exc:
        raise KernelUnavailable(
            f"{' '.join(cmd)} failed ({exc.returncode}): {exc.stderr.strip()[-500:]}"
        ) from exc
    return proc.stdout


def _versioned(package: str) -> bool:
    prefix = "linux-image-"
    return package.startswith(prefix) and package[len(prefix) : len(prefix) + 1].isdigit()


def kernel_package() -> str:
    """The versioned package the ``linux-image-amd64`` meta package points at."""
    out = _run(["apt-cache", "depends", META_PACKAGE])
    for line in out.splitlines():
        words = line.split()
        if len(words) == 2 and words[0] == "Depends:" and _versioned(words[1]):
            return words[1]
    raise KernelUnavailable(f"apt-cache knows no kernel behind {META_PACKAGE} (run apt-get update)")


def _describe(package: str, root: Path) -> DebianKernel:
    modules = root / "lib" / "modules"
    kvers = sorted(p.name for p in modules.iterdir()) if modules.is_dir() else []
    if len(kvers) != 1:
        raise KernelUnavailable(f"{root}: expected one kernel in lib/modules, found {kvers}")
    kver = kvers[0]
    return DebianKernel(
        kver=kver,
        package=package,
        root=root,
        vmlinuz=root / "boot" / f"vmlinuz-{kver}",
        moddir=modules / kver,
    )


def debian_kernel(cache: Path = CACHE) -> DebianKernel:
    """Return the cached kernel, downloading and unpacking it on first use.

    A lock file serialises concurrent test sessions; the unpacked tree is
    renamed into place only when complete, so an interrupted fetch is redone.
    """
    package = kernel_package()
    cache.mkdir(parents=True, exist_ok=True)
    final = cache / "kernel" / package
    with open(cache / ".kernel.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (final / ".complete").exists():
            _fetch(package, final)
    return _describe(package, final)


def _fetch(package: str, final: Path) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{package}.", dir=final.parent))
    try:
        # apt drops privileges to _apt for downloads; a world-writable dir avoids the warning.
        os.chmod(work, 0o755)
        _run(["apt-get", "download", "-q", package], cwd=work)
        debs = sorted(work.glob(f"{package}_*.deb"))
        if not debs:
            raise KernelUnavailable(f"apt-get download {package} produced no .deb")
        tree = work / "tree"
        _run(["dpkg-deb", "-x", str(debs[0]), str(tree)])
        debs[0].unlink()
        kernel = _describe(package, tree)
        _run(["depmod", "-b", str(tree), kernel.kver])
        (tree / ".complete").write_text(package + "\n")
        if final.exists():
            shutil.rmtree(final)
        tree.rename(final)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    k = debian_kernel()
    print(k.kver, k.vmlinuz, k.moddir)
