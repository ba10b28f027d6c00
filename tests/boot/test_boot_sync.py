"""BLS sync against fake state trees, checked with the real ``bootctl``."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import boot
from boot.config import BootConfig
from boot.discovery import efivars
from moss.core.errors import MossError

SD_BOOT = Path("/usr/lib/systemd/boot/efi/systemd-bootx64.efi")


def kernel_bytes(kver: str, build: str = "", size: int = 8192) -> bytes:
    """A few KB that stand in for a kernel: the same kver and build give the same bytes."""
    seed = hashlib.sha256(f"{kver}/{build}".encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


def make_state(
    base: Path,
    state_id: int,
    kvers: tuple[str, ...] = ("6.6.7",),
    build: str = "",
    bootloader: bool = False,
) -> boot.BootState:
    usr = base / "states" / str(state_id) / "usr"
    for kver in kvers:
        kdir = usr / "lib" / "kernel" / kver
        kdir.mkdir(parents=True, exist_ok=True)
        (kdir / "vmlinuz").write_bytes(kernel_bytes(kver, build))
        (kdir / "10-moss.initrd").write_bytes(kernel_bytes(kver + "-initrd", build, 4096))
        (kdir / "90-kernel.cmdline").write_text("quiet\n")
        (kdir / "boot.json").write_text(
            json.dumps({"name": "linux", "version": kver, "variant": "desktop"})
        )
    if bootloader and SD_BOOT.is_file():
        dest = usr / "lib" / "systemd" / "boot" / "efi"
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy(SD_BOOT, dest / SD_BOOT.name)
    usr.mkdir(parents=True, exist_ok=True)
    (usr / ".stateID").write_text(str(state_id))
    created = datetime(2026, 11, state_id % 28 + 1, 12, 0, tzinfo=UTC)
    return boot.BootState(state_id, usr, created, f"transaction {state_id}")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "root"
    (r / "etc" / "moss").mkdir(parents=True)
    (r / "etc" / "moss" / "boot.conf").write_text("root = root=UUID=1234-abcd rw\n")
    return r


@pytest.fixture
def espdir(tmp_path: Path) -> Path:
    d = tmp_path / "esp"
    d.mkdir()
    return d


def config_for(root: Path, espdir: Path, **changes: object) -> BootConfig:
    config = boot.load_config(root, esp=espdir)
    for key, value in changes.items():
        setattr(config, key, value)
    return config


def entry_files(espdir: Path) -> list[str]:
    return sorted(p.name for p in (espdir / "loader" / "entries").iterdir())


def kernel_files(espdir: Path) -> list[str]:
    top = espdir / "EFI" / "serpentos"
    return sorted(str(p.relative_to(top)) for p in top.rglob("*") if p.is_file())


def snapshot(espdir: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file on the ESP with inode, mtime and bytes: any write changes it."""
    return {
        str(p.relative_to(espdir)): (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes())
        for p in espdir.rglob("*")
        if p.is_file()
    }


@pytest.fixture
def bootctl() -> Iterator[object]:
    if os.geteuid() != 0:
        pytest.skip("bootctl needs the ESP to be a mount point: bind mounts need root")
    if shutil.which("bootctl") is None:
        pytest.skip("bootctl (Debian's systemd-boot package) is not installed")
    yield bootctl_list


def bootctl_list(espdir: Path) -> tuple[list[dict[str, object]], str | None]:
    """Entries as bootctl parses them, and the id it marks as the default."""
    subprocess.run(["mount", "--bind", str(espdir), str(espdir)], check=True)
    try:
        env = {**os.environ, "SYSTEMD_RELAX_ESP_CHECKS": "1"}
        base = ["bootctl", f"--esp-path={espdir}", "--no-variables", "--no-pager", "list"]
        as_json = subprocess.run(
            [*base, "--json=short"], check=True, capture_output=True, text=True, env=env
        ).stdout
        as_text = subprocess.run(base, check=True, capture_output=True, text=True, env=env).stdout
    finally:
        subprocess.run(["umount", str(espdir)], check=True)
    entries = [json.loads(line) for line in as_json.splitlines() if line.strip()]
    default = None
    current_title = ""
    for line in as_text.splitlines():
        key, _, value = line.strip().partition(": ")
        if key == "title":
            current_title = value
        elif key == "id" and "(default)" in current_title:
            default = value
    return entries, default


