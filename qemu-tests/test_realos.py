"""moss on the running system it manages: a Debian 12 userland with systemd, in QEMU.

Every moss command here runs inside the guest on ``/`` (no ``-D``), from a
``boot.d`` script the harness runs at boot n (see realvm.py); the test reads what
happened from the serial console and from the root image afterwards.
"""

from __future__ import annotations

from pathlib import Path

import realsetup
import realvm
from realboots import boot, one, succeeded
from realsetup import STONES, RealGuest, read_report, write_boot_scripts

# the real-OS fixtures (the session's guest; a longer limit than conftest's)
hard_timeout = realsetup.hard_timeout

# The guest is a read-only OS (issue 16): what root can and cannot change after boot.
READ_ONLY_CHECKS = """
say ro-marker "$(tr '\\n' ' ' < /run/moss/readonly)"
say root-mount "$(findmnt -no OPTIONS / | cut -d, -f1) $(findmnt -no FS-OPTIONS / | cut -d, -f1)"
say touch-usr "$(touch /usr/x 2>&1)"
say rm-usr "$(rm /usr/bin/yes 2>&1)"
say touch-root "$(touch /x 2>&1)"
for d in /etc /var /home /root /opt /usr/local /tmp; do
    touch $d/.moss-probe && rm $d/.moss-probe && say writable "$d"
done
echo kept > /usr/local/mine
"""

# After the live installs: /usr/local is still the writable store, on the new tree.
USR_LOCAL_AFTER = """
say usr-local-after "$(cat /usr/local/mine) $(touch /usr/local/new && echo rw)"
say usr-local-mounts "$(findmnt -rno TARGET | grep -c usr/local)"
"""

LIVE_UPDATE = READ_ONLY_CHECKS + f"""
# a long-running process from the old /usr: a shell loop stamping the time
/usr/bin/sh -c 'while :; do /usr/bin/date +%s%N > /run/heartbeat; /usr/bin/sleep 0.2; done' &
hb=$!
say hb-exe-before "$(readlink /proc/$hb/exe)"
say lastbooted-before "$(efivar LoaderEntryLastBooted)"
# fstab's automount is set up at boot: start from nothing mounted
systemctl stop efi.automount efi.mount

mount /efi
say esp-before-mounted "$(fstypes /efi)"
step mounted moss -y install {STONES}/hello.stone
say lastbooted-mounted "$(efivar LoaderEntryLastBooted)"
umount /efi

systemctl start efi.automount
say esp-before-automount "$(fstypes /efi)"
step automount moss -y install {STONES}/hello2.stone
say esp-after-automount "$(fstypes /efi)"
systemctl stop efi.automount efi.mount

say esp-before-unmounted "$(fstypes /efi)"
step unmounted moss -y install {STONES}/hello3.stone
say esp-after-unmounted "$(grep -c ' vfat ' /proc/mounts)"
say lastbooted-unmounted "$(efivar LoaderEntryLastBooted)"

# the loop stamps every 0.2 s; a loaded host may stall the guest for seconds: poll for a
# new stamp with a deadline (60 s) rather than expecting one after a fixed sleep
beat=$(cat /run/heartbeat); advanced=; i=0
while [ $i -lt 600 ]; do
    [ "$(cat /run/heartbeat)" != "$beat" ] && {{ advanced=yes; break; }}
    /usr/bin/sleep 0.1; i=$((i + 1))
done
say hb-alive "$(kill -0 $hb && echo yes)"
say hb-advanced "$advanced"
say hb-exe-after "$(readlink /proc/$hb/exe)"
say new-process-sees "$(cat /usr/share/qemu-guest/hello3)"
""" + USR_LOCAL_AFTER

AFTER_UPDATE = """
say markers "$(ls /usr/share/qemu-guest | tr '\\n' ' ')"
"""


def test_live_update_under_running_processes_finds_the_esp_and_boots_the_new_state(
    real_guest: RealGuest, tmp_path: Path
) -> None:
    disks = realvm.copy_disks(real_guest.disks, tmp_path / "disks")
    write_boot_scripts(disks, {1: LIVE_UPDATE, 2: AFTER_UPDATE}, tmp_path / "scripts")
    entry = f"{real_guest.os_id}-{real_guest.kver}-"

    first = boot(disks, tmp_path, "live update")

    assert one(first, "stateid") == "1"
    # read-only: / and /usr for root too; the places meant to change are writable
    assert one(first, "root-mount") == "ro rw"  # the mount is read-only, the filesystem not
    assert one(first, "touch-usr").endswith("Read-only file system")
    assert one(first, "rm-usr").endswith("Read-only file system")
    assert one(first, "touch-root").endswith("Read-only file system")
    assert first["writable"] == ["/etc", "/var", "/home", "/root", "/opt", "/usr/local", "/tmp"]
    assert "/usr/local" in one(first, "ro-marker").split()
    for step in ("mounted", "automount", "unmounted"):
        succeeded(first, step)
    # the ESP: mounted; automounted (moss's access mounted it); not mounted (moss
    # mounted it and unmounted it again)
    assert one(first, "esp-before-mounted") == "vfat"
    assert one(first, "esp-before-automount") == "autofs"
    assert one(first, "esp-after-automount") == "autofs vfat"
    assert one(first, "esp-before-unmounted") == ""
    assert one(first, "esp-after-unmounted") == "0"
    # efivarfs: the default entry is the newest state's after each transaction
    assert one(first, "lastbooted-before") == f"{entry}1.conf"
    assert one(first, "lastbooted-mounted") == f"{entry}2.conf"
    assert one(first, "lastbooted-unmounted") == f"{entry}4.conf"
    # the old process runs on from the archived tree; a new one sees the new tree
    assert one(first, "hb-exe-before") == "/usr/bin/dash"
    assert one(first, "hb-alive") == "yes"
    assert one(first, "hb-advanced") == "yes"
    assert one(first, "hb-exe-after") == "/.moss/root/1/usr/bin/dash"
    assert one(first, "new-process-sees") == "hello3-1.0-1"
    # /usr/local followed each exchange: the same store, writable, mounted once
    assert one(first, "usr-local-after") == "kept rw"
    assert one(first, "usr-local-mounts") == "1"
    # the guest's own record on the disk says the same as the console
    on_disk = read_report(disks, 1)
    assert f"GUEST new-process-sees={one(first, 'new-process-sees')}" in on_disk

    second = boot(disks, tmp_path, "after the live update")

    assert one(second, "stateid") == "4"
    assert "moss.fstx=4" in one(second, "cmdline").split()
    assert {"hello", "hello2", "hello3"} <= set(one(second, "markers").split())
