"""A file on the ESP changed after moss signed it: the firmware refuses it.

A live install of the cloud kernel stages a pending state whose entry starts its
own unified image (systemd-stub, the kernel, the initramfs with the agent), signed
by moss with the db key.  Someone then changes one byte of that image on the ESP.
At the next boot systemd-boot starts the pending entry, the firmware (Secure Boot
enforcing) refuses the image ("Access Denied"; systemd-boot 252 then returns to the
firmware, which finds nothing else to start), the user resets the machine and picks
the previous state in the menu: it boots, unlocked by the TPM as before, and ``moss
boot status`` names the file that does not verify.
"""

from __future__ import annotations

import re
from pathlib import Path

import realsetup
import realvm
from realboots import BOOT_TIMEOUT, SILENCE, boot, guest_lines, one, succeeded
from realsetup import STONES, RealGuest, write_boot_scripts
from test_realos_menu import highlighted

hard_timeout = realsetup.hard_timeout

DEFER = f"""
sed -i 's/^timeout = 0/timeout = 10/' /etc/moss/boot.conf
step defer moss -y install {STONES}/linux-cloud.stone
"""
INTACT = """
step status moss boot status
"""


def test_a_tampered_image_is_refused_and_the_previous_state_still_boots(
    real_guest: RealGuest, tmp_path: Path
) -> None:
    disks = realvm.copy_disks(real_guest.disks, tmp_path / "disks")
    write_boot_scripts(disks, {1: DEFER, 2: INTACT}, tmp_path / "scripts")
    succeeded(boot(disks, tmp_path, "deferred cloud kernel"), "defer")

    image = f"EFI/{real_guest.os_id}/{real_guest.cloud_kver}/uki.efi"
    data = bytearray(realvm.esp_bytes(disks, image, tmp_path / "esp"))
    data[len(data) // 2] ^= 0xFF  # inside the kernel's section: the signature's digest
    realvm.esp_put(disks, image, bytes(data), tmp_path / "esp")

    machine = realvm.RealMachine(disks, tmp_path / "tampered")
    machine.start()
    try:
        # systemd-boot starts the pending entry (the default); the firmware says no, and
        # with nothing else to start it waits for a key
        refused = machine.wait_for(r"No bootable option", BOOT_TIMEOUT)
        assert re.search(r"Error loading \\EFI\\[^:]*cloud[^:]*uki\.efi: Access Denied",
                         refused), refused[-2000:]
        assert "Linux version" not in refused
        # the user resets the machine and picks the previous state in the menu (the
        # log still holds the first menu: wait for the next drawing of each line)
        pending, previous = (highlighted(real_guest.os_name, n) for n in (2, 1))
        seen = {p: len(re.findall(p, machine.log())) for p in (pending, previous)}
        machine.qmp(("system_reset", None))
        machine.wait_for(pending, BOOT_TIMEOUT, count=seen[pending] + 1)
        machine.press("down")
        machine.wait_for(previous, 30, count=seen[previous] + 1)
        machine.press("ret")
        intact = guest_lines(machine.run_until_off(BOOT_TIMEOUT, SILENCE))
    finally:
        machine.stop()

    assert one(intact, "stateid") == "1"
    assert one(intact, "uname") == real_guest.kver
    assert one(intact, "secureboot") == "1"
    assert "rd.luks.key" not in one(intact, "cmdline")
    status = intact.get("out-status", [])
    bad = [line for line in status if image.split("/")[-2] in line]
    assert bad and "verifies" not in bad[0].split()[0], status
    assert any(line.split()[0] == "verifies" and real_guest.kver + "/" in line
               for line in status if line.strip()), status
