"""The real-OS guest's disks, its scenario harness, and its boots with a watchdog.

The root (``/dev/vda``, ext4, whole disk) holds the Debian userland installed by
``moss -D ROOT`` on the host; the ESP is partition 1 of a GPT disk
(``/dev/vdb1``, partition type ESP) so that moss on the running guest finds it
the way it finds a real one.  Everything moss does in the guest runs inside the
guest on ``/``: a systemd unit (``qemu-guest.service``) counts the boots, runs
``/etc/qemu-guest/boot.d/<n>`` for boot ``n`` (scripts the test wrote before the
first boot, outside ``/usr`` so every state sees them), reports ``GUEST
key=value`` lines on the serial console *and* in ``/var/lib/qemu-guest/report-<n>``
on the root, then powers off.  Each boot is a fresh QEMU on the same disks and
VARS store (a reboot inside one QEMU was seen to hang).
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path

import guest
from machine import Machine

STATES_DIR = "/var/lib/qemu-guest"
ESP_TYPE = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
ESP_OFFSET_MIB = 1
ESP_MIB = 160
# Kernel arguments: quiet consoles (the report lines share ttyS0), no getty.
CMDLINE = ("root=/dev/vda rw console=ttyS0 panic=1 loglevel=3 systemd.show_status=false "
           "systemd.mask=serial-getty@ttyS0.service systemd.mask=getty@tty1.service")

# Only the modules a live moss needs on this kernel: the ESP's filesystem, efivarfs,
# and systemd's automount.
ROOT_MODULES = ("kernel/fs/fat/fat.ko", "kernel/fs/fat/vfat.ko", "kernel/fs/nls/nls_cp437.ko",
                "kernel/fs/nls/nls_ascii.ko", "kernel/fs/nls/nls_utf8.ko",
                "kernel/fs/efivarfs/efivarfs.ko", "kernel/fs/autofs/autofs4.ko")

# Units that a test machine does not need and that cost seconds under TCG; the
# ConditionNeedsUpdate ones would run after every /usr exchange.
MASKED = ("systemd-hwdb-update.service", "systemd-journal-catalog-update.service",
          "ldconfig.service", "systemd-update-done.service", "e2scrub_all.timer",
          "apt-daily.timer", "apt-daily-upgrade.timer", "dpkg-db-backup.timer",
          "fstrim.timer", "systemd-tmpfiles-clean.timer", "getty@tty1.service",
          "serial-getty@ttyS0.service", "systemd-random-seed.service",
          "systemd-boot-update.service")  # moss installs the boot loader, not bootctl

UNIT = """[Unit]
Description=qemu-tests: this boot's scenario step
After=basic.target local-fs.target systemd-bless-boot.service

[Service]
Type=oneshot
ExecStart=/etc/qemu-guest/run
StandardInput=null
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0

