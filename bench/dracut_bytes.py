"""Bytes the 90moss dracut module adds to an initramfs, compressed.

Two images of the same Debian kernel from a private copy of the machine's dracut
(90moss installed into it as a package would, ``tests/support/dracut.py``), built
the way the QEMU tests build theirs (no host-only trimming, zstd -3): modules
``base`` and ``base moss``.  The figure is the image with the module; the
baseline the image without it; the note says the difference (goal: 4 MiB at most).
Without dracut or a cached kernel the row says "not measured" and why.

    python -m bench.dracut_bytes
"""

from __future__ import annotations

import argparse
import shutil
import subprocess

from bench.common import Result, print_results, workdir

NAME = "dracut: compressed image with 90moss"
BASELINE = "the same image without 90moss"


def not_measured(why: str) -> list[Result]:
    return [Result(NAME, None, None, BASELINE, unit="B", note=f"not measured: {why}")]


def measure() -> list[Result]:
    if shutil.which("dracut") is None:
        return not_measured("dracut is not installed")
    from tests.support.debian_kernel import KernelUnavailable, debian_kernel
    from tests.support.dracut import dracut_command, private_dracut
    try:
        kernel = debian_kernel()
    except KernelUnavailable as exc:
        return not_measured(f"no Debian kernel ({exc})")
    with workdir("dracut") as work:
        basedir = private_dracut(work / "dracut")
        sizes = {}
        for flavour, modules in (("without", ["base"]), ("with", ["base", "moss"])):
            image = work / f"initramfs-{flavour}.img"
            proc = subprocess.run(dracut_command(basedir, kernel, image, modules),
                                  capture_output=True, text=True, check=False)
            if proc.returncode != 0 or not image.is_file():
                raise RuntimeError(f"dracut ({flavour}) failed: {proc.stdout[-2000:]}"
                                   f"{proc.stderr[-2000:]}")
            sizes[flavour] = image.stat().st_size
    added = sizes["with"] - sizes["without"]
    return [Result(NAME, sizes["with"], sizes["without"], BASELINE, unit="B",
                   note=f"90moss adds {added / (1 << 20):.2f} MiB (goal 4 MiB)")]


def run(quick: bool) -> list[Result]:
    return measure()  # two dracut runs at zstd -3: no smaller size to choose


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    print_results(measure())


if __name__ == "__main__":
    main()
