"""minisign signatures, so operators sign indexes with the standard ``minisign`` tool.

Formats (https://jedisct1.github.io/minisign/):

* public key: base64 of ``"Ed" + key_id[8] + ed25519_public_key[32]``;
* signature file, four lines: an untrusted comment, base64 of
  ``algorithm[2] + key_id[8] + signature[64]``, ``trusted comment: TEXT``, and
  base64 of the global signature over ``signature + TEXT``.

``Ed`` (legacy) signs the file itself, ``ED`` signs its BLAKE2b-512 digest. Both
are accepted; the global signature is always checked, so the trusted comment
cannot be swapped either.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from moss.core import confined
from moss.core.errors import MossError

_TRUSTED_PREFIX = "trusted comment: "
# minisign (0.10 and later) writes "timestamp:<unix seconds>\tfile:NAME\thashed"
# by default; publishers using -t keep a "timestamp:<unix seconds>" word.
_TIMESTAMP = re.compile(r"(?:^|\s)timestamp:(\d{1,19})(?=\s|$)")


@dataclass(frozen=True)
class PublicKey:
    key_id: bytes
    key: bytes


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise MossError(f"{what} is not valid base64") from None


def parse_public_key(text: str) -> PublicKey:
    """Accept the base64 line, or a whole ``minisign.pub`` with its comment line."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("untrusted")]
    if len(lines) != 1:
        raise MossError("not a minisign public key")
    raw = _b64(lines[0], "minisign public key")
    if len(raw) != 42 or raw[:2] != b"Ed":
        raise MossError("not a minisign Ed25519 public key")
    return PublicKey(key_id=raw[2:10], key=raw[10:])


def _key_id_hex(key_id: bytes) -> str:
    # minisign prints key ids as little-endian hex.
    return key_id[::-1].hex().upper()


def verify(data_path: Path, signature_text: str, public_key: str) -> str:
    """Check ``data_path`` against a ``.minisig`` text; returns the trusted comment.

    Raises MossError saying what failed; never returns for a bad signature.
    """
    key = parse_public_key(public_key)
    lines = signature_text.splitlines()
    if len(lines) < 4 or not lines[2].startswith(_TRUSTED_PREFIX):
        raise MossError("malformed minisign signature")
    sig_raw = _b64(lines[1], "signature")
    if len(sig_raw) != 74:
        raise MossError("malformed minisign signature")
    algorithm, key_id, signature = sig_raw[:2], sig_raw[2:10], sig_raw[10:]
    if key_id != key.key_id:
        raise MossError(
            f"signed with key {_key_id_hex(key_id)}, but the repository trusts "
            f"{_key_id_hex(key.key_id)}"
        )
    data = data_path.read_bytes()
    if algorithm == b"ED":
        message = hashlib.blake2b(data, digest_size=64).digest()
    elif algorithm == b"Ed":
        message = data
    else:
        raise MossError(f"unsupported minisign algorithm {algorithm!r}")
    verifier = Ed25519PublicKey.from_public_bytes(key.key)
    try:
        verifier.verify(signature, message)
    except InvalidSignature:
        raise MossError("signature does not match the file") from None
    trusted = lines[2][len(_TRUSTED_PREFIX) :]
    global_sig = _b64(lines[3], "global signature")
    try:
        verifier.verify(global_sig, signature + trusted.encode())
    except InvalidSignature:
        raise MossError("the trusted comment's signature does not verify") from None
    return trusted


def signed_timestamp(trusted_comment: str) -> int | None:
    """The ``timestamp:<unix seconds>`` of a verified trusted comment, or None.

    The trusted comment is covered by the global signature, so this is the time
    the publisher vouches for: what tells a replayed old index from a new one.
    """
    match = _TIMESTAMP.search(trusted_comment)
    return int(match[1]) if match else None


def read_public_key(text_or_path: str) -> str:
    """Accept a minisign public key as its base64 line, a whole ``.pub`` file, or a path.

    Only the base64 line is stored: the comment line carries no trust.
    """
    candidate = Path(text_or_path)
    text = text_or_path
    if "\n" not in text_or_path and len(text_or_path) < 4096 and candidate.is_file():
        text = confined.read_file(candidate, 64 * 1024)  # a .pub file is two short lines
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith("untrusted comment:")]
    if len(lines) != 1:
        raise MossError(f"not a minisign public key: {text_or_path!r}")
    parse_public_key(lines[0])  # a typo is reported when the repository is added
    return lines[0]
