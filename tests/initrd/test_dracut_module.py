"""90moss in real initramfs images: what dracut puts in, and the agent running inside.

One dracut build per flavour per test session (both run at once): a systemd
image (moss-pivot.service) and a plain one (dracut's pre-pivot hook).  The
agent is then run in a chroot of the unpacked image exactly as the unit or the
hook runs it, against a fake root at the image's own ``/sysroot``.
"""

from __future__ import annotations

import configparser
import filecmp
import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.debian_kernel import KernelUnavailable, debian_kernel
from tests.support.dracut import (
    INSTALL_SH,
    PROJECT,
    Initramfs,
    build_images,
    lsinitrd_file,
    lsinitrd_paths,
    private_dracut,
    unpack,
)
from tests.support.sysroot import ROOT_LINKS, archived_states, live_state, make_sysroot, root_links

AGENT = PROJECT / "initrd" / "pivot.py"
AGENT_CODE = PROJECT / "initrd" / "moss_pivot.py"
# The modules pivot.py imports, flat beside it in /usr/lib/moss: the agent's and the
# on-disk contract it shares with moss.
AGENT_MODULES = {
    "moss_pivot.py": AGENT_CODE,
    "pivot_record.py": PROJECT / "initrd" / "pivot_record.py",
    "pivot_sysroot.py": PROJECT / "initrd" / "pivot_sysroot.py",
    "pivot_readonly.py": PROJECT / "initrd" / "pivot_readonly.py",
    "ondisk.py": PROJECT / "moss" / "core" / "ondisk.py",
}
CHROOT_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}
PY = "usr/lib/python3.11"


