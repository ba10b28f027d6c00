"""Boot configuration: ``ROOT/etc/moss/boot.conf`` plus what the live system says.

The format is ``key = value`` lines, ``#`` starts a comment line::

    backend = bls            # or "cbm" for clr-boot-manager
    keep = 5                 # older states that keep an entry beside the active one
    esp = /efi               # the EFI system partition (where systemd-boot lives)
    xbootldr = /boot         # the XBOOTLDR partition; $BOOT is this when set
    root = root=UUID=... rw  # the root= part of every command line
    os-id = serpentos        # names entries and EFI/<os-id>/
    os-name = Serpent OS     # named in entry titles
    templates = /etc/moss/boot/templates
    efivars = /sys/firmware/efi/efivars   # where to write LoaderEntryLastBooted
    timeout = 5              # boot menu timeout in loader.conf
    bootloader = yes         # install systemd-boot from the active state
    cbm-namespace = org.clearlinux
    cbm-root = /.moss/boot/clr-boot-manager
    secureboot-key = /etc/moss/keys/db.key   # sign systemd-boot and kernels (README,
    secureboot-cert = /etc/moss/keys/db.crt  # "Real machines"); both or neither

Paths are inside ROOT: each is resolved with ROOT as ``/`` (a ``..`` or a
symlink cannot lead out of it, :mod:`moss.core.confined`).  Every value is
checked where it is read (no control characters, numbers in range), and the
file itself is read inside ROOT, as UTF-8 of at most 64 KiB.  Without
``root``, ``ROOT/etc/kernel/cmdline`` is used, and on the live system the
device mounted at ``/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from boot.discovery import partitions
from boot.statetree import identity, inroot
from boot.statetree.cmdline import read_snippet
from boot.topology import rootstack
from moss.core import confined
from moss.core.errors import MossError

EFIVARFS = Path("/sys/firmware/efi/efivars")
MAX_BYTES = 64 * 1024  # boot.conf and os-release: a few lines each
# keep and timeout: a count of states and seconds; past this they mean nothing useful
MAX_NUMBER = 65535


@dataclass
class BootConfig:
    backend: str = "bls"
    keep: int = 5
    esp: Path | None = None
    xbootldr: Path | None = None
    cmdline_root: str | None = None
    os_id: str = "serpentos"
    os_name: str = "Serpent OS"
    os_name_fixed: bool = False  # os-name set in boot.conf: every entry's title uses it
    template_dir: Path | None = None
    efivars: Path | None = None
    timeout: int = 5
    bootloader: bool = True
    cbm_namespace: str = "org.clearlinux"
    cbm_root: Path | None = None
    # live only: an ESP partition mounted nowhere, which boot.sync mounts for its work
    esp_device: str | None = None
    secureboot_key: Path | None = None
    secureboot_cert: Path | None = None
    # why the root= part could not be worked out (boot/topology/): a sync refuses
    cmdline_problem: str | None = None

    @property
    def boot_dir(self) -> Path | None:
        """$BOOT: XBOOTLDR where there is one, else the ESP."""
        return self.xbootldr or self.esp


_KEYS = {
    "backend", "keep", "esp", "xbootldr", "root", "os-id", "os-name", "templates",
    "efivars", "timeout", "bootloader", "cbm-namespace", "cbm-root",
    "secureboot-key", "secureboot-cert",
}


def parse(text: str, source: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key = key.strip().lower()
        if not sep or key not in _KEYS:
            raise MossError(f"{source}:{number}: expected one of {sorted(_KEYS)} = value")
        if inroot.has_control(value):
            raise MossError(f"{source}:{number}: the value of {key} holds a control character")
        values[key] = value.strip()
    return values


def _inside(root: Path, value: str) -> Path:
    """A configured path, resolved with ``root`` as ``/``: never outside it."""
    return confined.inside(root, value)


def _written_path(root: Path, values: dict[str, str], key: str, source: str) -> Path | None:
    """A configured folder moss writes into, inside ``root`` and never its OS.

    ``/usr`` is a state's tree (its files are every archived state's too) and
    ``.moss`` holds the states and databases; only ``.moss/boot`` is boot's own.
    A cbm staging root gets ``usr/lib/kernel`` below it, so it cannot be ``/`` either.
    """
    if key not in values:
        return None
    path = _inside(root, values[key])
    parts = path.relative_to(root).parts
    managed = parts[:1] == ("usr",) or (parts[:1] == (".moss",) and parts[1:2] != ("boot",))
    if managed or (key == "cbm-root" and not parts):
        raise MossError(f"{source}: {key} = {values[key][:80]} is inside the OS moss manages "
                        "(/usr, /.moss); choose a folder of its own")
    return path


def _int(values: dict[str, str], key: str, default: int, source: str) -> int:
    if key not in values:
        return default
    text = values[key]
    if not re.fullmatch(r"[0-9]{1,9}", text) or int(text) > MAX_NUMBER:
        raise MossError(f"{source}: {key} must be a whole number from 0 to {MAX_NUMBER}, "
                        f"not {text[:40]!r}")
    return int(text)


def _os_release(root: Path) -> dict[str, str]:
    """The root's os-release, read inside the root (a package ships usr/lib/os-release)."""
    for rel in ("etc/os-release", "usr/lib/os-release"):
        candidate = inroot.resolve(root, rel)
        if candidate is not None and inroot.is_regular(candidate):
            fields = {}
            text = inroot.read_regular(candidate, MAX_BYTES).decode(errors="replace")
            for line in text.splitlines():
                key, sep, value = line.partition("=")
                if sep:
                    fields[key.strip()] = value.strip().strip("\"'")
            return fields
    return {}


