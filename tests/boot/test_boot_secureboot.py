"""Secure Boot: moss signs what the firmware verifies, once, and never unsigns $BOOT.

Real keys from `openssl`, real `sbsign`/`sbverify`, the real systemd-boot of this
machine shipped in a state, and systemd's EFI stub (a real PE image) standing in for
the kernel image, since `sbsign` signs PE files only.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boot.secureboot import signing
from moss.cli import main
from tests.boot.test_boot_integration import hello
from tests.support.blockdev import boot_root
from tests.support.packages import make_package

EFI = Path("/usr/lib/systemd/boot/efi")
pytestmark = pytest.mark.skipif(
    shutil.which("sbsign") is None or not (EFI / "systemd-bootx64.efi").is_file()
    or os.geteuid() != 0,
    reason="needs root, sbsigntool and systemd-boot-efi (scripts/setup.sh installs them)",
)
FIRMWARE_CHECKED = ["EFI/BOOT/BOOTX64.EFI", "EFI/systemd/systemd-bootx64.efi"]


def make_keys(where: Path, name: str = "db") -> tuple[Path, Path]:
    where.mkdir(parents=True, exist_ok=True)
    key, cert = where / f"{name}.key", where / f"{name}.crt"
    subprocess.run(["openssl", "req", "-new", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-subj", f"/CN=moss test {name}",
                    "-days", "3650"], check=True, capture_output=True)
    key.chmod(0o600)
    return key, cert


def verifies(path: Path, cert: Path) -> bool:
    return subprocess.run(["sbverify", "--cert", str(cert), str(path)],
                          capture_output=True).returncode == 0


def systemd_boot(workdir: Path, stub: bool = True) -> Path:
    """systemd-boot-efi as a state ships it: the boot loader and systemd-stub."""
    files = {"lib/systemd/boot/efi/systemd-bootx64.efi": (EFI / "systemd-bootx64.efi").read_bytes()}
    if stub:
        files["lib/systemd/boot/efi/linuxx64.efi.stub"] = (EFI / "linuxx64.efi.stub").read_bytes()
    return make_package(workdir, "systemd-boot", files)


def kernel(workdir: Path, kver: str, release: int, initrd: bytes = b"") -> Path:
    return make_package(workdir, "linux", {
        f"lib/kernel/{kver}/vmlinuz": (EFI / "linuxx64.efi.stub").read_bytes()
        + kver.encode().ljust(512, b"\0"),
        f"lib/kernel/{kver}/10-default.initrd": initrd or os.urandom(2048),
        f"lib/modules/{kver}/modules.dep": "",
    }, version=kver, release=release)


def section(image: Path, name: str, where: Path) -> bytes | None:
    """A section's bytes as objcopy extracts them; None if the image has none."""
    names = subprocess.run(["objdump", "-h", str(image)], capture_output=True, text=True,
                           check=True).stdout.split()
    if name not in names:
        return None
    out = where / name.strip(".")
    subprocess.run(["objcopy", "-O", "binary", f"--only-section={name}", str(image), str(out)],
                   check=True, capture_output=True)
    return out.read_bytes()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return boot_root(tmp_path / "root", "esp = /efi\nroot = root=UUID=1 rw\n")


def moss(root: Path, *args: str) -> int:
    return main(["-D", str(root), "-y", "--quiet", *args])


def with_key(root: Path) -> Path:
    _key, cert = make_keys(root / "etc/moss/keys")
    conf = root / "etc/moss/boot.conf"
    conf.write_text(conf.read_text() + "secureboot-key = /etc/moss/keys/db.key\n"
                    "secureboot-cert = /etc/moss/keys/db.crt\n")
    return cert


def esp_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root / "efi")): p.read_bytes()
            for p in sorted((root / "efi").rglob("*")) if p.is_file()}