[Install]
WantedBy=multi-user.target
"""

RUN = """#!/bin/sh
# qemu-tests harness: count this boot, run its step, report, power off.
export PATH=/usr/bin:/usr/sbin LANG=C.UTF-8
R=%(states)s
mkdir -p $R
n=$(( $(cat $R/boots 2>/dev/null || echo 0) + 1 ))
echo $n > $R/boots
sync
. /etc/qemu-guest/lib.sh
say boot "$n"
say stateid "$(cat /usr/.stateID)"
say uname "$(uname -r)"
say cmdline "$(cat /proc/cmdline)"
say pivot "$(cat /run/moss/pivot.json 2>/dev/null)"
say uptime "$(cut -d' ' -f1 /proc/uptime)"
[ -f /etc/qemu-guest/boot.d/$n ] && . /etc/qemu-guest/boot.d/$n
say done "$n"
sync
systemctl poweroff -ff
"""

LIB = r"""# qemu-tests helpers for boot.d scripts: say KEY VALUE; step NAME COMMAND...
say() {
    echo "GUEST $1=$2"
    echo "GUEST $1=$2" >> $R/report-$n
}
step() {
    name=$1; shift
    t0=$(date +%s%N)
    # a line every 30 s while the command runs: the host's no-output watchdog then
    # catches a hung guest, not a slow command (a verify under load takes minutes)
    ( while sleep 30; do echo "qemu-guest: $name still running"; done ) &
    beat=$!
    "$@" > $R/$name.out 2>&1
    rc=$?
    kill $beat 2>/dev/null
    t1=$(date +%s%N)
    while IFS= read -r line; do say "out-$name" "$line"; done < $R/$name.out
    say "cmd-$name" "rc=$rc ms=$(( (t1 - t0) / 1000000 ))"
    return $rc
}
fstypes() {
    grep " $1 " /proc/mounts | cut -d' ' -f3 | tr '\n' ' ' | sed 's/ $//'
}
efivar() {
    f=/sys/firmware/efi/efivars/$1-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f
    # efivarfs files cannot be read from an offset: read all, drop the attributes
    [ -f "$f" ] && cat "$f" | tail -c +5 | tr -d '\000'
}
"""

# The guest is a read-only OS (README, "A read-only OS"): / and /usr refuse writes, moss
# changes them from its own namespace.  A scenario can turn it off before its first boot
# (realsetup.write_readonly_conf).
READONLY_CONF = """enabled = yes
"""

BOOT_CONF = """# the live guest: no esp= and no efivars=, moss finds them itself
root = {cmdline}
timeout = {timeout}
keep = 5
"""


def module_subset(kernel: guest.GuestKernel, out: Path) -> guest.GuestKernel:
    """The kernel with only ``ROOT_MODULES`` in its module tree (depmod run)."""
    moddir = out / "lib" / "modules" / kernel.kver
    for rel in ROOT_MODULES:
        (moddir / rel).parent.mkdir(parents=True, exist_ok=True)
        (moddir / rel).write_bytes((kernel.moddir / rel).read_bytes())
    for name in ("modules.builtin", "modules.builtin.modinfo", "modules.order"):
        if (kernel.moddir / name).is_file():
            (moddir / name).write_bytes((kernel.moddir / name).read_bytes())
    run(["depmod", "-b", str(out), kernel.kver])
    return replace(kernel, moddir=moddir)


def run(cmd: list[str], env: dict[str, str] | None = None, stdin: str | None = None) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, input=stdin)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc.stdout


def install_harness(root: Path, boot_scripts: dict[int, str], timeout: int = 0) -> None:
    """The live boot.conf, the scenario unit and its scripts, masks and fstab."""
    (root / "etc/moss/boot.conf").write_text(BOOT_CONF.format(cmdline=CMDLINE, timeout=timeout))
    (root / "etc/moss/readonly.conf").write_text(READONLY_CONF)
    units = root / "etc/systemd/system"
    (units / "multi-user.target.wants").mkdir(parents=True, exist_ok=True)
    (units / "qemu-guest.service").write_text(UNIT)
    os.symlink("../qemu-guest.service", units / "multi-user.target.wants/qemu-guest.service")
    for name in MASKED:
        link = units / name
        link.unlink(missing_ok=True)
        os.symlink("/dev/null", link)
    # journald in memory: nothing of its own keeps the root busy or grows it
    (root / "etc/systemd/journald.conf.d").mkdir(parents=True, exist_ok=True)
    (root / "etc/systemd/journald.conf.d/volatile.conf").write_text(
        "[Journal]\nStorage=volatile\n")
    # the ESP by device, not mounted at boot: each scenario chooses how it is reachable
    with open(root / "etc/fstab", "a") as fstab:
        fstab.write("/dev/vdb1 /efi vfat noauto,x-systemd.automount,umask=0077 0 0\n")
    (root / "etc/hostname").write_text("moss-guest\n")
    harness = root / "etc/qemu-guest"
    (harness / "boot.d").mkdir(parents=True)
    (harness / "run").write_text(RUN % {"states": STATES_DIR})
    (harness / "run").chmod(0o755)
    (harness / "lib.sh").write_text(LIB)
    for number, script in boot_scripts.items():
        (harness / "boot.d" / str(number)).write_text(script)


@dataclass(frozen=True)
class Disks:
    root: Path
    esp: Path  # a GPT disk; the FAT is partition 1 at ESP_OFFSET_MIB
    vars: Path

    def as_images(self) -> guest.Images:
        return guest.Images(self.root, self.esp, self.vars)


def make_disks(root: Path, out: Path) -> Disks:
    """ext4 of ROOT, a GPT disk with ROOT/efi as its ESP, the VARS with ROOT/efivars."""
    out.mkdir(parents=True, exist_ok=True)
    disks = Disks(out / "root.img", out / "esp-disk.img", out / "vars.fd")
    size = guest._size_mib(root) + 1024
    run(["mkfs.ext4", "-q", "-F", "-L", "root", "-d", str(root), str(disks.root), f"{size}M"])
    part = out / "esp-part.img"
    run(["mkfs.vfat", "-C", "-n", "ESP", str(part), str(ESP_MIB * 1024)])
    items = sorted((root / "efi").iterdir())
    if items:
        run(["mcopy", "-s", "-i", str(part), *map(str, items), "::/"], env=guest.MTOOLS)
    with open(disks.esp, "wb") as disk:
        disk.truncate((ESP_MIB + ESP_OFFSET_MIB + 1) * 1024 * 1024)
    run(["sfdisk", "-q", str(disks.esp)],
        stdin=f"label: gpt\nstart={ESP_OFFSET_MIB * 2048}, type={ESP_TYPE}, name=ESP\n")
    run(["dd", f"if={part}", f"of={disks.esp}", "bs=1M", f"seek={ESP_OFFSET_MIB}",
         "conv=notrunc,sparse", "status=none"])
    part.unlink()
    guest.write_vars(root / "efivars", disks.vars, {})
    return disks


def copy_disks(disks: Disks, out: Path) -> Disks:
    """A private copy of the disks for one scenario (sparse, seconds)."""
    out.mkdir(parents=True, exist_ok=True)
    copy = Disks(out / disks.root.name, out / disks.esp.name, out / disks.vars.name)
    for src, dest in ((disks.root, copy.root), (disks.esp, copy.esp), (disks.vars, copy.vars)):
        run(["cp", "--sparse=always", str(src), str(dest)])
    return copy


def esp_listing(disks: Disks, folder: str) -> list[str]:
    """File names in a folder of the ESP, read on the host with mtools."""
    out = run(["mdir", "-b", "-i", f"{disks.esp}@@{ESP_OFFSET_MIB}M", f"::/{folder}"],
              env=guest.MTOOLS)
    return sorted(Path(line.strip()).name for line in out.splitlines() if line.strip())


def esp_file(disks: Disks, path: str) -> str:
    return run(["mtype", "-i", f"{disks.esp}@@{ESP_OFFSET_MIB}M", f"::/{path}"],
               env=guest.MTOOLS)


class RealMachine(Machine):
    """The busybox guest's machine with both disks on virtio and more memory."""

    def __init__(self, disks: Disks, workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        super().__init__(disks.as_images(), workdir, memory=1024)
        at = self.command.index(f"if=ide,format=raw,file={disks.esp}")
        del self.command[at - 1: at + 1]
        self.command += ["-drive", f"if=virtio,format=raw,file={disks.esp}"]

    def run_until_off(self, hard_timeout: float, silence: float) -> str:
        """The serial log once the guest powered off; fails on a hang or a long silence."""
        return self.run_until(None, hard_timeout, silence)

    def run_until(self, pattern: str | None, hard_timeout: float, silence: float) -> str:
        """The serial log once it holds ``pattern`` (None: once QEMU ended by itself).

        Fails when the guest runs longer than ``hard_timeout``, prints nothing for
        ``silence`` seconds, or powers off before ``pattern``.
        """
        assert self.proc is not None
        deadline = time.monotonic() + hard_timeout
        last_size, last_change = -1, time.monotonic()
        while True:
            if pattern is not None and pattern in self.log():
                return self.log()
            if self.proc.poll() is not None:
                if self.proc.returncode != 0:
                    raise AssertionError(f"QEMU failed ({self.proc.returncode}): "
                                         f"{self.qemu_output()}\nserial:\n{self.log()[-4000:]}")
                if pattern is None:
                    return self.log()
                raise AssertionError(f"the guest powered off before {pattern!r}; serial:\n"
                                     f"{self.log()[-4000:]}")
            now = time.monotonic()
            size = self.serial.stat().st_size if self.serial.exists() else 0
            if size != last_size:
                last_size, last_change = size, now
            if now > deadline or now - last_change > silence:
                why = "ran longer than" if now > deadline else "printed nothing for"
                limit = hard_timeout if now > deadline else silence
                self.stop()
                raise AssertionError(f"the guest {why} {limit:.0f} s; serial:\n"
                                     f"{self.log()[-4000:]}")
            time.sleep(0.1)