def load_config(root: Path, *, esp: Path | None = None, boot: Path | None = None) -> BootConfig:
    """Configuration for ``root``; ``esp``/``boot`` given by the caller win over all else."""
    path = root / "etc" / "moss" / "boot.conf"
    source = str(path)
    found = confined.resolve(root, "etc/moss/boot.conf")
    values = (parse(confined.read_config(root, path, MAX_BYTES), source)
              if found is not None and found.is_file() else {})
    live = root.resolve() == Path("/")
    config = _checked_settings(values, _os_release(root), source)
    _set_local_paths(config, root, values, live, source)
    try:
        config.cmdline_root = _cmdline_root(root, values, live)
    except rootstack.UnknownStack as exc:  # said by the sync that needs it, not by status
        config.cmdline_problem = str(exc)
    _set_partitions(config, root, values, live, esp, boot, source)
    if config.backend == "bls" and config.boot_dir is None and config.esp_device is None:
        raise MossError(
            "no $BOOT found: mount the EFI system partition (or XBOOTLDR), "
            f"or set esp = ... in {path}"
        )
    for label, where in (("esp", config.esp), ("xbootldr", config.xbootldr)):
        if where is not None and not where.is_dir():
            raise MossError(f"the {label} directory {where} does not exist")
    return config


def _checked_settings(values: dict[str, str], release: dict[str, str], source: str) -> BootConfig:
    """The plain settings (backend, counts, names), each refused with its key if wrong."""
    config = BootConfig(
        backend=values.get("backend", "bls"),
        keep=_int(values, "keep", 5, source),
        timeout=_int(values, "timeout", 5, source),
        os_id=values.get("os-id", release.get("ID", "serpentos")),
        os_name=values.get("os-name", release.get("NAME", "Serpent OS")),
        os_name_fixed="os-name" in values,
        cbm_namespace=values.get("cbm-namespace", "org.clearlinux"),
    )
    if not identity.usable_id(config.os_id):
        raise MossError(f"{source}: os-id {config.os_id!r} cannot name a folder of its own in EFI/")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", config.cbm_namespace):
        raise MossError(f"{source}: cbm-namespace {config.cbm_namespace[:80]!r} cannot begin "
                        "a file name (letters, digits, '.', '_', '-')")
    if config.backend not in ("bls", "cbm"):
        raise MossError(f"{source}: backend must be 'bls' or 'cbm', not {config.backend!r}")
    if values.get("bootloader", "yes").lower() not in ("yes", "true", "1", "no", "false", "0"):
        raise MossError(f"{source}: bootloader must be yes or no")
    config.bootloader = values.get("bootloader", "yes").lower() in ("yes", "true", "1")
    return config


def _set_local_paths(config: BootConfig, root: Path, values: dict[str, str], live: bool,
                     source: str) -> None:
    """Templates, the cbm staging root and efivars: inside ROOT, or the live system's."""
    if "templates" in values:
        config.template_dir = _inside(root, values["templates"])
    elif (root / "etc" / "moss" / "boot" / "templates").is_dir():
        config.template_dir = root / "etc" / "moss" / "boot" / "templates"
    config.cbm_root = _written_path(root, values, "cbm-root", source)
    if ("secureboot-key" in values) != ("secureboot-cert" in values):
        raise MossError("secureboot-key and secureboot-cert go together in boot.conf")
    if "secureboot-key" in values:
        config.secureboot_key = _inside(root, values["secureboot-key"])
        config.secureboot_cert = _inside(root, values["secureboot-cert"])
    config.efivars = _written_path(root, values, "efivars", source)
    if config.efivars is None and live and EFIVARFS.is_dir():
        config.efivars = EFIVARFS


def _cmdline_root(root: Path, values: dict[str, str], live: bool) -> str | None:
    """The ``root=`` part: configured, else ``/etc/kernel/cmdline``, else the block
    devices under ``/`` (live) or under the mount ROOT is (``-D``), see
    :mod:`boot.topology.rootstack`.

    ``/etc/kernel/cmdline`` is read inside the root (:mod:`boot.statetree.inroot`), never
    through a link out of it.
    """
    kernel_cmdline = inroot.resolve(root, "etc/kernel/cmdline")
    if "root" in values:
        return values["root"]
    if kernel_cmdline is not None and kernel_cmdline.is_file():
        return read_snippet(kernel_cmdline) or None
    return rootstack.root_arguments(Path("/") if live else root.resolve(), live=live)


def _set_partitions(config: BootConfig, root: Path, values: dict[str, str], live: bool,
                    esp: Path | None, boot: Path | None, source: str) -> None:
    """ESP and XBOOTLDR: the caller's, else configured, else (live only) the boot
    loader's (:mod:`boot.discovery.partitions`)."""
    config.esp = esp or _written_path(root, values, "esp", source)
    config.xbootldr = boot or _written_path(root, values, "xbootldr", source)
    if config.esp is None and config.xbootldr is None and live:
        config.esp, config.xbootldr, device = partitions.find(config.efivars)
        if config.boot_dir is None:
            config.esp_device = device
