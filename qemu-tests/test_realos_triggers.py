"""System triggers on the live real OS (scenario 5 of issue 15).

``svc`` ships a systemd unit and a ``sys.d`` trigger (count the run, then
``systemctl daemon-reload``).  A live ``moss install`` runs the trigger once,
after ``/usr`` changed, and the unit can then be started.  This scenario runs
with the read-only OS turned off (``enabled = no``): ``/usr`` is writable as
before the setting existed.
"""

from __future__ import annotations

from pathlib import Path

import realsetup
import realvm
from realboots import boot, one, succeeded
from realsetup import STONES, RealGuest, write_boot_scripts

hard_timeout = realsetup.hard_timeout

SCRIPT = f"""
say readonly-marker "$(cat /run/moss/readonly 2>&1 | head -1)"
say usr-writable "$(touch /usr/x && rm /usr/x && echo yes)"
step install moss -y install {STONES}/svc.stone
say trigger-runs "$(wc -l < $R/trigger-runs)"
step start systemctl start moss-hello.service
say unit-said "$(cat /run/moss-hello)"
"""


def test_a_system_trigger_runs_once_after_a_live_install_and_its_unit_starts(
    real_guest: RealGuest, tmp_path: Path
) -> None:
    disks = realvm.copy_disks(real_guest.disks, tmp_path / "disks")
    # this scenario runs with the read-only OS turned off: /usr is writable as before it
    # (the encrypted root is only written from inside the guest: a boot turns it off)
    write_boot_scripts(disks, {1: realsetup.READONLY_OFF, 2: SCRIPT}, tmp_path / "scripts")
    off = boot(disks, tmp_path, "read-only OS turned off")
    assert one(off, "readonly-conf") == "enabled = no"

    values = boot(disks, tmp_path, "live install with a system trigger")

    assert one(values, "usr-writable") == "yes"
    assert "No such file" in one(values, "readonly-marker")
    succeeded(values, "install")
    assert one(values, "trigger-runs") == "1"
    succeeded(values, "start")
    assert one(values, "unit-said") == "started"
