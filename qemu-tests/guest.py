"""A tiny bootable OS made with moss itself: its packages, its root and its disk images.

The userland is busybox-static with an ``/usr/sbin/init`` script that reports on
the serial console what booted (``GUEST key=value`` lines) and powers off.  The
kernel package holds a real Debian kernel and a dracut initramfs with moss's
pivot agent (90moss), only the drivers of a virtio machine.  ``moss -D ROOT``
installs the packages, its automatic boot sync writes ``ROOT/efi``; the root
becomes an ext4 image and the ESP a FAT image without any loop mount.

The initramfs takes seconds to build, so it is cached under
``/var/cache/moss-tests/qemu/`` keyed by a hash of everything that goes into it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from moss.stone import PackageMeta
from moss.stonetools.pack import pack_tree
from tests.support.debian_kernel import CACHE, DebianKernel
from tests.support.dracut import build_images, private_dracut

PROJECT = Path(__file__).resolve().parent.parent
MOSS = [sys.executable, "-m", "moss"]
BUSYBOX = Path("/bin/busybox")
SYSTEMD_BOOT = Path("/usr/lib/systemd/boot/efi/systemd-bootx64.efi")
OVMF_VARS = Path("/usr/share/OVMF/OVMF_VARS_4M.fd")
MTOOLS = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}
QEMU_CACHE = CACHE / "qemu"
# What the initramfs needs for an ext4 root on a virtio disk, and nothing else.
DRACUT_MODULES = ("rootfs-block",)
DRIVERS = ("virtio_pci", "virtio_blk", "ext4")


@dataclass(frozen=True)
class InitrdKind:
    """Which dracut image a guest's kernel package carries."""

    flavour: str  # tests.support.dracut.FLAVOURS: the busybox guest's plain one, or systemd
    modules: tuple[str, ...]
    drivers: tuple[str, ...]


PLAIN = InitrdKind("plain", DRACUT_MODULES, DRIVERS)
# The real-OS guest's machine: a LUKS2 root (btrfs in it, or LVM then ext4) unlocked by
# systemd-cryptsetup with the TPM2 token (tpm2-tss brings the token plugin and libtss2),
# and, for the installer's first boot only, a key file on a small ext4 disk.
ENCRYPTED = InitrdKind("systemd", ("rootfs-block", "crypt", "dm", "lvm", "btrfs", "tpm2-tss"),
                       ("virtio_pci", "virtio_blk", "ext4", "btrfs", "dm_crypt", "dm_mod"))
# Every guest line the tests read starts with this, so kernel noise never matches.
MARK = "GUEST "

INIT = """#!/bin/sh
# The guest's init (qemu-tests): report what booted on the console, then power off.
export PATH=/usr/bin:/usr/sbin
# dracut's switch_root moved /proc, /sys and /run (with the agent's record) here.
[ -e /proc/self ] || mount -t proc proc /proc
grep -q " /sys " /proc/mounts || mount -t sysfs sysfs /sys
grep -q " /run " /proc/mounts || mount -t tmpfs tmpfs /run
echo "GUEST stateid=$(cat /usr/.stateID)"
echo "GUEST uname=$(uname -r)"
echo "GUEST cmdline=$(cat /proc/cmdline)"
echo "GUEST pivot=$(cat /run/moss/pivot.json 2>/dev/null)"
# what a non-systemd init hands to `moss boot bless`: the counted entry systemd-boot booted
# (efivarfs is a module in Debian's kernels; only a kernel package built with it has it)
ko=/usr/lib/modules/$(uname -r)/kernel/fs/efivarfs/efivarfs.ko
grep -q efivarfs /proc/filesystems || { [ -f "$ko" ] && insmod "$ko"; }
efi=/sys/firmware/efi/efivars
grep -q " $efi " /proc/mounts || mount -t efivarfs efivarfs $efi 2>/dev/null
count=$efi/LoaderBootCountPath-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f
[ -f $count ] && echo "GUEST bootcountpath=$(tail -c +5 $count | tr -d '\000')"
for f in /usr/share/qemu-guest/*; do echo "GUEST package=$(cat "$f")"; done
echo "GUEST uptime=$(cut -d' ' -f1 /proc/uptime)"
# the root's mount and the agent's lines: the agent's share of the boot, from the kernel log
dmesg | grep -e moss-pivot -e 'EXT4-fs (vda): mounted' | sed 's/^/GUEST kmsg=/'
# what a test asks for: scripts it put into the root (outside /usr, so in every state)
for f in /etc/qemu-guest/report.d/*; do [ -f "$f" ] && . "$f"; done
echo "GUEST done"
sync
mount -o remount,ro /
poweroff -f
"""

