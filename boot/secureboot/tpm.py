"""TPM2 unlock: say so before a change to $BOOT would make the next boot ask for a passphrase.

``systemd-cryptenroll --tpm2-device=auto`` seals a LUKS2 key to PCR values.
What moss writes changes some of them at the next boot:

- PCR 4 holds the hash of every EFI image started (boot loader, kernel or
  unified image): any new one moss writes changes it;
- PCR 7 holds the Secure Boot state and the certificate that verified the
  images: it changes when moss replaces a file signed by another certificate
  (a distribution's, a hand-made one) with one signed by its key;
- PCR 11 (systemd-stub's measurement of a unified image) changes with every
  new unified image; a token sealed to a *signed* PCR 11 policy
  (``tpm2-pubkey-pcrs``) needs a ``.pcrsig`` section, which moss's images do
  not carry.

moss reads the tokens (``cryptsetup luksDump --dump-json-metadata``) of the
LUKS volumes the entry's command line opens (``rd.luks.uuid=``) and warns,
naming the volume and the PCR, before it writes.  It cannot re-seal: the
admin re-enrolls after the first boot of the new files (README, *Real
machines*).  Tokens are only read; nothing is ever written to a LUKS header.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from boot.secureboot.signing import is_signed, verifies
from boot.statetree.inroot import warn
from moss.core.run import CommandError, run


@dataclass(frozen=True)
class Binding:
    """One systemd-tpm2 token of a LUKS volume."""

    volume: str  # the LUKS UUID
    pcrs: frozenset[int]
    signed_pcrs: frozenset[int]  # bound through a signed policy (tpm2-pubkey-pcrs)


def bindings(volume: str, device: str) -> list[Binding]:
    """The systemd-tpm2 tokens in the LUKS2 header on ``device``; none if unreadable."""
    try:
        out = run(["cryptsetup", "luksDump", "--dump-json-metadata", device]).stdout
        tokens = json.loads(out).get("tokens", {})
    except (CommandError, ValueError, AttributeError):
        return []
    found = []
    for token in tokens.values() if isinstance(tokens, dict) else []:
        if isinstance(token, dict) and token.get("type") == "systemd-tpm2":
            found.append(Binding(volume, _pcrs(token.get("tpm2-pcrs")),
                                 _pcrs(token.get("tpm2-pubkey-pcrs"))))
    return found


@dataclass(frozen=True)
class Lockout:
    """The TPM's dictionary-attack state, which no PCR policy helps past."""

    failed: int  # TPM2_PT_LOCKOUT_COUNTER
    allowed: int  # TPM2_PT_MAX_AUTH_FAIL
    locked: bool  # inLockout

    def describe(self) -> str:
        if self.locked:
            return (f"dictionary-attack lockout ({self.failed} of {self.allowed} failed tries): "
                    "the next boot asks for the passphrase; `tpm2_dictionarylockout "
                    "--clear-lockout` ends it")
        return (f"dictionary-attack counter {self.failed} of {self.allowed} (with systemd < 256 "
                "every power loss counts as a failed try: at the limit the boot asks for the "
                "passphrase)")


def lockout() -> Lockout | None:
    """The running machine's TPM dictionary-attack counter (``tpm2_getcap``), or None.

    systemd before 256 seals the LUKS key without ``TPMA_OBJECT_NODA``
    (systemd #30330), so each unclean shutdown counts as a failed try; PC firmware
    allows 32, an emulated TPM 3.  ``TPM2TOOLS_TCTI`` chooses another TPM, as for
    every tpm2-tools command; without it, ``/dev/tpmrm0``.
    """
    tcti = [] if "TPM2TOOLS_TCTI" in os.environ else ["-T", "device:/dev/tpmrm0"]
    if tcti and not os.path.exists("/dev/tpmrm0"):
        return None  # no TPM here
    try:
        out = run(["tpm2_getcap", *tcti, "properties-variable"]).stdout
    except CommandError:
        return None
    values = {}
    for line in out.splitlines():
        key, _, value = line.strip().partition(":")
        values[key] = value.strip()
    try:
        return Lockout(int(values["TPM2_PT_LOCKOUT_COUNTER"], 0),
                       int(values["TPM2_PT_MAX_AUTH_FAIL"], 0), values.get("inLockout") == "1")
    except (KeyError, ValueError):
        return None


def _pcrs(value: object) -> frozenset[int]:
    return frozenset(v for v in value if isinstance(v, int)) if isinstance(value, list) else (
        frozenset())


def by_uuid(volume: str) -> str | None:
    """The device of a LUKS UUID: udev's link, else each block device probed directly.

    Not ``blkid -U``: without udev it answers from blkid's cache, which keeps the
    UUID a reused loop device had before (a full test run met exactly that).
    """
    path = Path("/dev/disk/by-uuid") / volume
    if path.exists():
        return str(path)
    try:
        names = sorted(os.listdir("/sys/class/block"))
    except OSError:
        return None
    for name in names:
        device = f"/dev/{name}"
        if not os.path.exists(device):
            continue
        try:
            found = run(["blkid", "-p", "-s", "UUID", "-o", "value", device]).stdout.strip()
        except CommandError:
            continue
        if found == volume:
            return device
    return None


def volumes(cmdline: str | None) -> list[str]:
    """The LUKS UUIDs a command line opens."""
    words = (cmdline or "").split()
    return [w.removeprefix("rd.luks.uuid=").removeprefix("luks-") for w in words
            if w.startswith("rd.luks.uuid=")]


@dataclass(frozen=True)
class Change:
    """What a sync is about to write, as the TPM will measure it."""

    images: list[Path]  # EFI images replaced or added (boot loader, kernels, unified images)
    unified: bool  # the kernels are unified images
    cert: Path | None  # the certificate moss signs with, if it signs


def risks(binding: Binding, change: Change) -> list[str]:
    """Why ``change`` breaks ``binding``, one phrase per PCR."""
    if not change.images:
        return []
    said = []
    if 4 in binding.pcrs:
        said.append("PCR 4 (the hash of every boot loader and kernel started)")
    if change.cert is not None and 7 in binding.pcrs and any(
        p.exists() and is_signed(p) and not verifies(p, change.cert) for p in change.images
    ):
        said.append("PCR 7 (images signed by another certificate are replaced)")
    if change.unified and 11 in binding.pcrs:
        said.append("PCR 11 (each new unified image)")
    if change.unified and 11 in binding.signed_pcrs:
        said.append("its signed PCR 11 policy (moss's unified images carry no .pcrsig)")
    return said


def say_before(cmdline: str | None, change: Change,
               device_of: Callable[[str], str | None] = by_uuid) -> list[str]:
    """Warn for each TPM-bound volume of the root that ``change`` would lock; the lines."""
    lines = []
    for volume in volumes(cmdline):
        device = device_of(volume)
        found: Iterable[Binding] = bindings(volume, device) if device else []
        for binding in found:
            why = risks(binding, change)
            if why:
                lines.append(
                    f"LUKS volume {volume} unlocks with the TPM, sealed to {'; '.join(why)}: "
                    "after this change its next boot asks for the passphrase or recovery key; "
                    "re-enroll it once booted (systemd-cryptenroll --wipe-slot=tpm2 "
                    "--tpm2-device=auto)"
                )
    for line in lines:
        warn(line)
    return lines
