"""Rollback from the boot menu on the real OS (scenario 3 of issue 15).

A live install makes state 2; at the next boot the user presses ``down`` and
``enter`` in systemd-boot's menu (QMP ``send-key``) to start state 1.  Inside,
``moss state list`` says state 1 is booted and active, and the next transaction
builds on state 1 (it lacks what state 2 added); the boot after that runs it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import realsetup
import realvm
from realboots import BOOT_TIMEOUT, SILENCE, boot, guest_lines, one, succeeded
from realsetup import STONES, RealGuest, write_boot_scripts

hard_timeout = realsetup.hard_timeout

INSTALL = f"""
# a menu to choose from: moss writes loader.conf's timeout from boot.conf
sed -i 's/^timeout = 0/timeout = 10/' /etc/moss/boot.conf
step install moss -y install {STONES}/hello.stone
"""
CHOSEN = f"""
moss state list --json > $R/states.json
step next moss -y install {STONES}/hello2.stone
say markers "$(ls /usr/share/qemu-guest | tr '\\n' ' ')"
"""
AFTER = """
say markers "$(ls /usr/share/qemu-guest | tr '\\n' ' ')"
"""


def highlighted(os_name: str, state: int) -> str:
    """The menu line systemd-boot draws black on white (the selection) for a state."""
    return r"\x1b\[47m\s*" + re.escape(os_name) + r" \S+ \(state " + str(state) + ","


def test_menu_choice_of_the_previous_state_on_the_real_os(
    real_guest: RealGuest, tmp_path: Path
) -> None:
    disks = realvm.copy_disks(real_guest.disks, tmp_path / "disks")
    write_boot_scripts(disks, {1: INSTALL, 2: CHOSEN, 3: AFTER}, tmp_path / "scripts")
    succeeded(boot(disks, tmp_path, "live install"), "install")

    machine = realvm.RealMachine(disks, tmp_path / "menu")
    machine.start()
    try:
        machine.wait_for(r"Boot in \d+ s", BOOT_TIMEOUT)
        machine.wait_for(highlighted(real_guest.os_name, 2), 30)
        machine.press("down")
        machine.wait_for(highlighted(real_guest.os_name, 1), 30)
        machine.press("ret")
        chosen = guest_lines(machine.run_until_off(BOOT_TIMEOUT, SILENCE))
    finally:
        machine.stop()

    assert one(chosen, "stateid") == "1"
    assert "moss.fstx=1" in one(chosen, "cmdline").split()
    states = {s["id"]: s for s in json.loads(
        realvm.scenario_file(disks, "states.json"))}
    assert states[1]["booted"] and states[1]["active"], states
    assert not states[2]["active"]
    succeeded(chosen, "next")
    markers = one(chosen, "markers").split()
    assert "hello2" in markers and "hello" not in markers

    after = boot(disks, tmp_path, "after the menu choice and a transaction")
    assert one(after, "stateid") == "3"
    assert one(after, "markers").split() == markers
