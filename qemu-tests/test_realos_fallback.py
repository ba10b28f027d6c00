"""A pending state that never reaches boot-complete.target (scenario 2, second half).

The deferred update brings the cloud kernel and ``badboot``, whose unit
``boot-complete.target`` requires and which fails: the state boots, but
``systemd-bless-boot`` never removes its counter.  systemd-boot tries it three
times (``+3`` -> ``+0-3``), then starts the previous state's entry and the agent
rolls back; the first moss command after that says which state failed to boot
and which one runs, and builds on the one that runs.
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
step defer moss -y install {STONES}/linux-cloud.stone {STONES}/badboot.stone
"""
TRY = """
say bless "$(systemctl is-active systemd-bless-boot.service)"
say complete "$(systemctl is-active boot-complete.target)"
"""
FALLEN_BACK = f"""
step first moss -y install {STONES}/hello.stone
say markers "$(ls /usr/share/qemu-guest | tr '\\n' ' ')"
"""


def test_unblessed_pending_state_is_tried_three_times_then_rolled_back(
    real_guest: RealGuest, tmp_path: Path
) -> None:
    disks = realvm.copy_disks(real_guest.disks, tmp_path / "disks")
    write_boot_scripts(disks, {1: DEFER, 2: TRY, 3: TRY, 4: TRY, 5: FALLEN_BACK},
                       tmp_path / "s")
    pending = f"{real_guest.os_id}-{real_guest.cloud_kver}-2"

    succeeded(boot(disks, tmp_path, "deferred update with a bad unit"), "defer")
    for n in range(2, 5):
        tried = boot(disks, tmp_path, f"try {n - 1} of the pending state")
        assert (one(tried, "uname"), one(tried, "stateid")) == (real_guest.cloud_kver, "2")
        assert one(tried, "complete") != "active"
        assert one(tried, "bless") != "active"
    entries = realvm.esp_listing(disks, "loader/entries")
    assert f"{pending}+0-3.conf" in entries, entries

    fallen = boot(disks, tmp_path, "after the third try")
    assert (one(fallen, "uname"), one(fallen, "stateid")) == (real_guest.kver, "1")
    record = json.loads(one(fallen, "pivot"))
    assert (record["result"], record["previous"], record["active"]) == ("activated", 2, 1)
    succeeded(fallen, "first")
    said = " ".join(fallen.get("out-first", []))
    assert "state 2 failed to boot" in said and "fell back to state 1" in said, said
    assert "badboot" not in one(fallen, "markers").split()
