"""The real-OS guest's disks, its scenario harness, and its boots with a watchdog.

The machine is the kind people own: Secure Boot enforcing with our own keys, a
TPM (swtpm), and an encrypted root (``/dev/vda``, whole disk: LUKS2 → btrfs with
the OS in ``@``, or LUKS2 → LVM → ext4, ``cryptdisk.py``) holding the Debian
userland installed by ``moss -D ROOT`` on the host.  The ESP is partition 1 of a
GPT disk (``/dev/vdb1``, partition type ESP) so that moss on the running guest
finds it the way it finds a real one.  An installer's first boot (``install``)
unlocks the root with a key file, enrolls the TPM and lets the live moss write the
entries; nothing after it is given a key or a ``root=``.

Everything moss does in the guest runs inside the guest on ``/``: a systemd unit
(``qemu-guest.service``) mounts the scenario disk (``/dev/vdc``, ext4 labelled
``scenario``, made by the test) on ``/var/lib/qemu-guest``, counts the boots there,
runs its ``boot.d/<n>`` for boot ``n``, reports ``GUEST key=value`` lines on the
serial console *and* in ``report-<n>`` on that disk (the host cannot open the
encrypted root; it reads the scenario disk), then powers off.  Each boot is a fresh
QEMU (and swtpm) on the same disks, VARS store and TPM state (a reboot inside one
QEMU was seen to hang).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path

import cryptdisk
import firmware
import guest
from machine import OVMF_CODE, Machine

STATES_DIR = "/var/lib/qemu-guest"  # the scenario disk's mount point
SCENARIO_LABEL = "scenario"
ESP_TYPE = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
ESP_OFFSET_MIB = 1
ESP_MIB = 160
# Kernel arguments the test machine adds (/etc/kernel/cmdline.d): quiet consoles (the
# report lines share ttyS0), no getty.  Nothing about the root: moss works that out.
CMDLINE = ("console=ttyS0 panic=1 loglevel=3 systemd.show_status=false "
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
if grep -qw qemu.install /proc/cmdline; then
    n=install
    mount -t tmpfs tmpfs $R
else
    mount LABEL=%(label)s $R || echo "GUEST scenario-disk=missing"
    n=$(( $(cat $R/boots 2>/dev/null || echo 0) + 1 ))
    echo $n > $R/boots
fi
sync
. /etc/qemu-guest/lib.sh
say boot "$n"
say stateid "$(cat /usr/.stateID)"
say uname "$(uname -r)"
say cmdline "$(cat /proc/cmdline)"
say pivot "$(cat /run/moss/pivot.json 2>/dev/null)"
dev=$(findmnt -no SOURCE / | sed 's/\\[.*//')
say root-stack "$(lsblk -rno NAME,TYPE,FSTYPE -s "$dev" | tr '\\n' ' ')"
sb=/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c
say secureboot "$(od -An -tu1 -j4 $sb 2>/dev/null | tr -d ' ')"
say uptime "$(cut -d' ' -f1 /proc/uptime)"
if [ "$n" = install ]; then
    . /etc/qemu-guest/install
elif [ -f $R/boot.d/$n ]; then
    . $R/boot.d/$n
fi
say done "$n"
sync
systemctl poweroff -ff
"""

# The installer's last steps, at its first boot (unlocked with the key file): bind the
# root's LUKS2 volume to the TPM (PCR 7: Secure Boot's state and keys), and let the live
# moss write every entry from what it finds.  The installer's own entry goes; the key
# disk is only ever attached to this boot.
#
# First the TPM's dictionary-attack parameters, as PC firmware and Windows provision them
# (32 tries, one forgiven every 2 hours), instead of swtpm's 3: systemd 252 seals without
# TPMA_OBJECT_NODA (systemd #30330, fixed in 256), so every power cut counts as a failed
# try, and with 3 the boot after the third cut in a row stops at the passphrase prompt.
INSTALL = """
export TPM2TOOLS_TCTI=device:/dev/tpmrm0
step da tpm2_dictionarylockout --setup-parameters --max-tries=32 --recovery-time=7200 \\
    --lockout-recovery-time=86400
mkdir -p /run/key
mount -o ro LABEL=%(key_label)s /run/key
step enroll systemd-cryptenroll --unlock-key-file=/run/key/%(key_file)s --tpm2-device=auto \\
    --tpm2-pcrs=7 /dev/vda
umount /run/key
step sync moss boot sync
rm -f /efi/loader/entries/installer.conf
say entries "$(ls /efi/loader/entries | tr '\\n' ' ')"
for f in /efi/loader/entries/*.conf; do say options "$(grep ^options $f)"; done
step status moss boot status
umount /efi
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

BOOT_CONF = """# the live guest: no root, esp= or efivars=, moss finds them itself
timeout = {timeout}
keep = 5
secureboot-key = /etc/moss/keys/db.key
secureboot-cert = /etc/moss/keys/db.crt
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


