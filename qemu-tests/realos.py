"""The second guest: a real Debian 12 userland (systemd, udev, python3) run by moss.

``mmdebstrap`` builds a minimal bookworm root from the mirror the host's apt
uses; its ``/usr`` becomes one package (``debian``), everything else (``/etc``,
``/var``...) a skeleton tarball laid under the root before moss installs into
it.  moss itself, with its Python dependencies copied from the test's
virtualenv (manylinux wheels for CPython 3.11, the guest's Python), is another
package (``moss``): bookworm has no ``python3-blake3``, and its
``python3-zstandard`` (0.20) and ``python3-cryptography`` (38) are older than
moss requires, so all of them come from the venv.  Bytecode is compiled as
*unchecked-hash*: a tree of hard links keeps no source mtimes, so timestamp-checked
``.pyc`` files would be rewritten in place under ``/usr`` on the first import.

The userland takes minutes to build (more under load), so it is cached under
``/var/cache/moss-tests/realos/`` keyed by a hash of the package list, the
mirror lines and this file.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from moss.stone import PackageMeta
from moss.stonetools.pack import pack_tree
from tests.support.debian_kernel import CACHE

REALOS_CACHE = CACHE / "realos"
SUITE = "bookworm"
# The userland: init, device manager, module loader, mount, Python for moss;
# systemd-boot for systemd-bless-boot (and the boot loader and systemd-stub moss uses);
# for Secure Boot, what moss signs and builds unified images with (sbsigntool, objcopy
# from binutils); for the encrypted root, cryptsetup (moss reads the LUKS2 tokens) and the
# TPM2 libraries systemd-cryptenroll loads, and tpm2-tools for the installer's setting of
# the TPM's dictionary-attack parameters (realvm.INSTALL).
INCLUDE = ("systemd", "systemd-sysv", "systemd-boot", "udev", "kmod", "python3", "mount",
           "util-linux", "sbsigntool", "binutils", "cryptsetup-bin", "libtss2-esys-3.0.2-0",
           "libtss2-rc0", "libtss2-mu0", "libtss2-tctildr0", "libtss2-tcti-device0",
           "tpm2-tools")
# moss's runtime dependencies, copied from the venv the tests run in (with theirs).


def _runtime_dependencies() -> tuple[str, ...]:
    """moss's runtime dependencies as pyproject.toml declares them (not the test extras),
    so a new dependency reaches the guest without anyone remembering to list it here."""
    with open(Path(__file__).resolve().parent.parent / "pyproject.toml", "rb") as f:
        declared = tomllib.load(f)["project"]["dependencies"]
    return tuple(re.split(r"[ ;<>=!~\[(]", d, maxsplit=1)[0] for d in declared)


MOSS_DEPS = _runtime_dependencies()
# This file as it was imported: the userland's cache key must describe the package list
# this process builds with, not a newer copy edited on disk meanwhile.
_SOURCE = Path(__file__).read_text()
PROJECT = Path(__file__).resolve().parent.parent
GUEST_PYTHON = "python3.11"
BUILD_TIMEOUT = 1500  # seconds for mmdebstrap on a loaded host (cold: ~6 min idle)


class UserlandUnavailable(Exception):
    """The Debian userland cannot be built here (no mmdebstrap, no mirror...)."""


@dataclass(frozen=True)
class Userland:
    stone: Path  # the ``debian`` package: Debian's /usr
    skeleton: Path  # tar of everything outside /usr (etc, var, root...)


def mirror_lines() -> list[str]:
    """``deb`` lines for mmdebstrap from the host's own apt sources (deb822 or one-line)."""
    lines: list[str] = []
    sources = Path("/etc/apt/sources.list.d")
    for path in sorted(sources.glob("*.sources")):
        for stanza in path.read_text().split("\n\n"):
            fields = dict(
                (k.strip(), v.strip()) for k, _, v in
                (ln.partition(":") for ln in stanza.splitlines() if not ln.startswith("#"))
                if v
            )
            if fields.get("Types", "").split()[:1] != ["deb"] or "URIs" not in fields:
                continue
            for suite in fields.get("Suites", "").split():
                if suite.startswith(SUITE):
                    lines.append(f"deb {fields['URIs'].split()[0]} {suite} main")
    listfile = Path("/etc/apt/sources.list")
    if listfile.is_file():
        for ln in listfile.read_text().splitlines():
            words = ln.split()
            if len(words) >= 3 and words[0] == "deb" and words[2].startswith(SUITE):
                lines.append(f"deb {words[1]} {words[2]} main")
    if not lines:
        lines = [f"deb http://deb.debian.org/debian {SUITE} main"]
    return lines


def _key(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part.encode()).digest())
    return h.hexdigest()[:16]


def _debootstrap_command(out: Path) -> list[str]:
    return ["mmdebstrap", "--variant=essential", "--format=directory",
            f"--include={','.join(INCLUDE)}",
            "--aptopt=Acquire::Retries \"3\"", "--dpkgopt=path-exclude=/usr/share/doc/*",
            "--dpkgopt=path-exclude=/usr/share/man/*",
            "--dpkgopt=path-exclude=/usr/share/locale/*", SUITE, str(out), *mirror_lines()]


