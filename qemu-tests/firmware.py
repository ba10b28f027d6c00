"""The real-OS guest's firmware and TPM: OVMF with Secure Boot enforcing, and swtpm.

The firmware is OVMF's Secure Boot build (SMM on, as it requires) with a VARS store
in user mode holding this session's own PK, KEK and db certificates and no
Microsoft keys, as ``virt-fw-vars`` (the README's "Real machines" recipe) enrolls
them; moss in the guest signs with the db key.  The TPM is ``swtpm`` (TPM 2.0)
behind QEMU's ``tpm-tis`` device: one swtpm per boot on the machine's own state
folder, so what a boot seals survives into the next, power cuts included.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

OVMF_SECBOOT_CODE = Path("/usr/share/OVMF/OVMF_CODE_4M.secboot.fd")
OWNER_GUID = "a0baa8a3-041d-48a9-9fc5-6d3a5b1e4f2c"  # the owner of our enrolled keys


@dataclass(frozen=True)
class Keys:
    """The session's Secure Boot keys: PK and KEK certificates, the db key pair."""

    folder: Path

    def cert(self, name: str) -> Path:
        return self.folder / f"{name}.crt"

    def key(self, name: str) -> Path:
        return self.folder / f"{name}.key"


def unavailable() -> str | None:
    """What is missing for a Secure Boot machine with a TPM, or None."""
    if not OVMF_SECBOOT_CODE.is_file():
        return f"{OVMF_SECBOOT_CODE} (apt install ovmf)"
    for tool in ("swtpm", "openssl", "sbsign"):
        if shutil.which(tool) is None:
            return f"{tool} (scripts/setup.sh installs swtpm, openssl and sbsigntool)"
    return None


def make_keys(folder: Path) -> Keys:
    """A self-signed PK, KEK and db (RSA 2048, as firmware accepts), made with openssl."""
    folder.mkdir(parents=True, exist_ok=True)
    keys = Keys(folder)
    for name in ("pk", "kek", "db"):
        _run(["openssl", "req", "-new", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
              "-days", "3650", "-subj", f"/CN=moss qemu-tests {name}",
              "-keyout", str(keys.key(name)), "-out", str(keys.cert(name))])
        keys.key(name).chmod(0o600)
    return keys


def enroll(vars_store: Path, keys: Keys, virt_fw_vars: str) -> None:
    """Turn a VARS store into Secure Boot user mode with our keys (its other variables kept)."""
    tmp = vars_store.with_suffix(".enrolling")
    _run([virt_fw_vars, "-i", str(vars_store), "-o", str(tmp), "--secure-boot",
          "--set-pk", OWNER_GUID, str(keys.cert("pk")),
          "--add-kek", OWNER_GUID, str(keys.cert("kek")),
          "--add-db", OWNER_GUID, str(keys.cert("db"))])
    tmp.replace(vars_store)


def qemu_arguments(command: list[str], code: Path) -> list[str]:
    """The machine's QEMU command with the Secure Boot firmware: SMM on, flash secured."""
    out = [a.replace("q35", "q35,smm=on") if a == "q35" else a for a in command]
    out = [a.replace(f"file={code}", f"file={OVMF_SECBOOT_CODE}") for a in out]
    return [*out, "-global", "driver=cfi.pflash01,property=secure,value=on"]


class Swtpm:
    """One swtpm for one QEMU run, on a state folder that outlives it."""

    def __init__(self, state: Path) -> None:
        state.mkdir(parents=True, exist_ok=True)
        self.state = state
        # sun_path holds 108 bytes: the socket lives in a short temporary folder
        self.socket = Path(tempfile.mkdtemp(prefix="moss-tpm-")) / "swtpm.sock"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["swtpm", "socket", "--tpm2", "--tpmstate", f"dir={self.state}",
             "--ctrl", f"type=unixio,path={self.socket}", "--terminate"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while not self.socket.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise AssertionError(f"swtpm did not start: {err}")
            time.sleep(0.05)

    def qemu_arguments(self) -> list[str]:
        return ["-chardev", f"socket,id=chrtpm,path={self.socket}",
                "-tpmdev", "emulator,id=tpm0,chardev=chrtpm",
                "-device", "tpm-tis,tpmdev=tpm0"]

    def stop(self) -> None:
        """swtpm ends with QEMU (--terminate); a killed QEMU's swtpm is killed here."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        shutil.rmtree(self.socket.parent, ignore_errors=True)


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd[:3])} failed ({proc.returncode}):\n{proc.stderr}")
