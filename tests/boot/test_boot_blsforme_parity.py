"""What AerynOS's blsforme does that moss's entries now do too (issue 25, item 16):

* each entry's title comes from the os-release of the state it boots
  (``NAME``, else ``PRETTY_NAME``), unless ``boot.conf`` fixes ``os-name``;
* entries and kernel folders under the OS's former ids (``os-info.json``'s
  ``former_identities``) are cleaned up, and nothing else is;
* every file in a state's ``usr/lib/kernel/cmdline.d`` is read, not only
  ``*.cmdline``.
"""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

import boot
from boot.statetree.identity import former_ids, state_name
from tests.boot.test_boot_sync import config_for, make_state


def title_of(espdir: Path, name: str) -> str:
    text = (espdir / "loader/entries" / name).read_text()
    return next(line for line in text.splitlines() if line.startswith("title "))


def os_release(usr: Path, text: str) -> None:
    (usr / "lib").mkdir(parents=True, exist_ok=True)
    (usr / "lib/os-release").write_text(text)


def test_each_entry_is_titled_by_its_own_state(tmp_path: Path) -> None:
    root, espdir = tmp_path / "root", tmp_path / "esp"
    (root / "etc/moss").mkdir(parents=True)
    (root / "etc/moss/boot.conf").write_text("root = root=UUID=1234-abcd rw\n")
    espdir.mkdir()
    old, new, plain = make_state(root, 1), make_state(root, 2), make_state(root, 3)
    os_release(old.usr, 'PRETTY_NAME="Serpent OS 2024.12"\n')
    os_release(new.usr, 'NAME="AerynOS"\nPRETTY_NAME="AerynOS 2025.05"\nID=aerynos\n')
    boot.sync(root, [old, new, plain], 2, None, config_for(root, espdir))
    assert title_of(espdir, "serpentos-6.6.7-1.conf").startswith("title Serpent OS 2024.12 6.6.7")
    assert title_of(espdir, "serpentos-6.6.7-2.conf").startswith("title AerynOS 6.6.7")
    assert title_of(espdir, "serpentos-6.6.7-3.conf").startswith("title Serpent OS 6.6.7")
    (root / "etc/moss/boot.conf").write_text("root = root=UUID=1234-abcd rw\nos-name = Mine\n")
    boot.sync(root, [old, new, plain], 2, None, config_for(root, espdir))
    assert all(title_of(espdir, f"serpentos-6.6.7-{i}.conf").startswith("title Mine 6.6.7")
               for i in (1, 2, 3))


def test_entries_under_former_ids_are_removed(tmp_path: Path) -> None:
    root, espdir = tmp_path / "root", tmp_path / "esp"
    (root / "etc/moss").mkdir(parents=True)
    (root / "etc/moss/boot.conf").write_text("root = root=UUID=1 rw\nos-id = aerynos\n")
    state = make_state(root, 4)
    (state.usr / "lib/os-info.json").write_text(json.dumps({"metadata": {"identity": {
        "id": "aerynos", "former_identities": [{"id": "serpentos"}, {"id": "BOOT"},
                                               {"id": "../x"}]}}}))
    entries = espdir / "loader/entries"
    entries.mkdir(parents=True)
    for name in ("serpentos-6.1.0-1.conf", "serpentos-6.1.0-2+1-2.conf", "fedora-6.9-1.conf",
                 "serpentos-notes.txt"):
        (entries / name).write_text("title old\n")
    for path in ("EFI/serpentos/6.1.0/vmlinuz", "EFI/BOOT/BOOTX64.EFI", "EFI/fedora/x",
                 "EFI/Linux/other.efi"):
        (espdir / path).parent.mkdir(parents=True, exist_ok=True)
        (espdir / path).write_bytes(b"old")
    report = boot.sync(root, [state], 4, None, config_for(root, espdir))
    assert sorted(p.name for p in entries.iterdir()) == [
        "aerynos-6.6.7-4.conf", "fedora-6.9-1.conf", "serpentos-notes.txt"]
    assert not (espdir / "EFI/serpentos").exists()
    for kept in ("EFI/BOOT/BOOTX64.EFI", "EFI/fedora/x", "EFI/Linux/other.efi"):
        assert (espdir / kept).read_bytes() == b"old"
    assert espdir / "EFI/serpentos/6.1.0/vmlinuz" in report.removed


def test_every_file_in_the_vendor_cmdline_folder_counts(tmp_path: Path) -> None:
    root, espdir = tmp_path / "root", tmp_path / "esp"
    (root / "etc/moss").mkdir(parents=True)
    (root / "etc/moss/boot.conf").write_text("root = root=UUID=1 rw\n")
    espdir.mkdir()
    state = make_state(root, 1)
    vendor = state.usr / "lib/kernel/cmdline.d"
    vendor.mkdir(parents=True)
    (vendor / "10-splash.cmdline").write_text("splash\n")
    (vendor / "20-quiet").write_text("loglevel=3\n")  # no suffix: blsforme reads it too
    (vendor / "30-sub").mkdir()  # not a file: skipped with a warning
    etc = root / "etc/kernel/cmdline.d"
    etc.mkdir(parents=True)
    (etc / "20-quiet").symlink_to("/dev/null")  # masks the vendor's by its name
    (etc / "README").write_text("not a snippet: the admin's folder takes *.cmdline\n")
    boot.sync(root, [state], 1, None, config_for(root, espdir))
    text = (espdir / "loader/entries/serpentos-6.6.7-1.conf").read_text()
    assert "options root=UUID=1 rw moss.fstx=1 quiet splash\n" in text + "\n"
    (etc / "20-quiet").unlink()
    boot.sync(root, [state], 1, None, config_for(root, espdir))
    text = (espdir / "loader/entries/serpentos-6.6.7-1.conf").read_text()
    assert text.rstrip().endswith("options root=UUID=1 rw moss.fstx=1 quiet splash loglevel=3")


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=12),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)


@settings(max_examples=60, deadline=None)
@given(body=st.one_of(
    st.binary(max_size=300),
    JSON.map(lambda v: json.dumps(v).encode()),
    st.lists(st.one_of(st.text(max_size=70), JSON), max_size=5).map(
        lambda ids: json.dumps({"metadata": {"identity": {"former_identities": [
            {"id": i} for i in ids]}}}).encode()),
    st.integers(1, 5000).map(lambda depth: b"[" * depth + b"]" * depth),
))
def test_any_os_info_gives_usable_former_ids_or_none(tmp_path_factory: object,
                                                     body: bytes) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as work:
        usr = Path(work) / "usr"
        (usr / "lib").mkdir(parents=True)
        (usr / "lib/os-info.json").write_bytes(body)
        (usr / "lib/os-release").write_bytes(body)
        for former in former_ids(usr):  # never a traceback; never a folder of another's
            assert former.lower() not in ("boot", "systemd", "linux", "microsoft")
            assert "/" not in former and not former.startswith(".") and len(former) <= 64
        name = state_name(usr)
        assert name is None or isinstance(name, str)


def test_a_link_out_of_the_state_is_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "host-os-release"
    secret.write_text('PRETTY_NAME="the host"\n')
    usr = tmp_path / "state/usr"
    (usr / "lib").mkdir(parents=True)
    (usr / "lib/os-release").symlink_to(secret)
    (usr / "lib/os-info.json").symlink_to(secret)
    assert state_name(usr) is None and former_ids(usr) == []
