"""Real initramfs images built with the machine's dracut and a real Debian kernel.

dracut runs from a private copy of ``/usr/lib/dracut`` (its ``dracutbasedir``)
with 90moss installed into it by ``dracut-module/install.sh``, the way a
distribution package would, so tests never write into the system.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.debian_kernel import DebianKernel

PROJECT = Path(__file__).resolve().parents[2]
INSTALL_SH = PROJECT / "dracut-module" / "install.sh"
SYSTEM_DRACUT = Path("/usr/lib/dracut")

# dracut modules per flavour; "moss" is 90moss.
FLAVOURS = {
    "systemd": ["systemd", "systemd-initrd", "dracut-systemd", "base", "moss"],
    "plain": ["base", "moss"],
}


@dataclass(frozen=True)
class Initramfs:
    flavour: str
    image: Path
    log: str


def private_dracut(dest: Path) -> Path:
    """A copy of the system's dracut with 90moss installed as a package would; its basedir."""
    basedir = dest / "usr" / "lib" / "dracut"
    basedir.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(SYSTEM_DRACUT, basedir, symlinks=True)
    subprocess.run(["sh", str(INSTALL_SH), str(dest)], check=True, capture_output=True, text=True)
    return basedir


def dracut_command(
    basedir: Path,
    kernel: DebianKernel,
    image: Path,
    modules: list[str],
    drivers: tuple[str, ...] = (),
) -> list[str]:
    """A reproducible build: no host config, no host-only trimming, fast zstd.

    For a real boot add ``rootfs-block`` to ``modules`` and the root disk's
    drivers (``virtio_pci virtio_blk ext4``) to ``drivers``.
    """
    confdir = image.parent / f"{image.name}.conf.d"
    confdir.mkdir(parents=True, exist_ok=True)
    conf = confdir / "empty.conf"
    conf.write_text("")
    return [
        "env",
        f"dracutbasedir={basedir}",
        "dracut",
        "--force",
        "--no-hostonly",
        "--no-hostonly-cmdline",
        "--conf",
        str(conf),
        "--confdir",
        str(confdir),
        "--kver",
        kernel.kver,
        "--kmoddir",
        str(kernel.moddir),
        "--no-early-microcode",
        # dracut's default zstd -15 takes ~20 s here; -3 takes ~1 s for a similar size.
        "--compress",
        "zstd -3 -q -T0",
        "--modules",
        " ".join(modules),
        *(["--force-drivers", " ".join(drivers)] if drivers else []),
        str(image),
    ]


def build_images(
    basedir: Path,
    kernel: DebianKernel,
    outdir: Path,
    flavours: list[str],
    extra_modules: tuple[str, ...] = (),
    drivers: tuple[str, ...] = (),
) -> dict[str, Initramfs]:
    """Build the flavours concurrently (dracut is mostly single-threaded)."""
    procs = {}
    for flavour in flavours:
        image = outdir / f"initramfs-{flavour}.img"
        modules = [*FLAVOURS[flavour], *extra_modules]
        cmd = dracut_command(basedir, kernel, image, modules, drivers)
        procs[flavour] = (
            image,
            subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True),
        )
    images = {}
    for flavour, (image, proc) in procs.items():
        out, _ = proc.communicate(timeout=600)
        if proc.returncode != 0 or not image.is_file():
            raise RuntimeError(f"dracut ({flavour}) failed with {proc.returncode}:\n{out[-3000:]}")
        images[flavour] = Initramfs(flavour, image, out)
    return images


def lsinitrd_paths(image: Path) -> dict[str, str]:
    """Paths in the image -> their ``lsinitrd`` line (mode, size, ``-> target``)."""
    out = subprocess.run(["lsinitrd", str(image)], check=True, capture_output=True, text=True)
    paths: dict[str, str] = {}
    for line in out.stdout.splitlines():
        if line[:1] not in ("-", "d", "l", "c", "b") or len(line.split()) < 9:
            continue
        name = line.split(" -> ")[0].split()[-1]
        paths[name] = line
    return paths


def lsinitrd_file(image: Path, path: str) -> bytes:
    return subprocess.run(
        ["lsinitrd", "-f", path, str(image)], check=True, capture_output=True
    ).stdout


def unpack(image: Path, dest: Path) -> Path:
    """Unpack like the kernel does, keeping mtimes (``lsinitrd --unpack`` drops them).

    Python checks cached bytecode against the source's mtime, so only an unpack
    that keeps them shows what the booted initramfs will compile.
    """
    dest.mkdir(parents=True)
    with image.open("rb") as f:
        magic = f.read(4)
    if magic != b"\x28\xb5\x2f\xfd":  # not one zstd frame: let lsinitrd cope
        cmd = ["lsinitrd", "--unpack", str(image)]
        subprocess.run(cmd, cwd=dest, check=True, capture_output=True)
        return dest
    zstd = subprocess.run(["zstd", "-dc", str(image)], check=True, capture_output=True)
    subprocess.run(
        ["cpio", "-idm", "--quiet", "--no-absolute-filenames"],
        input=zstd.stdout,
        cwd=dest,
        check=True,
        capture_output=True,
    )
    return dest
