"""Boots of the real-OS guest for the tests: run one, read its ``GUEST`` lines."""

from __future__ import annotations

from pathlib import Path

import realvm
from guest import MARK

BOOT_TIMEOUT = 1200  # seconds for one boot with its moss commands, TCG on a loaded host
SILENCE = 420  # no serial output for this long: the guest hangs (a running step says so every 30 s)


def guest_lines(log: str) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for line in log.splitlines():
        at = line.find(MARK)
        if at >= 0:
            key, _, value = line[at + len(MARK):].rstrip("\r").partition("=")
            values.setdefault(key, []).append(value)
    return values


def boot(disks: realvm.Disks, work: Path, name: str, powered_off: bool = False
         ) -> dict[str, list[str]]:
    """One fresh QEMU on the disks until the guest powers off; its GUEST lines.

    ``powered_off``: the scenario cuts the power itself, so it never says ``done``.
    """
    machine = realvm.RealMachine(disks, work / name)
    machine.start()
    try:
        log = machine.run_until_off(BOOT_TIMEOUT, SILENCE)
    finally:
        machine.stop()
    values = guest_lines(log)
    if not powered_off:
        assert values.get("done"), f"{name}: the scenario did not finish:\n{log[-4000:]}"
    timings = {k[4:]: v[-1] for k, v in values.items() if k.startswith("cmd-")}
    print(f"\n[realos] {name}: {machine.wait_poweroff(5):.0f} s power-on to off, report at "
          f"uptime {values['uptime'][0]} s, moss commands: {timings}")
    return values


def one(values: dict[str, list[str]], key: str) -> str:
    found = values.get(key, [])
    assert len(found) == 1, f"expected one GUEST {key}= line, got {found}"
    return found[0]


def succeeded(values: dict[str, list[str]], step: str) -> None:
    result = one(values, f"cmd-{step}")
    output = "\n".join(values.get(f"out-{step}", []))
    assert result.startswith("rc=0 "), f"moss {step}: {result}\n{output}"
