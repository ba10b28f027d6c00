"""Issue 23, rules 4 and 9: every path in ``boot.conf`` stays inside the root, and no value
the file can hold ends in a traceback.

A root with a kernel package installed sits beside a sentinel folder, ``outside``, that
``esp = /../outside`` (and a symlink ``ROOT/efi -> ../outside``) pointed at: moss wrote
kernels, entries and EFI variables there.  The generated cases build ``esp``,
``xbootldr``, ``efivars``, ``cbm-root`` and ``templates`` from ``..``, ``.``, links out of the
root and real folders; others are random bytes and random values.  Each runs ``moss boot
sync`` through the CLI and checks: no traceback, exit 0, 1 or 3 with one line, and every
file beside the root unchanged.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from moss.cli import main
from tests.support.packages import make_package, tree_snapshot

SECRET = b"host-secret-b00t"


def moss(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "moss", "-D", str(root), "-y", "--quiet", *args],
                          capture_output=True, text=True, timeout=120)


def moss_here(root: Path, *args: str) -> tuple[int, str]:
    """The CLI in this process (fast enough for generated cases); an uncaught exception,
    the traceback a user would see, fails the test."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = main(["-D", str(root), "-y", "--quiet", *args])
    return status, err.getvalue()


def _make_world(top: Path) -> tuple[Path, Path]:
    """``top/root`` with a kernel installed and entries on ``root/efi``; ``top/outside``
    the sentinel (with the folders a sync would write into, so a leak would succeed)."""
    root, outside = top / "root", top / "outside"
    for folder in ("EFI/Linux", "loader/entries", "efivars", "cbm", "templates"):
        (outside / folder).mkdir(parents=True)
    (outside / "shadow").write_bytes(SECRET)
    (root / "etc/moss").mkdir(parents=True)
    (root / "efi").mkdir()
    (root / "out-rel").symlink_to("../outside")
    (root / "out-abs").symlink_to(outside)
    (root / "etc/moss/boot.conf").write_text("esp = /efi\nroot = root=/dev/vda rw\n")
    kernel = make_package(top / "pkgs", "linux", {
        "lib/kernel/6.1.0/vmlinuz": os.urandom(2048),
        "lib/kernel/6.1.0/10-default.cmdline": "quiet",
    }, version="6.1.0")
    done = moss(root, "install", str(kernel))
    assert done.returncode == 0, done.stderr
    return root, outside


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return _make_world(tmp_path_factory.mktemp("bootconf"))


def _snapshots(root: Path, outside: Path) -> list[object]:
    """The sentinel beside the root, and the root's OS (its ``/usr`` and ``.moss``)."""
    return [tree_snapshot(p) for p in (outside, root / "usr", root / ".moss/root")]


def _check(root: Path, outside: Path, before: object, status: int, err: str) -> None:
    assert "Traceback" not in err
    assert status in (0, 1, 3), err
    if status:
        assert err.count("\n") == 1, err
    assert SECRET.decode() not in err
    assert _snapshots(root, outside) == before, "written outside the root or into its OS"


@pytest.mark.parametrize("conf", [
    "esp = /../outside\n", "esp = /efi\nxbootldr = /../outside\n",
    "esp = /efi\nefivars = /../outside/efivars\n", "esp = /out-rel\n", "esp = /out-abs\n",
    "backend = cbm\nesp = /efi\ncbm-root = /../../outside/cbm\n",
    "esp = /efi\ntemplates = /out-rel/templates\n", "esp = /usr\n", "esp = /efi/../usr/lib\n",
    "backend = cbm\nesp = /efi\ncbm-root = /\n", "esp = /.moss/root\n",
    "backend = cbm\nesp = /efi\ncbm-namespace = ../../../../../../outside/cbm/x\n",
])
def test_a_configured_path_cannot_lead_out_of_the_root(world: tuple[Path, Path],
                                                        conf: str) -> None:
    root, outside = world
    before = _snapshots(root, outside)
    (root / "etc/moss/boot.conf").write_text(conf + "root = root=/dev/vda rw\n")
    done = moss(root, "boot", "sync")

    _check(root, outside, before, done.returncode, done.stderr)


def test_an_esp_that_is_a_symlink_out_of_the_root_gets_nothing(tmp_path: Path) -> None:
    root, outside = _make_world(tmp_path)
    before = _snapshots(root, outside)
    (root / "efi").rename(root / "efi.old")
    (root / "efi").symlink_to(outside)  # absolute: the host's folder
    done = moss(root, "boot", "sync")

    _check(root, outside, before, done.returncode, done.stderr)
    assert done.returncode == 1 and "does not exist" in done.stderr


_SEGMENT = st.sampled_from(["..", ".", "", "efi", "outside", "out-rel", "out-abs", "EFI",
                            "loader", "efivars", "cbm", "templates", "etc", "usr", "lib",
                            ".moss", "root"])
