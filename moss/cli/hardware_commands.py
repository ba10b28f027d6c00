"""``moss hardware``: the devices, their modaliases and the kernel modules chosen for them.

``--json`` prints one object per kernel::

    {"kver": str, "pinned": [str], "modules": [str] (kept, with dependencies),
     "devices": [{"syspath": str, "modalias": str, "modules": [str]}],
     "module_files": {"total": int, "kept": int, "saved": int},
     "module_bytes": {"total": int, "kept": int, "saved": int}}
"""

from __future__ import annotations

import argparse
from pathlib import Path

from moss.cli.output import print_json


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "hardware", help="devices, their modaliases and the kernel modules they need",
        description="Match every device's MODALIAS (from udev, or a recorded list) against "
        "each kernel's modules.alias, as modprobe does, and show the modules the 'hardware' "
        "subscription would keep and what it saves.",
        epilog="example: moss hardware --json")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--modalias-file", type=Path, metavar="FILE",
                   help="another machine's devices: one 'MODALIAS' or 'SYSPATH MODALIAS' "
                   "a line")
    p.add_argument("--modules-dir", type=Path, metavar="DIR",
                   help="a lib/modules/<kver> directory to report on instead of the "
                   "kernels of ROOT's active state")
    p.add_argument("--record", action="store_true",
                   help="print this machine's devices as a modalias list and exit")
    p.set_defaults(handler=_hardware)


def _hardware(args: argparse.Namespace) -> int:
    from moss.actions import subscribe
    from moss.subscriptions.modalias import format_modalias_file, udev_devices

    if args.record:
        print(format_modalias_file(udev_devices()), end="")
        return 0
    reports = subscribe.hardware_report(args.directory, args.modalias_file, args.modules_dir)
    if args.json:
        print_json([r.to_json() for r in reports])
        return 0
    if not reports:
        print("No kernel with modules.alias in the active state (see --modules-dir).")
    for report in reports:
        print(f"Kernel {report.kver}")
        for device in report.devices:
            modules = ", ".join(device.modules) or "-"
            where = device.device.syspath or "(recorded)"
            print(f"  {where}\n    {device.device.modalias}\n    modules: {modules}")
        if report.pinned:
            print(f"  pinned: {', '.join(report.pinned)}")
        print(f"  kept {report.kept_files} of {report.total_files} module files, "
              f"{report.kept_bytes / 2**20:.1f} of {report.total_bytes / 2**20:.1f} MiB "
              f"(saves {report.total_files - report.kept_files} files, "
              f"{(report.total_bytes - report.kept_bytes) / 2**20:.1f} MiB)")
        print(f"  modules: {', '.join(report.kept) or '-'}")
    return 0