def test_sync_writes_entries_bootctl_lists(root: Path, espdir: Path, bootctl: object) -> None:
    states = [make_state(root, i) for i in (1, 2, 3)]
    report = boot.sync(root, states, 3, None, config_for(root, espdir))

    assert entry_files(espdir) == [f"serpentos-6.6.7-{i}.conf" for i in (1, 2, 3)]
    assert report.default == "serpentos-6.6.7-3.conf"
    entries, default = bootctl_list(espdir)
    assert [e["id"] for e in entries] == [f"serpentos-6.6.7-{i}.conf" for i in (3, 2, 1)]
    assert default == "serpentos-6.6.7-3.conf"
    newest = entries[0]
    assert "Serpent OS" in str(newest["title"]) and "state 3" in str(newest["title"])
    assert "6.6.7" in str(newest["title"]) and "2026-11-04" in str(newest["title"])
    assert newest["linux"] == "/EFI/serpentos/6.6.7/vmlinuz"
    assert newest["initrd"] == ["/EFI/serpentos/6.6.7/10-moss.initrd"]
    assert newest["options"] == "root=UUID=1234-abcd rw moss.fstx=3 quiet"
    loader = (espdir / "loader" / "loader.conf").read_text()
    assert "default @saved" in loader


def test_five_states_two_kernels_copied_once(root: Path, espdir: Path) -> None:
    states = [make_state(root, i, ("6.6.7",) if i <= 3 else ("6.6.9",)) for i in range(1, 6)]
    report = boot.sync(root, states, 5, None, config_for(root, espdir))

    assert kernel_files(espdir) == [
        "6.6.7/10-moss.initrd", "6.6.7/vmlinuz", "6.6.9/10-moss.initrd", "6.6.9/vmlinuz",
    ]
    assert len(report.copied) == 4
    assert len(entry_files(espdir)) == 5
    vmlinuz = espdir / "EFI" / "serpentos" / "6.6.7" / "vmlinuz"
    assert vmlinuz.read_bytes() == kernel_bytes("6.6.7")


def test_same_version_different_builds_both_kept(root: Path, espdir: Path) -> None:
    states = [make_state(root, 1, build="a"), make_state(root, 2, build="b")]
    boot.sync(root, states, 2, None, config_for(root, espdir))

    folders = {p.parent.name for p in (espdir / "EFI" / "serpentos").rglob("vmlinuz")}
    assert len(folders) == 2
    images = {p.read_bytes() for p in (espdir / "EFI" / "serpentos").rglob("vmlinuz")}
    assert images == {kernel_bytes("6.6.7", "a"), kernel_bytes("6.6.7", "b")}


def test_keep_limits_older_states(root: Path, espdir: Path) -> None:
    states = [make_state(root, i) for i in range(1, 10)]
    boot.sync(root, states, 9, None, config_for(root, espdir, keep=2))
    assert entry_files(espdir) == [f"serpentos-6.6.7-{i}.conf" for i in (7, 8, 9)]


def test_stale_entries_and_kernels_removed(root: Path, espdir: Path, bootctl: object) -> None:
    states = [make_state(root, 1, ("6.6.1",)), make_state(root, 2), make_state(root, 3)]
    config = config_for(root, espdir)
    boot.sync(root, states, 3, None, config)
    other = espdir / "loader" / "entries" / "windows.conf"
    other.write_text("title Windows\nefi /EFI/Microsoft/boot.efi\n")

    report = boot.sync(root, states[1:], 3, None, config)

    assert entry_files(espdir) == [
        "serpentos-6.6.7-2.conf", "serpentos-6.6.7-3.conf", "windows.conf",
    ]
    assert kernel_files(espdir) == ["6.6.7/10-moss.initrd", "6.6.7/vmlinuz"]
    assert espdir / "loader" / "entries" / "serpentos-6.6.1-1.conf" in report.removed
    entries, _default = bootctl_list(espdir)
    assert "serpentos-6.6.7-2.conf" in [e["id"] for e in entries]


def test_state_without_kernel_gets_no_entry(root: Path, espdir: Path) -> None:
    bare = make_state(root, 2, kvers=())
    report = boot.sync(root, [make_state(root, 1), bare], 2, None, config_for(root, espdir))
    assert entry_files(espdir) == ["serpentos-6.6.7-1.conf"]
    assert report.default is None