_PATH = st.lists(_SEGMENT, max_size=6).map(lambda parts: "/" + "/".join(parts))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(esp=_PATH, boot=st.one_of(st.none(), _PATH), efivars=st.one_of(st.none(), _PATH),
       cbm=st.one_of(st.none(), _PATH), templates=st.one_of(st.none(), _PATH),
       backend=st.sampled_from(["bls", "cbm"]))
def test_no_generated_path_writes_outside_the_root(
    world: tuple[Path, Path], esp: str, boot: str | None, efivars: str | None, cbm: str | None,
    templates: str | None, backend: str,
) -> None:
    root, outside = world
    before = _snapshots(root, outside)
    lines = [f"backend = {backend}", f"esp = {esp}", "root = root=/dev/vda rw"]
    for key, value in (("xbootldr", boot), ("efivars", efivars), ("cbm-root", cbm),
                       ("templates", templates)):
        if value is not None:
            lines.append(f"{key} = {value}")
    (root / "etc/moss/boot.conf").write_text("\n".join(lines) + "\n")

    _check(root, outside, before, *moss_here(root, "boot", "sync"))


_KEYS = ["backend", "keep", "esp", "xbootldr", "root", "os-id", "os-name", "timeout",
         "bootloader", "cbm-namespace", "efivars"]
_VALUE = st.one_of(
    st.text(max_size=30),
    st.integers(min_value=-2**70, max_value=2**70).map(str),
    st.sampled_from(["٣", "1_000", "+5", " 7", "1e3", "9" * 5000, "/efi", "/../outside"]),
)


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(
    st.binary(max_size=300),
    st.lists(st.tuples(st.sampled_from(_KEYS), _VALUE), max_size=6).map(
        lambda pairs: "esp = /efi\n" + "".join(f"{k} = {v}\n" for k, v in pairs)).map(
        lambda text: text.encode("utf-8", "surrogatepass")),
))
@example(b"esp = /efi\nesp = " + b"9" * 5000 + b"\n")  # ENAMETOOLONG (a CI run found it)
@example(b"xbootldr = /a/" + b"b" * 300 + b"/c\n")
def test_no_value_boot_conf_can_hold_is_a_traceback(world: tuple[Path, Path],
                                                    data: bytes) -> None:
    root, outside = world
    before = _snapshots(root, outside)
    (root / "etc/moss/boot.conf").write_bytes(data)

    for command in (("boot", "sync"), ("boot", "status")):
        _check(root, outside, before, *moss_here(root, *command))


@pytest.mark.parametrize("data", [
    b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4,  # a binary
    b"esp = /efi\ntimeout = " + b"9" * 5000 + b"\n",
    b"esp = /efi\nkeep = 18446744073709551615\n",
    b"esp = /efi\nos-name = Serpent\x00OS\n",
    b"esp = /efi\n" + b"# padding\n" * 200_000,  # 2 MB
])
def test_named_bad_boot_conf_is_one_line(world: tuple[Path, Path], data: bytes) -> None:
    root, outside = world
    before = _snapshots(root, outside)
    (root / "etc/moss/boot.conf").write_bytes(data)
    done = moss(root, "boot", "sync")

    _check(root, outside, before, done.returncode, done.stderr)
    assert done.returncode == 1
    assert "boot.conf" in done.stderr


def test_a_boot_conf_linking_to_a_host_file_is_not_read(world: tuple[Path, Path]) -> None:
    root, outside = world
    conf = root / "etc/moss/boot.conf"
    conf.unlink()
    (outside / "boot.conf").write_bytes(b"esp = /efi\ntimeout = " + SECRET + b"\n")
    conf.symlink_to(outside / "boot.conf")
    try:
        done = moss(root, "boot", "status")
        assert "Traceback" not in done.stderr
        assert SECRET.decode() not in done.stdout + done.stderr
    finally:
        conf.unlink()
        (outside / "boot.conf").unlink()
        conf.write_text("esp = /efi\nroot = root=/dev/vda rw\n")


@pytest.mark.parametrize("link,target", [
    ("efi/loader", "outside/loader"), ("efi/EFI", "outside/EFI"),
    ("efi/loader/entries", "outside/loader/entries"),
    ("efi/EFI/serpentos", "outside/EFI/Linux"),
])
def test_a_folder_on_the_esp_that_links_out_of_the_root_gets_nothing(
    tmp_path: Path, link: str, target: str,
) -> None:
    root, outside = _make_world(tmp_path)
    moved = root / link
    if moved.exists():
        moved.rename(moved.with_name(moved.name + ".old"))
    moved.parent.mkdir(parents=True, exist_ok=True)
    moved.symlink_to(tmp_path / target)
    before = _snapshots(root, outside)
    done = moss(root, "boot", "sync")

    _check(root, outside, before, done.returncode, done.stderr)
    assert done.returncode == 1 and "symbolic link" in done.stderr


