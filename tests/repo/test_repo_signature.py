"""Index signatures made by the real ``minisign`` tool, checked by moss."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

import pytest

from moss.core.errors import MossError
from moss.repo.signature import parse_public_key, verify

needs_minisign = pytest.mark.skipif(
    shutil.which("minisign") is None, reason="the minisign tool is not installed"
)


def make_key(directory: Path, name: str = "key") -> tuple[Path, Path]:
    pub, sec = directory / f"{name}.pub", directory / f"{name}.sec"
    subprocess.run(
        ["minisign", "-G", "-W", "-p", str(pub), "-s", str(sec)],
        check=True,
        capture_output=True,
    )
    return pub, sec


def sign(sec: Path, data: Path, *, legacy: bool = False, comment: str | None = None) -> str:
    args = ["minisign", "-S", "-s", str(sec), "-m", str(data)]
    if legacy:
        args.append("-l")
    if comment is not None:
        args += ["-t", comment]
    subprocess.run(args, check=True, capture_output=True)
    return Path(str(data) + ".minisig").read_text()


@pytest.fixture
def signed(tmp_path: Path) -> tuple[Path, Path, Path]:
    pub, sec = make_key(tmp_path)
    data = tmp_path / "stone.index"
    data.write_bytes(b"index contents " * 100)
    return data, pub, sec


@needs_minisign
@pytest.mark.parametrize("legacy", [False, True], ids=["prehashed-ED", "legacy-Ed"])
def test_signature_from_minisign_verifies(signed: tuple[Path, Path, Path], legacy: bool) -> None:
    data, pub, sec = signed
    sig = sign(sec, data, legacy=legacy, comment="release 42")
    algorithm = base64.b64decode(sig.splitlines()[1])[:2]
    assert algorithm == (b"Ed" if legacy else b"ED")
    assert verify(data, sig, pub.read_text()) == "release 42"


@needs_minisign
def test_moss_accepts_what_minisign_accepts_and_vice_versa(
    signed: tuple[Path, Path, Path],
) -> None:
    data, pub, sec = signed
    sig = sign(sec, data)
    subprocess.run(
        ["minisign", "-V", "-p", str(pub), "-m", str(data)], check=True, capture_output=True
    )
    verify(data, sig, pub.read_text())


@needs_minisign
def test_tampered_file_is_refused(signed: tuple[Path, Path, Path]) -> None:
    data, pub, sec = signed
    sig = sign(sec, data)
    data.write_bytes(data.read_bytes() + b"evil")
    with pytest.raises(MossError, match="does not match the file"):
        verify(data, sig, pub.read_text())


@needs_minisign
def test_tampered_trusted_comment_is_refused(signed: tuple[Path, Path, Path]) -> None:
    data, pub, sec = signed
    lines = sign(sec, data, comment="release 42").splitlines()
    lines[2] = "trusted comment: release 43"
    with pytest.raises(MossError, match="trusted comment"):
        verify(data, "\n".join(lines) + "\n", pub.read_text())


@needs_minisign
def test_other_key_is_refused(signed: tuple[Path, Path, Path], tmp_path: Path) -> None:
    data, _pub, sec = signed
    other_pub, _ = make_key(tmp_path, "other")
    sig = sign(sec, data)
    with pytest.raises(MossError, match=r"signed with key .* but the repository trusts"):
        verify(data, sig, other_pub.read_text())


def test_garbage_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "f"
    data.write_bytes(b"x")
    with pytest.raises(MossError, match="minisign public key"):
        parse_public_key("hello")
    with pytest.raises(MossError, match="malformed minisign signature"):
        verify(data, "just\ntext\n", "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3")
