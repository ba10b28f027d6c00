"""Boots of the guest for the tests: build a root with moss, boot it, read its report."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import guest
from machine import Boot, Machine, reports

MachineMaker = Callable[[guest.Images, Path], Machine]
BOOT_TIMEOUT = 150  # seconds for one boot under TCG; ~20 s is usual


def build_root(root: Path, transactions: list[list[Path]], timeout: int = 0) -> Path:
    """A managed root with one ``moss install`` per transaction (each one a state)."""
    guest.new_root(root, timeout)
    for stones in transactions:
        guest.moss(root, "install", *map(str, stones))
    return root


def boot_once(machines: MachineMaker, root: Path, work: Path, name: str,
              extra_vars: dict[str, str] | None = None) -> tuple[Boot, Machine]:
    """Make the images, start the machine, wait for power-off; the one boot's report."""
    images = guest.make_images(root, work, extra_vars)
    machine = machines(images, work)
    machine.start()
    machine.wait_for(r"GUEST done", BOOT_TIMEOUT)
    seconds = machine.wait_poweroff(60)
    found = reports(machine.log())
    assert len(found) == 1, f"expected one boot, saw {len(found)}"
    boot = Boot(seconds, found[0])
    print_timing(name, boot)
    return boot, machine


def stamp(line: str) -> float:
    """The seconds of a kernel log line's ``[   12.345678]`` prefix."""
    return float(line.split("]")[0].strip("[ "))


def print_timing(name: str, boot: Boot) -> None:
    """The boot's duration and the agent's share of it, from the guest's kernel log.

    ``elapsed_ms`` is the agent's own work; the time from the root's mount to the
    agent's log line adds the interpreter's start and dracut's hooks in between.
    """
    uptime = float(boot.one("uptime"))
    kmsg = boot.values.get("kmsg", [])
    agent_lines = [stamp(line) for line in kmsg if "moss-pivot:" in line]
    mounted = [stamp(line) for line in kmsg if "EXT4-fs (vda): mounted" in line]
    pivot = boot.values.get("pivot", [""])[0]
    if not pivot or not agent_lines:
        print(f"\n[qemu] {name}: {boot.seconds:.1f} s power-on to power-off; init at "
              f"{uptime:.2f} s kernel time; the agent did not run")
        return
    elapsed = float(json.loads(pivot)["elapsed_ms"]) / 1000
    # dracut mounts the root twice; the agent runs after the second (pre-pivot)
    before = [t for t in mounted if t <= agent_lines[-1]]
    gap = f"{agent_lines[-1] - before[-1]:.2f} s from root mount to its line, " if before else ""
    print(f"\n[qemu] {name}: {boot.seconds:.1f} s power-on to power-off; init at {uptime:.2f} s "
          f"kernel time; agent: {elapsed * 1000:.0f} ms of work ({elapsed / uptime:.1%} of the "
          f"kernel's time to init), {gap}line at {agent_lines[-1]:.2f} s")


def pivot_of(boot: Boot) -> dict[str, object]:
    record = json.loads(boot.one("pivot"))
    assert isinstance(record, dict)
    return record