def test_a_cbm_staging_folder_that_links_out_of_the_root_gets_nothing(tmp_path: Path) -> None:
    root, outside = _make_world(tmp_path)
    (root / "etc/moss/boot.conf").write_text("backend = cbm\nesp = /efi\nroot = root=/dev/vda\n")
    (root / ".moss/boot").mkdir(parents=True, exist_ok=True)
    (root / ".moss/boot/clr-boot-manager").symlink_to(outside / "cbm")
    before = _snapshots(root, outside)
    done = moss(root, "boot", "sync")

    _check(root, outside, before, done.returncode, done.stderr)
    assert done.returncode == 1 and "symbolic link" in done.stderr


@pytest.mark.parametrize("files", [
    {"lib/kernel/6.2.0/boot.json": "[" * 100_000 + "]" * 100_000},
    {"lib/kernel/6.2.0/boot.json": '{"version": ' + "9" * 5000 + "}"},
    {"lib/kernel/6.2.0/10-big.cmdline": "quiet " * 100_000},
])
def test_a_kernel_package_s_bad_boot_files_are_one_line(tmp_path: Path,
                                                        files: dict[str, str]) -> None:
    # issue 23, rule 9: json recursed into a RecursionError, str() of a huge number raised
    root, outside = _make_world(tmp_path)
    before = _snapshots(root, outside)[:1]
    evil = make_package(tmp_path / "pkgs", "evil-kernel", {
        "lib/kernel/6.2.0/vmlinuz": os.urandom(1024), **files}, version="6.2.0")
    done = moss(root, "install", str(evil))

    assert "Traceback" not in done.stderr
    assert done.returncode in (1, 3) and done.stderr.count("\n") == 1, done.stderr
    assert _snapshots(root, outside)[:1] == before


def _esp_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted((root / "efi").rglob("*")) if p.is_file())


@pytest.mark.parametrize("template", [
    None,  # a link to the host's file
    "title {{ nothing_such }}\n", "{% if %}\n", "{{ (" * 3000 + ")}}" * 3000,
    "{% for a in x %}" * 200 + "{% endfor %}" * 200,
])
def test_an_entry_template_is_read_inside_the_root_and_a_broken_one_is_one_line(
    tmp_path: Path, template: str | None,
) -> None:
    root, outside = _make_world(tmp_path)
    folder = root / "etc/moss/boot/templates"
    folder.mkdir(parents=True)
    if template is None:
        (folder / "entry.conf.j2").symlink_to(outside / "shadow")
    else:
        (folder / "entry.conf.j2").write_text(template)
    for entry in (root / "efi/loader/entries").iterdir():
        entry.unlink()  # so the sync renders every entry again
    before = _snapshots(root, outside)
    done = moss(root, "boot", "sync")

    _check(root, outside, before, done.returncode, done.stderr)
    assert SECRET not in _esp_bytes(root)
    if template is not None:
        assert done.returncode == 1 and "entry.conf.j2" in done.stderr


def test_entries_and_efi_variables_linking_to_host_files_are_not_read(tmp_path: Path) -> None:
    from boot.discovery.efivars import LOADER_GUID, encode

    root, outside = _make_world(tmp_path)
    (outside / "entry").write_bytes(b"title " + SECRET + b"\n")
    (outside / "var").write_bytes(encode(SECRET.decode()))
    entry = next((root / "efi/loader/entries").iterdir())
    entry.unlink()
    entry.symlink_to(outside / "entry")
    (root / "efivars").mkdir()
    for name in ("LoaderEntryLastBooted", "LoaderEntryDefault", "LoaderEntrySelected",
                 "LoaderEntryOneShot", "LoaderBootCountPath"):
        (root / "efivars" / f"{name}-{LOADER_GUID}").symlink_to(outside / "var")
    (root / "etc/moss/boot.conf").write_text(
        "esp = /efi\nefivars = /efivars\nroot = root=/dev/vda\n")
    before = _snapshots(root, outside)

    for command in (("boot", "status"), ("boot", "sync"), ("boot", "status")):
        done = moss(root, *command)
        assert SECRET.decode() not in done.stdout + done.stderr
        _check(root, outside, before, done.returncode, done.stderr)


def test_a_damaged_digest_store_is_as_good_as_none(tmp_path: Path) -> None:
    from boot.writing.filehash import STORE_NAME

    root, _outside = _make_world(tmp_path)
    (root / ".moss" / STORE_NAME).write_text("[" * 100_000 + "]" * 100_000)
    done = moss(root, "boot", "sync")

    assert "Traceback" not in done.stderr
    assert done.returncode == 0, done.stderr
