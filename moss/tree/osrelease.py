"""The per-state ``usr/lib/os-release``, made from ``usr/lib/os-info.json`` as real moss does.

AerynOS packages describe the OS in ``os-info.json`` (the AerynOS os-info schema)
and ship no os-release: real moss writes one into every new ``/usr`` before the
transaction triggers run (``record_os_release`` in its ``client/mod.rs``; the
mapping is its ``os-info`` crate's ``OsRelease``).  Boot entries take their
title from it (``boot/config.py``), so without it they would not name the OS.

Where real moss, finding no ``os-info.json``, writes a spiteful "Unbranded OS",
this moss leaves the tree's own os-release (if a package shipped one) alone.
"""

from __future__ import annotations

import json
from pathlib import Path

from moss.core import confined, fs
from moss.core.errors import MossError

OS_INFO = Path("lib/os-info.json")  # relative to a /usr tree
OS_RELEASE = Path("lib/os-release")

# Website scopes (os-info schema) and the os-release key each fills.
_SITE_KEYS = {
    "home": "HOME_URL",
    "support": "SUPPORT_URL",
    "bug-tracker": "BUG_REPORT_URL",
    "documentation": "DOCUMENTATION_URL",
    "privacy-policy": "PRIVACY_POLICY_URL",
    "terms-of-service": "TERMS_OF_SERVICE_URL",
    "security-policy": "SECURITY_POLICY_URL",
}
_ORDER = ("HOME_URL", "DOCUMENTATION_URL", "SUPPORT_URL", "BUG_REPORT_URL")


def _quote(value: str) -> str:
    """The os-info crate's quoting: double quotes, inner quotes escaped."""
    return '"' + value.replace('"', '\\"') + '"'


def _field(data: object, *keys: str) -> str | None:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data if isinstance(data, str) else None


def _required(info: object, *keys: str) -> str:
    value = _field(info, *keys)
    if value is None:
        raise MossError(f"os-info.json has no {'.'.join(keys)}")
    return value


def _extras(info: object) -> dict[str, str]:
    """Website URLs by scope, the ANSI colour and the security contact."""
    extra: dict[str, str] = {}
    color = _field(info, "metadata", "identity", "ansi_color")
    if color is not None:
        extra["ANSI_COLOR"] = color
    sites = info.get("resources", {}).get("websites", {}) if isinstance(info, dict) else {}
    for site in sites.values() if isinstance(sites, dict) else []:
        key = _SITE_KEYS.get(_field(site, "scope") or "")
        url = _field(site, "url")
        if key is not None and url is not None:
            extra[key] = url
    contact = _field(info, "security_contact", "email")
    if contact is not None:
        extra["SECURITY_CONTACT"] = contact
    return extra


def os_release_text(info: object) -> str:
    """The os-release real moss writes for this ``os-info.json`` content, line for line."""
    lines = [
        ("NAME", _required(info, "metadata", "identity", "name")),
        ("ID", _required(info, "metadata", "identity", "id")),
        ("VERSION_ID", _required(info, "metadata", "version", "short")),
        ("VERSION", _required(info, "metadata", "version", "full")),
        ("PRETTY_NAME", _required(info, "metadata", "identity", "display")),
    ]
    id_like = _field(info, "metadata", "identity", "id_like")
    if id_like is not None:
        lines.append(("ID_LIKE", id_like))
    extra = _extras(info)
    lines += [(key, extra.pop(key)) for key in _ORDER if key in extra]
    lines += sorted(extra.items())
    return "".join(f"{key}={_quote(value)}\n" for key, value in lines)


def record_os_release(usr: Path) -> bool:
    """Write ``usr/lib/os-release`` from ``usr/lib/os-info.json``; False when there is none.

    Written by rename, never in place: the tree's files are links into the store.
    A malformed ``os-info.json`` is a MossError (the transaction stops unchanged).
    """
    source = usr / OS_INFO
    if (usr / "lib").is_symlink() or source.is_symlink() or not source.is_file():
        return False  # never follow a package's link out of the tree
    text = confined.read_config(usr.parent, source)  # regular, inside the tree, bounded
    try:
        info = json.loads(text)
    except (ValueError, RecursionError) as exc:  # json recurses once per nesting level
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:200]
        raise MossError(f"/usr/{OS_INFO}: not valid JSON: {reason}") from None
    try:
        text = os_release_text(info)
    except MossError as exc:
        raise MossError(f"/usr/{OS_INFO}: {exc}") from None
    target = usr / OS_RELEASE
    if target.is_symlink() or target.is_dir():
        raise MossError(f"/usr/{OS_RELEASE} is not a regular file; cannot write it")
    fs.atomic_write(target, text.encode())
    return True