def install_harness(root: Path, keys: firmware.Keys, timeout: int = 0) -> None:
    """The live boot.conf and db key, the scenario unit, masks and fstab."""
    (root / "etc/moss/boot.conf").write_text(BOOT_CONF.format(timeout=timeout))
    (root / "etc/kernel/cmdline.d").mkdir(parents=True, exist_ok=True)
    (root / "etc/kernel/cmdline.d/90-qemu-tests.cmdline").write_text(CMDLINE + "\n")
    (root / "etc/moss/keys").mkdir(mode=0o700, parents=True, exist_ok=True)
    for name in ("db.key", "db.crt"):
        (root / "etc/moss/keys" / name).write_bytes((keys.folder / name).read_bytes())
        (root / "etc/moss/keys" / name).chmod(0o600)
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
    (root / STATES_DIR.lstrip("/")).mkdir(parents=True, exist_ok=True)
    harness = root / "etc/qemu-guest"
    harness.mkdir(parents=True)
    (harness / "run").write_text(RUN % {"states": STATES_DIR, "label": SCENARIO_LABEL})
    (harness / "run").chmod(0o755)
    (harness / "lib.sh").write_text(LIB)
    (harness / "install").write_text(INSTALL % {"key_label": cryptdisk.KEY_LABEL,
                                                "key_file": cryptdisk.KEY_FILE})


@dataclass(frozen=True)
class Disks:
    root: Path  # the encrypted root (cryptdisk.py)
    esp: Path  # a GPT disk; the FAT is partition 1 at ESP_OFFSET_MIB
    vars: Path  # OVMF's VARS: Secure Boot user mode with our keys
    tpm: Path  # swtpm's state folder
    scenario: Path  # ext4 labelled "scenario": boot.d scripts in, reports out
    key: Path | None = None  # the installer's key disk, attached to its boot only

    def as_images(self) -> guest.Images:
        return guest.Images(self.root, self.esp, self.vars)


def make_disks(root: Path, out: Path, kind: str, keys: firmware.Keys
               ) -> tuple[Disks, cryptdisk.Stack]:
    """ROOT encrypted as ``kind``, a GPT disk with ROOT/efi as its ESP, the enrolled VARS
    with ROOT/efivars, an empty TPM, the installer's key disk."""
    out.mkdir(parents=True, exist_ok=True)
    disks = Disks(out / "root.img", out / "esp-disk.img", out / "vars.fd", out / "tpm",
                  out / "scenario.img", out / "key.img")
    passphrase = out / "passphrase"
    passphrase.write_bytes(os.urandom(32).hex().encode())
    assert disks.key is not None
    cryptdisk.key_disk(passphrase, disks.key)
    esp = root / "efi"
    items = sorted(esp.iterdir())
    size = guest._size_mib(root) + 1024
    staged = out / "esp-content"  # the ESP's content goes to its own disk; /efi stays
    staged.mkdir()                  # an empty mount point in the root
    for item in items:
        item.rename(staged / item.name)
    stack = cryptdisk.encrypted_root(kind, root, disks.root, size, passphrase)
    part = out / "esp-part.img"
    run(["mkfs.vfat", "-C", "-n", "ESP", str(part), str(ESP_MIB * 1024)])
    if items:
        run(["mcopy", "-s", "-i", str(part), *(str(staged / i.name) for i in items), "::/"],
            env=guest.MTOOLS)
    for item in items:
        (staged / item.name).rename(item)
    staged.rmdir()
    with open(disks.esp, "wb") as disk:
        disk.truncate((ESP_MIB + ESP_OFFSET_MIB + 1) * 1024 * 1024)
    run(["sfdisk", "-q", str(disks.esp)],
        stdin=f"label: gpt\nstart={ESP_OFFSET_MIB * 2048}, type={ESP_TYPE}, name=ESP\n")
    run(["dd", f"if={part}", f"of={disks.esp}", "bs=1M", f"seek={ESP_OFFSET_MIB}",
         "conv=notrunc,sparse", "status=none"])
    part.unlink()
    guest.write_vars(root / "efivars", disks.vars, {})
    firmware.enroll(disks.vars, keys, guest.virt_fw_vars())
    disks.tpm.mkdir()
    write_scenario(disks, {}, out / "scenario")
    return disks, stack