def test_second_sync_writes_nothing(root: Path, espdir: Path) -> None:
    states = [make_state(root, i, bootloader=True) for i in (1, 2)]
    efi = root.parent / "efivars"
    config = config_for(root, espdir, efivars=efi)
    boot.sync(root, states, 2, None, config)
    before = snapshot(espdir)
    var_before = efivars.var_path(efi, "LoaderEntryLastBooted").stat().st_mtime_ns

    report = boot.sync(root, states, 2, None, config)

    assert not report.changed
    assert snapshot(espdir) == before
    assert efivars.var_path(efi, "LoaderEntryLastBooted").stat().st_mtime_ns == var_before


def test_bootloader_installed_from_active_state(root: Path, espdir: Path) -> None:
    if not SD_BOOT.is_file():
        pytest.skip(f"{SD_BOOT} missing: install Debian's systemd-boot-efi")
    states = [make_state(root, 1), make_state(root, 2, bootloader=True)]
    boot.sync(root, states, 2, None, config_for(root, espdir))
    for dest in ("EFI/BOOT/BOOTX64.EFI", "EFI/systemd/systemd-bootx64.efi"):
        assert (espdir / dest).read_bytes() == SD_BOOT.read_bytes()


def test_masking_vendor_snippet(root: Path, espdir: Path) -> None:
    state = make_state(root, 1)
    vendor = state.usr / "lib" / "kernel" / "cmdline.d"
    vendor.mkdir()
    (vendor / "10-splash.cmdline").write_text("splash\n")
    (vendor / "20-audit.cmdline").write_text("# vendor\naudit=0\n")
    etc = root / "etc" / "kernel" / "cmdline.d"
    etc.mkdir(parents=True)
    (etc / "10-splash.cmdline").symlink_to("/dev/null")
    (etc / "05-console.cmdline").write_text("console=ttyS0\n")

    boot.sync(root, [state], 1, None, config_for(root, espdir))

    text = (espdir / "loader" / "entries" / "serpentos-6.6.7-1.conf").read_text()
    options = next(ln for ln in text.splitlines() if ln.startswith("options "))
    assert options == "options root=UUID=1234-abcd rw console=ttyS0 moss.fstx=1 quiet audit=0"


def test_pending_state_is_default_with_tries(root: Path, espdir: Path, bootctl: object) -> None:
    states = [make_state(root, 1), make_state(root, 2, ("6.7.1",))]
    efi = root.parent / "efivars"
    report = boot.sync(root, states, 1, 2, config_for(root, espdir, efivars=efi))

    assert entry_files(espdir) == ["serpentos-6.6.7-1.conf", "serpentos-6.7.1-2+3.conf"]
    assert report.default == "serpentos-6.7.1-2+3.conf"
    assert efivars.read(efi, "LoaderEntryLastBooted") == "serpentos-6.7.1-2+3.conf"
    entries, default = bootctl_list(espdir)
    assert default == "serpentos-6.7.1-2.conf"  # bootctl names entries without the counter
    assert entries[0]["triesLeft"] == 3


def test_pending_without_kernel_defaults_to_active(root: Path, espdir: Path) -> None:
    states = [make_state(root, 1), make_state(root, 2, kvers=())]
    report = boot.sync(root, states, 1, 2, config_for(root, espdir))
    assert report.default == "serpentos-6.6.7-1.conf"
    assert entry_files(espdir) == ["serpentos-6.6.7-1.conf"]


def test_decremented_counter_survives_sync(root: Path, espdir: Path, bootctl: object) -> None:
    states = [make_state(root, 1), make_state(root, 2)]
    config = config_for(root, espdir)
    boot.sync(root, states, 1, 2, config)
    entries_dir = espdir / "loader" / "entries"
    # systemd-boot renames the entry before it boots it
    os.rename(entries_dir / "serpentos-6.6.7-2+3.conf", entries_dir / "serpentos-6.6.7-2+2-1.conf")
    decremented = entries_dir / "serpentos-6.6.7-2+2-1.conf"
    before = (decremented.stat().st_ino, decremented.stat().st_mtime_ns)

    # the agent activated state 2 at boot: it is active now, nothing pending
    report = boot.sync(root, states, 2, None, config)

    assert entry_files(espdir) == ["serpentos-6.6.7-1.conf", "serpentos-6.6.7-2+2-1.conf"]
    assert (decremented.stat().st_ino, decremented.stat().st_mtime_ns) == before
    assert report.default == "serpentos-6.6.7-2+2-1.conf"
    entries, _default = bootctl_list(espdir)
    assert entries[0]["triesLeft"] == 2 and entries[0]["triesDone"] == 1


