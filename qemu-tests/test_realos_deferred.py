"""A deferred kernel update on the real OS, blessed by systemd (scenario 2, first half).

A live ``moss install`` of the cloud kernel flavour changes the kernel, so moss
stages a pending state instead of touching ``/usr``; its entry is the default
with a boot counter (``+3``).  The next boot runs it (the agent activates it),
``systemd-bless-boot`` removes the counter once ``boot-complete.target`` is
reached, and three more plain boots stay in it.
"""

from __future__ import annotations

import json
from pathlib import Path

import realsetup
import realvm
from realboots import boot, one, succeeded
from realsetup import STONES, RealGuest, write_boot_scripts

hard_timeout = realsetup.hard_timeout

DEFER = f"""
step defer moss -y install {STONES}/linux-cloud.stone
moss state list --json > $R/states.json
"""
AFTER = """
say bless "$(systemctl is-active systemd-bless-boot.service)"
say entries "$(ls /efi/loader/entries | tr '\\n' ' ')"
"""


def test_deferred_kernel_update_runs_at_the_next_boot_and_is_blessed(
    real_guest: RealGuest, tmp_path: Path
) -> None:
    disks = realvm.copy_disks(real_guest.disks, tmp_path / "disks")
    write_boot_scripts(disks, {n: AFTER for n in range(2, 6)} | {1: DEFER}, tmp_path / "s")
    pending = f"{real_guest.os_id}-{real_guest.cloud_kver}-2"

    staged = boot(disks, tmp_path, "deferred kernel update")
    succeeded(staged, "defer")
    assert one(staged, "stateid") == "1"  # /usr untouched
    states = {s["id"]: s for s in json.loads(
        realvm.scenario_file(disks, "states.json"))}
    assert states[2]["pending"] and not states[2]["active"], states
    assert f"{pending}+3.conf" in realvm.esp_listing(disks, "loader/entries")

    for n in range(2, 6):
        values = boot(disks, tmp_path, f"boot {n} after the deferred update")
        assert one(values, "uname") == real_guest.cloud_kver
        assert one(values, "stateid") == "2"
        if n == 2:  # later boots have no counter left to remove: the unit is not pulled in
            assert one(values, "bless") == "active"
        entries = realvm.esp_listing(disks, "loader/entries")
        assert f"{pending}.conf" in entries, entries  # blessed: the counter is gone
        if n == 2:
            record = json.loads(one(values, "pivot"))
            assert (record["result"], record["active"]) == ("activated", 2)
