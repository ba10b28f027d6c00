"""A no-change ``moss boot sync`` with five states, and the bytes it keeps on the ESP.

A root with a configured ESP (``etc/moss/boot.conf``, as the boot tests set it up)
gets five states through ``moss install``: two kernel packages (vmlinuz + initrd
of realistic size, random bytes) and three small updates in between, so the five
states share two kernels.  Then ``moss boot sync`` runs again with nothing to do.

Baselines:
* time: BLAKE3 of every kernel file once on the ESP and once in the states (the
  least a sync that compares content by BLAKE3, as moss's does, must read);
* bytes: each distinct kernel + initrd once (what the ESP must hold; moss
  copies a kernel once however many states use it).

    python -m bench.boot_sync [--kernel-mb 12] [--initrd-mb 40] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import blake3

from bench.common import Result, disk_usage, median_time, print_results, workdir
from moss.actions.transaction import Options, Request
from moss.actions.transaction import run as run_transaction
from moss.core.root import Root
from moss.states.bootsync import sync_boot
from moss.states.mutating import mutating
from moss.stone import PackageMeta
from moss.stonetools.pack import pack_tree

MIB = 1 << 20
BOOT_CONF = "esp = /efi\nefivars = /efivars\nroot = root=/dev/vda rw\nkeep = 5\n"


def boot_sync(root_path: Path) -> None:
    """What ``moss boot sync`` does, minus argument parsing and printing."""
    root = Root(root_path)
    with mutating(root) as dbs:
        report = sync_boot(root, dbs)
    if report.changed:
        raise RuntimeError(f"a second boot sync changed the ESP: {report.to_json()}")


def package(work: Path, name: str, release: int, files: dict[str, bytes]) -> Path:
    tree = work / f"tree-{name}-{release}"
    for rel, data in files.items():
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_bytes(data)
    meta = PackageMeta(name=name, version="1.0", release=release)
    return pack_tree(tree, meta, work / f"{name}-{release}.stone", level=1)


def kernel(work: Path, kver: str, release: int, kernel_mb: int, initrd_mb: int) -> Path:
    return package(work, "linux", release, {
        f"lib/kernel/{kver}/vmlinuz": os.urandom(kernel_mb * MIB),
        f"lib/kernel/{kver}/10-default.initrd": os.urandom(initrd_mb * MIB),
        f"lib/kernel/{kver}/10-default.cmdline": b"quiet",
        f"lib/modules/{kver}/modules.dep": b"",
    })


def five_states(root: Path, work: Path, kernel_mb: int, initrd_mb: int) -> None:
    (root / "etc" / "moss").mkdir(parents=True)
    (root / "etc" / "moss" / "boot.conf").write_text(BOOT_CONF)
    (root / "efi").mkdir()
    (root / "efivars").mkdir()

    def hello(release: int) -> Path:
        return package(work, "hello", release, {"bin/hello": b"hello %d\n" % release})

    steps = [[kernel(work, "6.1.0-1", 1, kernel_mb, initrd_mb), hello(1)], [hello(2)],
             [hello(3)], [kernel(work, "6.1.0-2", 2, kernel_mb, initrd_mb)], [hello(4)]]
    for stones in steps:  # each transaction syncs the entries of this managed root
        run_transaction(root, Request(install=stones), Options())


def kernel_files(root: Path) -> list[Path]:
    """Each kernel file of the states once (hard links to one blob are one file)."""
    seen: set[int] = set()
    found = []
    for usr in [root / "usr", *(root / ".moss" / "root").glob("*/usr")]:
        for path in sorted((usr / "lib" / "kernel").rglob("*")):
            if path.name == "vmlinuz" or path.suffix == ".initrd":
                inode = path.stat().st_ino
                if inode not in seen:
                    seen.add(inode)
                    found.append(path)
    return found


def hash_all(paths: list[Path]) -> None:
    for path in paths:
        hasher = blake3.blake3()
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                hasher.update(chunk)


def measure(kernel_mb: int, initrd_mb: int, repeats: int) -> list[Result]:
    with workdir("boot") as work:
        root = work / "root"
        five_states(root, work, kernel_mb, initrd_mb)
        esp = root / "efi"
        sources = kernel_files(root)
        on_esp = [p for p in sorted(esp.rglob("*")) if p.is_file() and "EFI" in p.parts]
        sync_time = median_time(lambda: boot_sync(root), repeats)
        hash_time = median_time(lambda: hash_all(sources + on_esp), repeats)
        esp_bytes = disk_usage(esp)
        kernel_bytes = sum(p.stat().st_size for p in sources)
        return [
            Result("boot sync: no change, 5 states, 2 kernels", sync_time, hash_time,
                   "BLAKE3 of each kernel file once on ESP + in states"),
            Result("boot sync: bytes on the ESP", esp_bytes, kernel_bytes,
                   "each distinct kernel + initrd once (limit)", unit="B"),
        ]


def run(quick: bool) -> list[Result]:
    return measure(2, 4, 3) if quick else measure(12, 40, 5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kernel-mb", type=int, default=12)
    parser.add_argument("--initrd-mb", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print_results(measure(args.kernel_mb, args.initrd_mb, args.repeats))


if __name__ == "__main__":
    main()