def test_new_state_overrides_saved_menu_choice(root: Path, espdir: Path) -> None:
    efi = root.parent / "efivars"
    config = config_for(root, espdir, efivars=efi)
    states = [make_state(root, 1), make_state(root, 2)]
    boot.sync(root, states, 2, None, config)
    # the user picks state 1 in the menu: systemd-boot saves it, the agent activates it
    efivars.write(efi, "LoaderEntryLastBooted", "serpentos-6.6.7-1.conf")
    report = boot.sync(root, states, 1, None, config)
    assert efivars.read(efi, "LoaderEntryLastBooted") == "serpentos-6.6.7-1.conf"
    assert efi / f"LoaderEntryLastBooted-{efivars.LOADER_GUID}" not in report.written

    states.append(make_state(root, 3))
    boot.sync(root, states, 3, None, config)
    assert efivars.read(efi, "LoaderEntryLastBooted") == "serpentos-6.6.7-3.conf"
    raw = efivars.var_path(efi, "LoaderEntryLastBooted").read_bytes()
    assert raw[:4] == b"\x07\x00\x00\x00"
    assert raw[4:] == "serpentos-6.6.7-3.conf\0".encode("utf-16-le")
    status = boot.status(root, config, booted=1, pending=None, active=3)
    assert status.default == "serpentos-6.6.7-3.conf"


def test_status_reports_entries_and_default(root: Path, espdir: Path) -> None:
    states = [make_state(root, 1), make_state(root, 2)]
    config = config_for(root, espdir)
    boot.sync(root, states, 1, 2, config)
    status = boot.status(root, config, booted=1, pending=2, active=1)
    data = status.to_json()
    assert data["default"] == "serpentos-6.6.7-2+3.conf"
    assert data["booted"] == 1 and data["pending"] == 2
    assert data["boot"] == str(espdir)
    entries = data["entries"]
    assert isinstance(entries, list)
    assert [(e["state"], e["kernel"], e["tries_left"], e["default"]) for e in entries] == [
        (2, "6.6.7", 3, True),
        (1, "6.6.7", None, False),
    ]
    json.dumps(data)


def test_no_boot_dir_is_a_clear_error(root: Path) -> None:
    with pytest.raises(MossError, match=r"no \$BOOT"):
        boot.load_config(root)


def test_template_override(root: Path, espdir: Path) -> None:
    templates = root / "etc" / "moss" / "boot" / "templates"
    templates.mkdir(parents=True)
    (templates / "loader.conf.j2").write_text("default @saved\ntimeout {{ timeout }}\neditor no\n")
    boot.sync(root, [make_state(root, 1)], 1, None, config_for(root, espdir))
    assert "editor no" in (espdir / "loader" / "loader.conf").read_text()


def test_xbootldr_holds_kernels_and_entries(root: Path, tmp_path: Path) -> None:
    if not SD_BOOT.is_file():
        pytest.skip(f"{SD_BOOT} missing: install Debian's systemd-boot-efi")
    espdir, xbootldr = tmp_path / "esp", tmp_path / "xbootldr"
    espdir.mkdir()
    xbootldr.mkdir()
    config = boot.load_config(root, esp=espdir, boot=xbootldr)
    boot.sync(root, [make_state(root, 1, bootloader=True)], 1, None, config)

    assert entry_files(xbootldr) == ["serpentos-6.6.7-1.conf"]
    assert kernel_files(xbootldr) == ["6.6.7/10-moss.initrd", "6.6.7/vmlinuz"]
    assert (espdir / "loader" / "loader.conf").is_file()
    assert (espdir / "EFI" / "BOOT" / "BOOTX64.EFI").is_file()
    assert not (espdir / "loader" / "entries").exists()
    assert not (xbootldr / "EFI" / "BOOT").exists()
    status = boot.status(root, config, booted=None, pending=None, active=1)
    assert status.boot_dir == xbootldr and status.default == "serpentos-6.6.7-1.conf"


def test_never_removes_the_last_entries(root: Path, espdir: Path) -> None:
    config = config_for(root, espdir)
    boot.sync(root, [make_state(root, 1)], 1, None, config)
    before = snapshot(espdir)
    with pytest.raises(MossError, match="no state has a kernel"):
        boot.sync(root, [make_state(root, 2, kvers=())], 2, None, config)
    assert snapshot(espdir) == before