def test_boot_loader_and_unified_images_are_signed_once_and_a_resync_writes_nothing(
        tmp_path: Path, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cert = with_key(root)
    initrd = os.urandom(3000)
    assert moss(root, "install", str(systemd_boot(tmp_path)),
                str(kernel(tmp_path, "6.1.0-1", 1, initrd))) == 0
    assert moss(root, "install", str(hello(tmp_path, 1))) == 0  # a second state, same kernel
    esp = root / "efi"
    images = sorted(esp.rglob("uki.efi"))
    assert len(images) == 1
    assert not list(esp.rglob("vmlinuz")) and not list(esp.rglob("*.initrd"))
    for path in [esp / p for p in FIRMWARE_CHECKED] + images:
        assert verifies(path, cert), path
    # the initramfs is inside the signed image; no command line is, so the entry's reaches it
    assert section(images[0], ".initrd", tmp_path) == initrd
    assert section(images[0], ".linux", tmp_path) is not None
    assert section(images[0], ".cmdline", tmp_path) is None
    for state in (1, 2):
        entry = next((esp / "loader/entries").glob(f"*-{state}.conf")).read_text()
        assert f"efi /{images[0].relative_to(esp).as_posix()}\n" in entry
        assert f"moss.fstx={state}" in entry and "\nlinux " not in entry
    # one signed file per (input, certificate): the boot loader and the kernel build
    assert len(list((root / ".moss/boot/signed").iterdir())) == 2
    before = esp_files(root)
    capsys.readouterr()
    assert main(["-D", str(root), "--quiet", "boot", "sync", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["copied"] == [] and report["written"] == []
    assert esp_files(root) == before


def test_a_key_others_may_read_is_refused_and_boot_is_untouched(
        tmp_path: Path, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert moss(root, "install", str(systemd_boot(tmp_path)),
                str(kernel(tmp_path, "6.1.0-1", 1))) == 0
    before = esp_files(root)
    with_key(root)
    (root / "etc/moss/keys/db.key").chmod(0o640)
    capsys.readouterr()
    assert moss(root, "install", str(hello(tmp_path, 1))) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "may be read by others than root" in err[0]
    assert esp_files(root) == before


def test_without_a_key_signed_files_on_the_esp_are_left_signed(
        tmp_path: Path, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert moss(root, "install", str(systemd_boot(tmp_path)),
                str(kernel(tmp_path, "6.1.0-1", 1))) == 0
    key, cert = make_keys(tmp_path / "by-hand")
    esp = root / "efi"
    for path in [esp / p for p in FIRMWARE_CHECKED] + sorted(esp.rglob("vmlinuz")):
        subprocess.run(["sbsign", "--key", str(key), "--cert", str(cert), "--output",
                        str(path), str(path)], check=True, capture_output=True)
    before = esp_files(root)
    capsys.readouterr()
    assert moss(root, "install", str(hello(tmp_path, 1))) == 0
    err = capsys.readouterr().err
    assert "no secureboot-key is configured: left as they are" in err
    for name in ["BOOTX64.EFI", "systemd-bootx64.efi", "vmlinuz"]:
        assert name in err
    after = esp_files(root)
    for name, data in before.items():
        if name.startswith("EFI/"):
            assert after[name] == data, name
    assert all(verifies(esp / p, cert) for p in FIRMWARE_CHECKED)


def test_signature_table_is_read_from_the_pe_header(tmp_path: Path) -> None:
    key, cert = make_keys(tmp_path)
    out = tmp_path / "signed.efi"
    subprocess.run(["sbsign", "--key", str(key), "--cert", str(cert), "--output", str(out),
                    str(EFI / "systemd-bootx64.efi")], check=True, capture_output=True)
    assert signing.is_signed(out)
    assert not signing.is_signed(EFI / "systemd-bootx64.efi")
    assert signing.verifies(out, cert) and not signing.verifies(EFI / "systemd-bootx64.efi", cert)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2048), st.binary(max_size=64), st.integers(0, 2047))
def test_a_damaged_header_is_never_a_crash(
        cut: int, junk: bytes, where: int) -> None:
    """Cut or overwrite the start of a real unsigned PE: is_signed answers, never raises."""
    import tempfile
    data = bytearray((EFI / "systemd-bootx64.efi").read_bytes()[:4096])
    data[where:where + len(junk)] = junk
    with tempfile.NamedTemporaryFile() as f:
        f.write(bytes(data[:cut]))
        f.flush()
        signing.is_signed(Path(f.name))  # must not raise


def test_without_systemd_stub_kernels_are_signed_and_the_gap_is_said(
        tmp_path: Path, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cert = with_key(root)
    capsys.readouterr()
    assert moss(root, "install", str(systemd_boot(tmp_path, stub=False)),
                str(kernel(tmp_path, "6.1.0-1", 1))) == 0
    assert "initrds are not covered by any signature" in capsys.readouterr().err
    esp = root / "efi"
    assert verifies(next(esp.rglob("vmlinuz")), cert)
    assert all(verifies(esp / p, cert) for p in FIRMWARE_CHECKED)


def test_boot_status_shows_secure_boot_and_which_files_verify(
        tmp_path: Path, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with_key(root)
    (root / "efivars").mkdir()
    conf = root / "etc/moss/boot.conf"
    conf.write_text(conf.read_text() + "efivars = /efivars\n")
    (root / "efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c").write_bytes(
        b"\x06\x00\x00\x00\x01")
    assert moss(root, "install", str(systemd_boot(tmp_path)),
                str(kernel(tmp_path, "6.1.0-1", 1))) == 0
    image = next((root / "efi").rglob("uki.efi"))
    capsys.readouterr()
    assert main(["-D", str(root), "--quiet", "boot", "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["secure_boot"] is True and status["root"] == "root=UUID=1 rw"
    assert sorted(Path(p).name for p in status["signatures"]) == [
        "BOOTX64.EFI", "systemd-bootx64.efi", "uki.efi"]
    assert set(status["signatures"].values()) == {"verifies"}
    # a byte changed on the ESP after signing: the firmware would refuse it, and so does status
    data = bytearray(image.read_bytes())
    data[len(data) // 2] ^= 0xFF
    image.write_bytes(bytes(data))
    assert main(["-D", str(root), "--quiet", "boot", "status"]) == 0
    out = capsys.readouterr().out
    assert "secure boot: on" in out
    assert f"does not verify {image}" in " ".join(out.split())


def test_a_key_without_its_certificate_is_a_clear_error(
        tmp_path: Path, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert moss(root, "install", str(kernel(tmp_path, "6.1.0-1", 1))) == 0
    before = esp_files(root)
    conf = root / "etc/moss/boot.conf"
    conf.write_text(conf.read_text() + "secureboot-key = /etc/moss/keys/db.key\n")
    capsys.readouterr()
    assert main(["-D", str(root), "--quiet", "boot", "sync"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["moss: error: secureboot-key and secureboot-cert go together in boot.conf"]
    assert esp_files(root) == before


def test_signing_with_clr_boot_manager_is_refused_not_silently_skipped(
        tmp_path: Path, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with_key(root)
    conf = root / "etc/moss/boot.conf"
    conf.write_text(conf.read_text() + "backend = cbm\n")
    capsys.readouterr()
    assert moss(root, "install", str(kernel(tmp_path, "6.1.0-1", 1))) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "backend = bls only" in err[0]


def test_a_real_debian_kernel_becomes_a_signed_unified_image(tmp_path: Path) -> None:
    """The sections sit after the stub's, in order, without overlap, and hold the inputs."""
    from boot.secureboot import uki
    from boot.statetree.kernels import Kernel
    from tests.support.debian_kernel import KernelUnavailable, debian_kernel
    try:
        real = debian_kernel()
    except KernelUnavailable as exc:
        pytest.skip(f"no Debian kernel here: {exc}")
    initrd = tmp_path / "initrd"
    initrd.write_bytes(os.urandom(100_000))
    image = uki.build(EFI / "linuxx64.efi.stub", Kernel(real.kver, real.vmlinuz, (initrd,)),
                      'ID=serpentos\nNAME="Serpent OS"\n', tmp_path / "cache")
    assert section(image, ".linux", tmp_path) == real.vmlinuz.read_bytes()
    assert section(image, ".initrd", tmp_path) == initrd.read_bytes()
    assert section(image, ".osrel", tmp_path) == b'ID=serpentos\nNAME="Serpent OS"\n'
    headers = subprocess.run(["objdump", "-h", str(image)], capture_output=True, text=True,
                             check=True).stdout.splitlines()
    spans = [(int(f[3], 16), int(f[3], 16) + int(f[2], 16), f[1]) for f in
             (line.split() for line in headers) if len(f) >= 7 and f[0].isdigit()]
    spans.sort()
    assert [name for _s, _e, name in spans][-3:] == [".osrel", ".linux", ".initrd"]
    assert all(end <= start for (_a, end, _n), (start, _b, _m) in itertools.pairwise(spans))
    key, cert = make_keys(tmp_path / "keys")
    signer = signing.Signer(key, cert, tmp_path / "signed")
    signed = signing.signed(signer, image)
    assert verifies(signed, cert) and signing.signed(signer, image) == signed  # once