@pytest.fixture(scope="session")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Initramfs]:
    for tool in ("dracut", "lsinitrd", "cpio", "zstd", "depmod", "chroot"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (scripts/setup.sh installs dracut-core etc.)")
    if os.geteuid() != 0:
        pytest.skip("building and chrooting into an initramfs needs root")
    try:
        kernel = debian_kernel()
    except KernelUnavailable as exc:
        pytest.skip(f"no Debian kernel to build against: {exc}")
    work = tmp_path_factory.mktemp("dracut")
    basedir = private_dracut(work / "dest")
    flavours = ["plain"]
    if Path("/usr/lib/systemd/systemd").exists():
        flavours.insert(0, "systemd")
    return build_images(basedir, kernel, work, flavours)


def image(images: dict[str, Initramfs], flavour: str) -> Initramfs:
    if flavour not in images:
        pytest.skip(f"no {flavour} image: systemd is not installed on this machine")
    return images[flavour]


def boot_like(root: Path, cmdline: str) -> None:
    """What the initramfs has at run time: the kernel command line, a kernel log, a root."""
    (root / "proc" / "cmdline").write_text(cmdline + "\n")
    kmsg = root / "dev" / "kmsg"
    if kmsg.exists() or kmsg.is_symlink():
        kmsg.unlink()  # never write into the host's kernel log from a test
    kmsg.write_text("")
    shutil.rmtree(root / "sysroot")
    make_sysroot(root / "sysroot", active=1, archived=(2, 3))


def test_install_sh_lays_out_the_module(tmp_path: Path) -> None:
    proc = subprocess.run(
        ["sh", str(INSTALL_SH), str(tmp_path)], check=True, capture_output=True, text=True
    )
    moddir = tmp_path / "usr/lib/dracut/modules.d/90moss"
    assert str(moddir) in proc.stdout
    assert sorted(p.name for p in moddir.iterdir()) == sorted({
        "module-setup.sh",
        "moss-pivot.service",
        "moss-pivot.sh",
        "moss_pivot.py",
        "pivot.py",
        *AGENT_MODULES,
    })
    assert os.access(moddir / "module-setup.sh", os.X_OK)
    assert filecmp.cmp(moddir / "pivot.py", AGENT, shallow=False)
    assert filecmp.cmp(moddir / "moss_pivot.py", AGENT_CODE, shallow=False)
    for name, source in AGENT_MODULES.items():
        assert filecmp.cmp(moddir / name, source, shallow=False), name


@pytest.mark.slow
@pytest.mark.parametrize("flavour", ["systemd", "plain"])
def test_image_holds_the_agent_and_only_the_python_it_needs(
    images: dict[str, Initramfs], flavour: str
) -> None:
    img = image(images, flavour)
    paths = lsinitrd_paths(img.image)

    assert lsinitrd_file(img.image, "usr/lib/moss/pivot.py") == AGENT.read_bytes()
    assert lsinitrd_file(img.image, "usr/lib/moss/moss_pivot.py") == AGENT_CODE.read_bytes()
    assert "usr/lib/moss/__pycache__/moss_pivot.cpython-311.pyc" in paths
    for name, source in AGENT_MODULES.items():
        assert lsinitrd_file(img.image, f"usr/lib/moss/{name}") == source.read_bytes(), name
        pyc = f"usr/lib/moss/__pycache__/{name.removesuffix('.py')}.cpython-311.pyc"
        assert pyc in paths, f"{pyc} missing from the {flavour} image"
    for path in (
        "usr/bin/python3",
        "usr/bin/python3.11",
        "usr/lib/x86_64-linux-gnu/libffi.so.8",
        f"{PY}/os.py",
        f"{PY}/ctypes/__init__.py",
        f"{PY}/ctypes/_endian.py",
        f"{PY}/struct.py",
        f"{PY}/encodings/__init__.py",
        f"{PY}/encodings/utf_8.py",
        f"{PY}/lib-dynload/_ctypes.cpython-311-x86_64-linux-gnu.so",
    ):
        assert path in paths, f"{path} missing from the {flavour} image"
    assert f"{PY}/ctypes/__pycache__/__init__.cpython-311.pyc" in paths  # no compiling at boot
    stdlib = [p for p in paths if p.startswith(f"{PY}/") and p.endswith((".py", ".so"))]
    assert len(stdlib) < 20, f"more of the stdlib than the agent needs: {sorted(stdlib)}"
    assert f"{PY}/json/__init__.py" not in paths

    unit = "usr/lib/systemd/system/moss-pivot.service"
    hook = "usr/lib/dracut/hooks/pre-pivot/50-moss-pivot.sh"
    if flavour == "systemd":
        assert unit in paths
        wants = "etc/systemd/system/initrd-root-fs.target.wants/moss-pivot.service"
        assert wants in paths and paths[wants].endswith("-> /lib/systemd/system/moss-pivot.service")
        assert hook not in paths  # dracut-pre-pivot.service would run the agent twice
    else:
        assert hook in paths
        assert unit not in paths


@pytest.mark.slow
def test_systemd_unit_runs_between_root_mount_and_switch_root(
    images: dict[str, Initramfs],
) -> None:
    img = image(images, "systemd")
    text = lsinitrd_file(img.image, "usr/lib/systemd/system/moss-pivot.service").decode()
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string(text)

    assert unit["Unit"]["ConditionKernelCommandLine"] == "moss.fstx"
    assert unit["Unit"]["After"] == "sysroot.mount"
    assert "initrd-root-fs.target" in unit["Unit"]["Before"].split()
    assert unit["Unit"]["DefaultDependencies"] == "no"
    assert "OnFailure" not in unit["Unit"]
    assert unit["Service"]["Type"] == "oneshot"
    # "-": the unit never fails, so nothing starts an emergency shell because of it.
    assert unit["Service"]["ExecStart"].startswith("-/usr/bin/python3 -I -S /usr/lib/moss/pivot.py")


@pytest.mark.slow
def test_systemd_unit_command_activates_the_state_inside_the_image(
    images: dict[str, Initramfs], tmp_path: Path
) -> None:
    img = image(images, "systemd")
    root = unpack(img.image, tmp_path / "initramfs")
    boot_like(root, "root=/dev/vda ro moss.fstx=3 quiet")
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read_string((root / "usr/lib/systemd/system/moss-pivot.service").read_text())
    argv = shlex.split(unit["Service"]["ExecStart"].removeprefix("-"))

    proc = subprocess.run(
        ["chroot", str(root), *argv], env=CHROOT_ENV, capture_output=True, text=True
    )

    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    sysroot = root / "sysroot"
    assert live_state(sysroot) == 3
    assert archived_states(sysroot) == {"1": 1, "2": 2}
    assert root_links(sysroot) == ROOT_LINKS
    assert (root / "dev/kmsg").read_text() == "<6>moss-pivot: activated state 3 (was state 1)\n"
    record = (root / "run/moss/pivot.json").read_text()
    assert '"result": "activated"' in record and '"previous": 1' in record


@pytest.mark.slow
def test_agent_in_image_compiles_nothing_at_boot(
    images: dict[str, Initramfs], tmp_path: Path
) -> None:
    """Every module the agent runs comes from bytecode shipped in the image: a cold start
    under emulation pays for each compile many times over."""
    root = unpack(image(images, "plain").image, tmp_path / "initramfs")
    boot_like(root, "moss.fstx=2")

    proc = subprocess.run(
        ["chroot", str(root), "/usr/bin/python3", "-v", "-I", "-S", "/usr/lib/moss/pivot.py"],
        env=CHROOT_ENV,
        capture_output=True,
        text=True,
    )

    assert proc.returncode == 0, proc.stderr
    assert live_state(root / "sysroot") == 2
    loaded = [line for line in proc.stderr.splitlines() if line.startswith("# code object from")]
    assert any("moss_pivot.cpython-311.pyc" in line for line in loaded)
    for name in AGENT_MODULES:
        pyc = f"/usr/lib/moss/__pycache__/{name.removesuffix('.py')}.cpython-311.pyc"
        assert any(pyc in line for line in loaded), f"{name} not loaded from {pyc}"
    assert any("ctypes/__pycache__/__init__.cpython-311.pyc" in line for line in loaded)
    compiled = [line for line in loaded if not line.rstrip("'").endswith(".pyc")]
    assert compiled == []


def _source_hook(root: Path) -> subprocess.CompletedProcess[str]:
    """Source the hook the way dracut's init does (sh, $NEWROOT set, no `set -e`)."""
    script = (
        "NEWROOT=/sysroot\n"
        ". /usr/lib/dracut/hooks/pre-pivot/50-moss-pivot.sh\n"
        'echo "init continues"\n'
    )
    return subprocess.run(
        ["chroot", str(root), "/bin/sh", "-c", script],
        env=CHROOT_ENV,
        capture_output=True,
        text=True,
    )


@pytest.mark.slow
def test_pre_pivot_hook_activates_the_state_inside_the_image(
    images: dict[str, Initramfs], tmp_path: Path
) -> None:
    root = unpack(image(images, "plain").image, tmp_path / "initramfs")
    boot_like(root, "root=/dev/vda moss.fstx=2")

    proc = _source_hook(root)

    assert proc.stdout == "init continues\n", proc.stderr
    assert live_state(root / "sysroot") == 2
    assert archived_states(root / "sysroot") == {"1": 1, "3": 3}
    assert (root / "dev/kmsg").read_text() == "<6>moss-pivot: activated state 2 (was state 1)\n"


@pytest.mark.slow
def test_pre_pivot_hook_without_request_runs_nothing(
    images: dict[str, Initramfs], tmp_path: Path
) -> None:
    root = unpack(image(images, "plain").image, tmp_path / "initramfs")
    boot_like(root, "root=/dev/vda moss.fstxx=2 quiet")

    proc = _source_hook(root)

    assert proc.stdout == "init continues\n", proc.stderr
    assert live_state(root / "sysroot") == 1
    assert not (root / "run/moss/pivot.json").exists()
    assert (root / "dev/kmsg").read_text() == ""


@pytest.mark.slow
def test_pre_pivot_hook_boots_on_when_the_agent_cannot_run(
    images: dict[str, Initramfs], tmp_path: Path
) -> None:
    root = unpack(image(images, "plain").image, tmp_path / "initramfs")
    boot_like(root, "moss.fstx=2")
    (root / "usr/lib/moss/pivot.py").write_text("raise SystemExit(3)\n")

    proc = _source_hook(root)

    assert proc.stdout == "init continues\n"
    assert live_state(root / "sysroot") == 1
    assert (root / "dev/kmsg").read_text() == (
        "<3>moss-pivot: the agent exited with status 3; booting on\n"
    )
