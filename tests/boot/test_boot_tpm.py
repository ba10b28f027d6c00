"""TPM2 unlock: moss names the LUKS volume and the PCR before a change would lock it.

Real LUKS2 headers made by `cryptsetup luksFormat` on image files (no device-mapper
needed), with systemd-tpm2 tokens imported as `systemd-cryptenroll` writes them (there
is no TPM here to seal to; moss only reads the token's PCR list).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boot.secureboot import tpm
from boot.secureboot.tpm import Binding, Change
from moss.cli import main
from tests.boot.test_boot_integration import kernel_package
from tests.support.blockdev import boot_root, loop_device

pytestmark = pytest.mark.skipif(
    shutil.which("cryptsetup") is None or os.geteuid() != 0,
    reason="needs root and cryptsetup (scripts/setup.sh installs it)",
)


def luks_image(path: Path, tokens: list[dict[str, object]]) -> str:
    """A LUKS2 header with these systemd-tpm2 tokens; returns its UUID."""
    with path.open("wb") as f:
        f.truncate(20 * 1024 * 1024)
    subprocess.run(["cryptsetup", "luksFormat", "-q", "--type", "luks2", "--pbkdf", "pbkdf2",
                    "--pbkdf-force-iterations", "1000", str(path), "-"], input=b"secret",
                   check=True, capture_output=True)
    for token in tokens:
        spec = path.with_suffix(".json")
        spec.write_text(json.dumps({"type": "systemd-tpm2", "keyslots": ["0"],
                                    "tpm2-blob": "AAAA", "tpm2-pcr-bank": "sha256",
                                    "tpm2-primary-alg": "ecc", "tpm2-policy-hash": "00",
                                    **token}))
        subprocess.run(["cryptsetup", "token", "import", "--json-file", str(spec), str(path)],
                       check=True, capture_output=True)
    return subprocess.run(["cryptsetup", "luksUUID", str(path)], check=True,
                          capture_output=True, text=True).stdout.strip()


def test_tokens_are_read_from_a_real_header(tmp_path: Path) -> None:
    image = tmp_path / "luks.img"
    uuid = luks_image(image, [{"tpm2-pcrs": [7]}, {"tpm2-pcrs": [], "tpm2-pubkey-pcrs": [11]}])
    assert tpm.bindings(uuid, str(image)) == [
        Binding(uuid, frozenset({7}), frozenset()),
        Binding(uuid, frozenset(), frozenset({11})),
    ]
    plain = tmp_path / "plain.img"
    assert tpm.bindings(luks_image(plain, []), str(plain)) == []
    assert tpm.bindings("x", str(tmp_path / "missing")) == []


@pytest.mark.parametrize(("pcrs", "signed", "unified", "said"), [
    ({4}, set(), False, "PCR 4"),
    ({0, 2}, set(), True, None),
    ({7}, set(), False, None),  # nothing signed by another certificate is replaced
    ({11}, set(), True, "PCR 11"),
    ({11}, set(), False, None),
    (set(), {11}, True, "no .pcrsig"),
])
def test_which_pcrs_a_change_moves(
        tmp_path: Path, pcrs: set[int], signed: set[int], unified: bool, said: str | None) -> None:
    image = tmp_path / "uki.efi"
    found = tpm.risks(Binding("v", frozenset(pcrs), frozenset(signed)),
                      Change([image], unified, None))
    assert (said in " ".join(found)) if said else found == []


@settings(max_examples=100, deadline=None)
@given(st.frozensets(st.integers(0, 23)), st.frozensets(st.integers(0, 23)), st.booleans())
def test_no_write_moves_nothing_and_untouched_pcrs_never_warn(
        pcrs: frozenset[int], signed: frozenset[int], unified: bool) -> None:
    binding = Binding("v", pcrs, signed)
    assert tpm.risks(binding, Change([], unified, None)) == []
    if not (pcrs | signed) & {4, 7, 11}:
        assert tpm.risks(binding, Change([Path("/nonexistent/uki.efi")], unified, None)) == []


@pytest.fixture
def luks_loop(tmp_path: Path) -> Iterator[str]:
    """A LUKS2 volume sealed to PCR 4 and 7 on a loop device, found by blkid like a disk."""
    image = tmp_path / "luks.img"
    uuid = luks_image(image, [{"tpm2-pcrs": [4, 7]}])
    with loop_device(image):
        yield uuid


def test_install_says_so_before_a_new_kernel_moves_pcr_4(
        tmp_path: Path, luks_loop: str, capsys: pytest.CaptureFixture[str]) -> None:
    root = boot_root(tmp_path / "root",
                     f"esp = /efi\nroot = root=UUID=1 rw rd.luks.uuid={luks_loop}\n")
    capsys.readouterr()
    assert main(["-D", str(root), "-y", "--quiet", "install",
                 str(kernel_package(tmp_path, "6.1.0-1", 1))]) == 0
    err = capsys.readouterr().err
    assert f"LUKS volume {luks_loop} unlocks with the TPM, sealed to PCR 4" in err
    assert "re-enroll" in err
    # nothing new to write: nothing to say
    assert main(["-D", str(root), "-y", "--quiet", "boot", "sync"]) == 0
    assert "unlocks with the TPM" not in capsys.readouterr().err


def test_pcr_7_moves_when_a_file_signed_by_another_certificate_is_replaced(
        tmp_path: Path) -> None:
    from tests.boot.test_boot_secureboot import EFI, make_keys
    if shutil.which("sbsign") is None or not (EFI / "systemd-bootx64.efi").is_file():
        pytest.skip("needs sbsigntool and systemd-boot-efi")
    theirs_key, theirs = make_keys(tmp_path / "k", "vendor")
    _ours_key, ours = make_keys(tmp_path / "k", "ours")
    on_esp = tmp_path / "BOOTX64.EFI"
    subprocess.run(["sbsign", "--key", str(theirs_key), "--cert", str(theirs), "--output",
                    str(on_esp), str(EFI / "systemd-bootx64.efi")], check=True,
                   capture_output=True)
    sealed = Binding("v", frozenset({7}), frozenset())
    assert "PCR 7" in " ".join(tpm.risks(sealed, Change([on_esp], False, ours)))
    assert tpm.risks(sealed, Change([on_esp], False, theirs)) == []


def test_a_reused_loop_device_is_found_by_its_new_uuid(tmp_path: Path) -> None:
    """``blkid -U`` answers from blkid's cache without udev: a loop device reused for
    another LUKS volume kept the old UUID there, and the TPM check found no volume
    (two full runs of the suite met it).  The lookup probes the devices themselves."""
    if shutil.which("cryptsetup") is None or shutil.which("blkid") is None:
        pytest.skip("needs cryptsetup and blkid (apt-get install cryptsetup util-linux)")
    first = luks_image(tmp_path / "first.img", [])
    second = luks_image(tmp_path / "second.img", [])
    with loop_device(tmp_path / "first.img"):
        subprocess.run(["blkid", "-U", first], capture_output=True, check=False)  # cached
    with loop_device(tmp_path / "second.img") as device:
        found = tpm.by_uuid(second)
        assert found is not None and os.path.realpath(found) == os.path.realpath(device)


@pytest.fixture
def swtpm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A real TPM 2.0 (swtpm) on a free TCP port, chosen for tpm2-tools by TPM2TOOLS_TCTI."""
    if shutil.which("swtpm") is None or shutil.which("tpm2_getcap") is None:
        pytest.skip("needs swtpm and tpm2-tools (scripts/setup.sh installs them)")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        ["swtpm", "socket", "--tpm2", "--tpmstate", f"dir={tmp_path}",
         "--server", f"type=tcp,port={port},bindaddr=127.0.0.1",
         "--ctrl", f"type=tcp,port={port + 1},bindaddr=127.0.0.1",
         "--flags", "not-need-init,startup-clear"])
    tcti = f"swtpm:host=127.0.0.1,port={port}"
    monkeypatch.setenv("TPM2TOOLS_TCTI", tcti)
    try:
        for _ in range(100):
            if subprocess.run(["tpm2_getcap", "properties-variable"],
                              capture_output=True).returncode == 0:
                break
            subprocess.run(["sleep", "0.05"])
        yield tcti
    finally:
        proc.kill()
        proc.wait()