BROKEN_INIT = """#!/bin/sh
# A broken init (qemu-tests): it exits, so the kernel panics and (panic=1) resets.
echo "GUEST broken-init=$(cat /usr/.stateID)"
exit 1
"""


@dataclass(frozen=True)
class GuestKernel:
    kver: str
    vmlinuz: Path
    initrd: Path
    moddir: Path  # the Debian package's lib/modules/<kver>, depmod already run


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()[:16]


def _tree_bytes(*dirs: Path) -> bytes:
    """The names and contents of the agent's and the dracut module's sources."""
    out = []
    for d in dirs:
        for f in sorted(p for p in d.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            out.append(str(f.relative_to(PROJECT)).encode() + b"\0" + f.read_bytes())
    return b"\0\0".join(out)


def guest_kernel(kernel: DebianKernel, kind: InitrdKind = PLAIN) -> GuestKernel:
    """The kernel with a dracut initramfs holding 90moss, built once per set of inputs."""
    key = _digest(
        kernel.package.encode(),
        kernel.vmlinuz.read_bytes(),
        _tree_bytes(PROJECT / "initrd", PROJECT / "dracut-module"),
        (PROJECT / "moss" / "core" / "ondisk.py").read_bytes(),  # installed beside the agent
        " ".join((kind.flavour, *kind.modules, *kind.drivers)).encode(),
        Path("/usr/lib/dracut/dracut-version.sh").read_bytes(),
    )
    final = QEMU_CACHE / f"initrd-{kernel.kver}-{key}"
    QEMU_CACHE.mkdir(parents=True, exist_ok=True)
    with open(QEMU_CACHE / ".initrd.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (final / "initrd.img").is_file():
            work = Path(tempfile.mkdtemp(prefix=".initrd.", dir=QEMU_CACHE))
            try:
                basedir = private_dracut(work / "dracut")
                images = build_images(
                    basedir, kernel, work, [kind.flavour], extra_modules=kind.modules,
                    drivers=kind.drivers,
                )
                out = work / "out"
                out.mkdir()
                images[kind.flavour].image.rename(out / "initrd.img")
                if final.exists():
                    shutil.rmtree(final)
                out.rename(final)
            finally:
                shutil.rmtree(work, ignore_errors=True)
    return GuestKernel(kernel.kver, kernel.vmlinuz, final / "initrd.img", kernel.moddir)


# --- packages ------------------------------------------------------------------------------


def _pack(workdir: Path, name: str, files: dict[str, bytes | str], *, release: int = 1,
          version: str = "1.0", links: dict[str, str] | None = None,
          dirs: dict[str, Path] | None = None, tag: str = "") -> Path:
    """A package whose tree is ``files`` (paths under /usr) plus a marker naming it.

    ``dirs`` maps a path under /usr to a directory copied there whole.
    """
    tree = workdir / f"tree-{name}-{release}{tag}"
    for rel, source in (dirs or {}).items():
        shutil.copytree(source, tree / rel, symlinks=True)
    files = {**files, f"share/qemu-guest/{name}": f"{name}-{version}-{release}\n"}
    for rel, content in files.items():
        path = tree / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        path.chmod(0o755 if rel.startswith(("bin/", "sbin/")) else 0o644)
    for rel, target in (links or {}).items():
        path = tree / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, path)
    meta = PackageMeta(name=name, version=version, release=release,
                       summary=f"the {name} package of the qemu-tests guest")
    return pack_tree(tree, meta, workdir / f"{name}-{version}-{release}{tag}.stone")


def busybox_package(workdir: Path) -> Path:
    applets = subprocess.run([str(BUSYBOX), "--list"], check=True, capture_output=True,
                             text=True).stdout.split()
    links = {f"bin/{a}": "busybox" for a in applets if a not in ("busybox", "init", "linuxrc")}
    return _pack(workdir, "busybox", {"bin/busybox": BUSYBOX.read_bytes()}, links=links)


def init_package(workdir: Path, *, broken: bool = False) -> Path:
    """``init`` release 1 reports and powers off; release 2 (``broken``) exits at once."""
    script = BROKEN_INIT if broken else INIT
    return _pack(workdir, "init", {"sbin/init": script}, release=2 if broken else 1)


def systemd_boot_package(workdir: Path) -> Path:
    rel = "lib/systemd/boot/efi/systemd-bootx64.efi"
    return _pack(workdir, "systemd-boot", {rel: SYSTEMD_BOOT.read_bytes()})


def kernel_package(workdir: Path, kernel: GuestKernel, *, release: int = 1,
                   modules: bool = False, efivarfs: bool = False) -> Path:
    """``linux``: a newer release replaces the older one (another kver, another state).

    The guest needs no modules on its root (the initramfs has the disk's), so they
    are left out unless ``modules``: then the whole ``lib/modules/<kver>`` is in.
    ``efivarfs`` adds only that module, so the init can read systemd-boot's variables.
    """
    files: dict[str, bytes | str] = {
        f"lib/kernel/{kernel.kver}/vmlinuz": kernel.vmlinuz.read_bytes(),
        f"lib/kernel/{kernel.kver}/10-default.initrd": kernel.initrd.read_bytes(),
    }
    if efivarfs and not modules:
        rel = "kernel/fs/efivarfs/efivarfs.ko"
        files[f"lib/modules/{kernel.kver}/{rel}"] = (kernel.moddir / rel).read_bytes()
    dirs = {f"lib/modules/{kernel.kver}": kernel.moddir} if modules else {}
    tag = "-modules" if modules else "-efivarfs" if efivarfs else ""
    return _pack(workdir, "linux", files, release=release, version=kernel.kver.split("-")[0],
                 dirs=dirs, tag=tag)


def marker_package(workdir: Path, name: str) -> Path:
    """A package that is only its marker: it makes a state tell itself apart."""
    return _pack(workdir, name, {})


# --- the root and the images ---------------------------------------------------------------

BOOT_CONF = """esp = /efi
efivars = /efivars
root = root=/dev/vda rw console=ttyS0 panic=1 loglevel=6
timeout = {timeout}
keep = 5
"""


def moss(root: Path, *args: str) -> str:
    """Run the moss CLI on ``root``; a failure shows moss's own message."""
    proc = subprocess.run([*MOSS, "-D", str(root), "-y", *args], capture_output=True,
                          text=True, cwd=PROJECT)
    if proc.returncode != 0:
        raise AssertionError(f"moss {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def new_root(root: Path, timeout: int) -> Path:
    """An empty managed root: boot.conf, the ESP and efivars directories, /proc etc."""
    (root / "etc/moss").mkdir(parents=True)
    (root / "etc/moss/boot.conf").write_text(BOOT_CONF.format(timeout=timeout))
    for d in ("efi", "efivars", "proc", "sys", "dev", "run", "tmp"):
        (root / d).mkdir(exist_ok=True)
    return root


def state_id(root: Path) -> int:
    return int((root / "usr/.stateID").read_text().strip())


def entries(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "efi/loader/entries").iterdir())


def efivar_text(data: bytes) -> str:
    return data[4:].decode("utf-16-le").rstrip("\0")


@dataclass(frozen=True)
class Images:
    root: Path
    esp: Path
    vars: Path


def _run(cmd: list[str], env: dict[str, str] | None = None) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")


def _size_mib(directory: Path) -> int:
    out = subprocess.run(["du", "-sm", str(directory)], check=True, capture_output=True,
                         text=True).stdout
    return int(out.split()[0])


def make_images(root: Path, out: Path, extra_vars: dict[str, str] | None = None) -> Images:
    """ext4 from ROOT, FAT from ROOT/efi, an OVMF VARS copy holding ROOT/efivars.

    ``extra_vars`` (name -> text) sets systemd-boot variables as if the firmware
    had stored them, e.g. a ``LoaderEntryLastBooted`` a menu choice left.
    """
    out.mkdir(parents=True, exist_ok=True)
    images = Images(out / "root.img", out / "esp.img", out / "vars.fd")
    size = _size_mib(root) * 2 + 64
    _run(["mkfs.ext4", "-q", "-F", "-L", "root", "-d", str(root), str(images.root), f"{size}M"])
    esp = root / "efi"
    esp_kib = max(33792, (_size_mib(esp) * 2 + 16) * 1024)
    _run(["mkfs.vfat", "-C", "-n", "ESP", str(images.esp), str(esp_kib)])
    items = sorted(esp.iterdir())
    if items:
        _run(["mcopy", "-s", "-i", str(images.esp), *map(str, items), "::/"], env=MTOOLS)
    write_vars(root / "efivars", images.vars, extra_vars or {})
    return images


SYSTEMD_BOOT_GUID = "4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"


def virt_fw_vars() -> str:
    beside_python = Path(sys.executable).parent / "virt-fw-vars"
    found = str(beside_python) if beside_python.is_file() else shutil.which("virt-fw-vars")
    if not found:
        raise FileNotFoundError("virt-fw-vars (pip install virt-firmware)")
    return found


def text_variable(name: str, text: str) -> dict[str, object]:
    """A systemd-boot variable holding ``text`` (UTF-16, NUL-ended), as virt-fw-vars' JSON."""
    return {"name": name, "guid": SYSTEMD_BOOT_GUID, "attr": 7,
            "data": (text + "\0").encode("utf-16-le").hex()}


def write_vars(efivars: Path, store: Path, extra: dict[str, str]) -> None:
    """A copy of OVMF's empty VARS with moss's variable files (and ``extra``) set."""
    variables = [
        {"name": f.name[:-37], "guid": f.name[-36:], "attr": 7, "data": f.read_bytes()[4:].hex()}
        for f in sorted(efivars.iterdir())
        if f.name[:-37] not in extra
    ]
    variables += [text_variable(name, text) for name, text in extra.items()]
    if not variables:
        shutil.copyfile(OVMF_VARS, store)
        return
    spec = store.with_suffix(".json")
    spec.write_text(json.dumps({"version": 2, "variables": variables}))
    _run([virt_fw_vars(), "-i", str(OVMF_VARS), "-o", str(store), "--set-json", str(spec)])


def read_var(store: Path, name: str) -> str | None:
    """A systemd-boot variable in a VARS store as text; None when it is not set."""
    dump = store.with_suffix(".dump.json")
    _run([virt_fw_vars(), "-i", str(store), "--output-json", str(dump)])
    for var in json.loads(dump.read_text())["variables"]:
        if var["name"] == name:
            return str(bytes.fromhex(var["data"]).decode("utf-16-le").rstrip("\0"))
    return None


def read_root_file(image: Path, path: str) -> str:
    """A file in the ext4 image after the guest ran (its journal replayed first)."""
    subprocess.run(["e2fsck", "-fy", "-E", "journal_only", str(image)], capture_output=True)
    proc = subprocess.run(["debugfs", "-R", f"cat {path}", str(image)], capture_output=True,
                          text=True, check=True)
    return proc.stdout