def write_scenario(disks: Disks, scripts: dict[int, str], work: Path) -> None:
    """A new scenario disk with ``boot.d/<n>`` (the harness runs script n at boot n)."""
    folder = work / "scenario-disk"
    (folder / "boot.d").mkdir(parents=True)
    for number, text in scripts.items():
        (folder / "boot.d" / str(number)).write_text(text)
    run(["mkfs.ext4", "-q", "-F", "-L", SCENARIO_LABEL, "-d", str(folder), str(disks.scenario),
         "64M"])


def copy_disks(disks: Disks, out: Path) -> Disks:
    """A private copy of the machine for one scenario: disks, VARS, TPM (seconds)."""
    out.mkdir(parents=True, exist_ok=True)
    copy = Disks(out / disks.root.name, out / disks.esp.name, out / disks.vars.name,
                 out / disks.tpm.name, out / disks.scenario.name)
    for src, dest in ((disks.root, copy.root), (disks.esp, copy.esp), (disks.vars, copy.vars),
                      (disks.scenario, copy.scenario)):
        run(["cp", "--sparse=always", str(src), str(dest)])
    run(["cp", "-a", str(disks.tpm), str(copy.tpm)])
    return copy


def set_vars(store: Path, text_vars: dict[str, str]) -> None:
    """Set systemd-boot variables (UTF-16 text) in a VARS store, the rest kept."""
    spec = store.with_suffix(".set.json")
    spec.write_text(json.dumps({"version": 2, "variables": [
        guest.text_variable(name, text) for name, text in text_vars.items()]}))
    tmp = store.with_suffix(".setting")
    run([guest.virt_fw_vars(), "-i", str(store), "-o", str(tmp), "--set-json", str(spec)])
    tmp.replace(store)


def scenario_file(disks: Disks, name: str) -> str:
    """A file the guest left on the scenario disk (its journal replayed first)."""
    return guest.read_root_file(disks.scenario, f"/{name}")


def esp_listing(disks: Disks, folder: str) -> list[str]:
    """File names in a folder of the ESP, read on the host with mtools."""
    out = run(["mdir", "-b", "-i", f"{disks.esp}@@{ESP_OFFSET_MIB}M", f"::/{folder}"],
              env=guest.MTOOLS)
    return sorted(Path(line.strip()).name for line in out.splitlines() if line.strip())


def esp_file(disks: Disks, path: str) -> str:
    return run(["mtype", "-i", f"{disks.esp}@@{ESP_OFFSET_MIB}M", f"::/{path}"],
               env=guest.MTOOLS)


def esp_put(disks: Disks, path: str, data: bytes, work: Path) -> None:
    """Replace a file on the ESP (the installer's entry; a tampered image)."""
    work.mkdir(parents=True, exist_ok=True)
    local = work / Path(path).name
    local.write_bytes(data)
    run(["mcopy", "-o", "-i", f"{disks.esp}@@{ESP_OFFSET_MIB}M", str(local), f"::/{path}"],
        env=guest.MTOOLS)


def esp_bytes(disks: Disks, path: str, work: Path) -> bytes:
    work.mkdir(parents=True, exist_ok=True)
    local = work / Path(path).name
    run(["mcopy", "-o", "-i", f"{disks.esp}@@{ESP_OFFSET_MIB}M", f"::/{path}", str(local)],
        env=guest.MTOOLS)
    return local.read_bytes()


class RealMachine(Machine):
    """The machine people own: Secure Boot enforcing, a TPM, every disk on virtio."""

    def __init__(self, disks: Disks, workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        super().__init__(disks.as_images(), workdir, memory=1024)
        at = self.command.index(f"if=ide,format=raw,file={disks.esp}")
        del self.command[at - 1: at + 1]
        self.tpm = firmware.Swtpm(disks.tpm)
        self.command = firmware.qemu_arguments(self.command, OVMF_CODE)
        self.command += ["-drive", f"if=virtio,format=raw,file={disks.esp}",
                         "-drive", f"if=virtio,format=raw,file={disks.scenario}"]
        if disks.key is not None:
            self.command += ["-drive", f"if=virtio,format=raw,file={disks.key}"]
        self.command += self.tpm.qemu_arguments()

    def start(self) -> None:
        self.tpm.start()
        super().start()

    def stop(self) -> None:
        super().stop()
        self.tpm.stop()

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