def test_the_dictionary_attack_counter_is_read_from_the_tpm(swtpm: str) -> None:
    """What `boot status` says of a real TPM's lockout counter and its limit, which a
    power loss moves when systemd < 256 sealed the key (no noDA)."""
    fresh = tpm.lockout()
    assert fresh == tpm.Lockout(failed=0, allowed=3, locked=False)  # swtpm's defaults
    subprocess.run(["tpm2_dictionarylockout", "--setup-parameters", "--max-tries=32",
                    "--recovery-time=7200", "--lockout-recovery-time=86400"], check=True,
                   capture_output=True)
    provisioned = tpm.lockout()
    assert provisioned == tpm.Lockout(failed=0, allowed=32, locked=False)
    assert "counter 0 of 32" in provisioned.describe()
    # a wrong password for a DA-protected sealed object counts as a failed try
    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"moss-da-{os.getpid()}"
    work.mkdir()
    steps = [["tpm2_createprimary", "-C", "o", "-c", "prim.ctx"],
             ["tpm2_create", "-C", "prim.ctx", "-p", "right", "-i-", "-u", "k.pub", "-r",
              "k.priv"],
             ["tpm2_load", "-C", "prim.ctx", "-u", "k.pub", "-r", "k.priv", "-c", "k.ctx"]]
    for step in steps:  # no resource manager: flush each tool's transient objects
        subprocess.run(step, input=b"data", cwd=work, check=True, capture_output=True)
        subprocess.run(["tpm2_flushcontext", "-t"], cwd=work, check=True, capture_output=True)
    wrong = subprocess.run(["tpm2_unseal", "-c", "k.ctx", "-p", "wrong"], cwd=work,
                           capture_output=True)
    shutil.rmtree(work)
    assert wrong.returncode != 0
    counted = tpm.lockout()
    assert counted == tpm.Lockout(failed=1, allowed=32, locked=False)
    assert "counter 1 of 32" in counted.describe()