def _run(cmd: list[str], timeout: float = 600) -> str:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError as exc:
        raise UserlandUnavailable(f"{cmd[0]} is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise UserlandUnavailable(f"{' '.join(cmd[:3])} ran longer than {timeout:.0f} s") from exc
    if proc.returncode != 0:
        raise UserlandUnavailable(f"{' '.join(cmd[:3])}... failed ({proc.returncode}):\n"
                                  f"{proc.stderr[-3000:]}")
    return proc.stdout


def userland() -> Userland:
    """The cached Debian userland, built on first use (one builder at a time)."""
    final = REALOS_CACHE / f"userland-{_key(_SOURCE, *mirror_lines())}"
    REALOS_CACHE.mkdir(parents=True, exist_ok=True)
    with open(REALOS_CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (final / ".complete").exists():
            work = Path(tempfile.mkdtemp(prefix=".userland.", dir=REALOS_CACHE))
            try:
                _build_userland(work)
                if final.exists():
                    shutil.rmtree(final)
                (work / ".complete").touch()
                work.rename(final)
            finally:
                shutil.rmtree(work, ignore_errors=True)
    return Userland(final / "debian.stone", final / "skeleton.tar")


def _build_userland(work: Path) -> None:
    if shutil.which("mmdebstrap") is None:
        raise UserlandUnavailable("mmdebstrap is not installed (scripts/setup.sh)")
    tree = work / "rootfs"
    _run(["cp", "-a", str(_debootstrap()), str(tree)])
    # the stdlib's bytecode, compiled inside the tree by its own Python
    _run(["chroot", str(tree), f"/usr/bin/{GUEST_PYTHON}", "-m", "compileall", "-q", "-f",
          "-j0", "--invalidation-mode", "unchecked-hash", f"/usr/lib/{GUEST_PYTHON}",
          "/usr/lib/python3/dist-packages"])
    _fit_for_moss(tree)
    pack_tree(tree / "usr", PackageMeta(name="debian", version="12", release=1,
                                        summary="Debian 12 userland for the qemu-tests"),
              work / "debian.stone")
    skeleton = [p.name for p in tree.iterdir() if p.name != "usr" and not p.is_symlink()]
    _run(["tar", "-C", str(tree), "--numeric-owner", "-cpf", str(work / "skeleton.tar"),
          *sorted(skeleton)])
    shutil.rmtree(tree)


def _debootstrap() -> Path:
    """mmdebstrap's root of the package list, cached by the command that makes it."""
    out = REALOS_CACHE / f"rootfs-{_key(*_debootstrap_command(Path('-')))}"
    if not out.is_dir():
        part = out.with_name(out.name + ".part")
        shutil.rmtree(part, ignore_errors=True)
        _run(_debootstrap_command(part), timeout=BUILD_TIMEOUT)
        part.rename(out)
    return out


def _fit_for_moss(tree: Path) -> None:
    """What a Debian tree needs under moss's root links (``lib64 -> usr/lib``)."""
    usr = tree / "usr"
    # Debian's binaries ask for /lib64/ld-linux-x86-64.so.2; moss's /lib64 is /usr/lib.
    loader = usr / "lib" / "ld-linux-x86-64.so.2"
    if not loader.exists():
        os.symlink("x86_64-linux-gnu/ld-linux-x86-64.so.2", loader)
    # moss makes these links itself; Debian's own would make the trees disagree
    for name in ("bin", "sbin", "lib", "lib64", "lib32", "libx32"):
        if (tree / name).is_symlink():
            (tree / name).unlink()
    for stale in ("var/cache/apt/archives", "var/lib/apt/lists"):
        shutil.rmtree(tree / stale, ignore_errors=True)
        (tree / stale).mkdir(parents=True, exist_ok=True)
    # a root without a password logs in on the console, for debugging by hand
    shadow = tree / "etc" / "shadow"
    shadow.write_text(re.sub(r"^root:[^:]*:", "root::", shadow.read_text(), flags=re.M))


# --- moss itself ---------------------------------------------------------------------------

MOSS_SCRIPT = "#!/usr/bin/python3\nfrom moss.cli import run\nrun()\n"


def _distribution_files(names: tuple[str, ...]) -> list[Path]:
    """Every installed file of ``names`` and their requirements (closure), from the venv."""
    seen: set[str] = set()
    files: list[Path] = []
    todo = list(names)
    while todo:
        name = todo.pop()
        dist = importlib.metadata.distribution(name)
        key = dist.metadata["Name"].lower().replace("_", "-")
        if key in seen:
            continue
        seen.add(key)
        for f in dist.files or []:
            if "__pycache__" not in f.parts and not str(f).startswith(".."):
                files.append(Path(str(f.locate())))
        for req in dist.requires or []:
            if "extra ==" not in req:
                todo.append(re.split(r"[ ;<>=!~\[(]", req, maxsplit=1)[0])
    return files


def moss_package(workdir: Path, release: int = 1) -> Path:
    """``moss``: this checkout's ``moss`` and ``boot`` with their dependencies."""
    tree = workdir / f"tree-moss-{release}"
    site = tree / "lib" / "python3" / "dist-packages"
    site.mkdir(parents=True)
    for package in ("moss", "boot"):
        shutil.copytree(PROJECT / package, site / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    venv_site = Path(str(importlib.metadata.distribution("xxhash").locate_file("")))
    for path in _distribution_files(MOSS_DEPS):
        rel = path.relative_to(venv_site)
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, site / rel)
    (tree / "bin").mkdir()
    (tree / "bin" / "moss").write_text(MOSS_SCRIPT)
    (tree / "bin" / "moss").chmod(0o755)
    _run(["/usr/bin/python3", "-m", "compileall", "-q", "-f", "-j0", "--invalidation-mode",
          "unchecked-hash", "-s", str(tree), "-p", "/usr", str(site)])
    meta = PackageMeta(name="moss", version="0.1.0", release=release,
                       summary="moss, from the checkout under test")
    return pack_tree(tree, meta, workdir / f"moss-{release}.stone")


def unpack_skeleton(userland_: Userland, root: Path) -> None:
    with tarfile.open(userland_.skeleton) as tar:
        tar.extractall(root, numeric_owner=True, filter="fully_trusted")
