"""Triggers run for real: in namespaces, chrooted, on trees built from host binaries."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from moss.core.errors import MossError
from moss.triggers import run_system_triggers, run_transaction_triggers
from tests.triggers.test_triggers_format import DEPMOD_YAML

BUSYBOX = Path("/bin/busybox")


def _can_unshare() -> str | None:
    if os.geteuid() != 0:
        return "needs root (mount namespaces and chroot)"
    if shutil.which("unshare") is None:
        return "needs unshare (util-linux)"
    probe = subprocess.run(
        ["unshare", "--mount", "--pid", "--ipc", "--uts", "--net", "--fork", "--", "true"],
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0:
        return f"cannot create namespaces here: {probe.stderr.decode().strip()}"
    if not BUSYBOX.is_file():
        return "needs a static busybox at /bin/busybox (busybox-static)"
    return None


_REASON = _can_unshare()
pytestmark = pytest.mark.skipif(_REASON is not None, reason=_REASON or "")


def make_root(tmp_path: Path) -> tuple[Path, Path]:
    """A root with /etc and /proc and compat links, and a staging /usr with busybox."""
    root = tmp_path / "root"
    for name in ("etc", "proc", "usr"):
        (root / name).mkdir(parents=True)
    (root / "usr" / "live-marker").write_text("old tree")
    (root / "etc" / "hostname").write_text("host\n")
    for link in ("bin", "sbin", "lib", "lib64"):
        (root / link).symlink_to(f"usr/{link}")
    staging = tmp_path / "staging" / "usr"
    for name in ("bin", "sbin", "lib", "lib64", "share/moss/triggers/tx.d"):
        (staging / name).mkdir(parents=True)
    shutil.copy2(BUSYBOX, staging / "bin" / "busybox")
    (staging / "bin" / "sh").symlink_to("busybox")
    return root, staging


def add_trigger(usr: Path, kind: str, name: str, script: str, pattern: str = "/usr/bin/sh") -> None:
    directory = usr / "share/moss/triggers" / kind
    directory.mkdir(parents=True, exist_ok=True)
    body = {
        "name": name,
        "description": name,
        "handlers": {"run": {"run": "/usr/bin/sh", "args": ["-c", script]}},
        "paths": {pattern: {"handlers": ["run"]}},
    }
    (directory / f"{name}.yaml").write_text(yaml.safe_dump(body))


def copy_binary(binary: Path, usr: Path, as_path: str) -> None:
    """Copy a host binary and the libraries ldd names into the tree, at the same paths."""
    out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False)
    for lib in re.findall(r"(/\S+\.so[.\d]*)", out.stdout):
        rel = Path(lib).relative_to("/")
        if rel.parts[0] == "usr":
            rel = Path(*rel.parts[1:])
        dest = usr / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(os.path.realpath(lib), dest)
    dest = usr / as_path
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(os.path.realpath(binary), dest)


def test_tx_trigger_is_isolated_and_writes_only_the_new_tree(tmp_path: Path) -> None:
    root, staging = make_root(tmp_path)
    add_trigger(
        staging,
        "tx.d",
        "probe",
        "echo $$ > /usr/pid; cat /proc/net/dev > /usr/netdev; "
        "ls /usr > /usr/listing; cat /etc/hostname > /usr/etc-seen",
    )
    run_transaction_triggers(root, staging)
    assert (staging / "pid").read_text().strip() == "1"  # own pid namespace
    interfaces = re.findall(r"^\s*(\w+):", (staging / "netdev").read_text(), re.M)
    assert interfaces == ["lo"]  # own network namespace
    assert "live-marker" not in (staging / "listing").read_text()  # new tree is /usr
    assert (staging / "etc-seen").read_text() == "host\n"  # /etc readable
    assert sorted(p.name for p in (root / "usr").iterdir()) == ["live-marker"]


def test_tx_trigger_cannot_write_etc_and_failure_names_it(tmp_path: Path) -> None:
    root, staging = make_root(tmp_path)
    add_trigger(staging, "tx.d", "etc-writer", "echo hi > /etc/new-file")
    with pytest.raises(MossError) as err:
        run_transaction_triggers(root, staging)
    message = str(err.value)
    assert message.startswith("trigger etc-writer failed:")
    assert "Read-only file system" in message
    assert not (root / "etc" / "new-file").exists()


def test_real_depmod_trigger_runs_depmod_on_the_new_tree(tmp_path: Path) -> None:
    kmod = Path("/bin/kmod")
    if not kmod.is_file():
        pytest.skip("needs kmod (depmod) on the host")
    root, staging = make_root(tmp_path)
    copy_binary(kmod, staging, "bin/kmod")
    (staging / "sbin" / "depmod").symlink_to("../bin/kmod")
    (staging / "share/moss/triggers/tx.d/depmod.yaml").write_text(DEPMOD_YAML)
    modules = staging / "lib" / "modules" / "6.6.15"
    (modules / "kernel").mkdir(parents=True)
    run_transaction_triggers(root, staging)
    assert (modules / "modules.dep").is_file()
    assert (modules / "modules.dep.bin").is_file()


def test_ldconfig_trigger_writes_its_cache_into_usr(tmp_path: Path) -> None:
    ldconfig = Path("/usr/sbin/ldconfig")
    libz = Path("/lib/x86_64-linux-gnu/libz.so.1")
    if not ldconfig.is_file() or not libz.exists():
        pytest.skip("needs the host's ldconfig and libz.so.1")
    root, staging = make_root(tmp_path)
    shutil.copy2(ldconfig, staging / "sbin" / "ldconfig")
    shutil.copy2(os.path.realpath(libz), staging / "lib" / "libz.so.1")
    body = {
        "name": "ldconfig",
        "description": "Update the dynamic linker cache",
        "handlers": {
            # /etc is read-only for transaction triggers: the cache lives in /usr.
            "ldconfig": {"run": "/usr/sbin/ldconfig", "args": ["-X", "-C", "/usr/lib/ld.so.cache"]}
        },
        "paths": {"/usr/lib/lib*.so*": {"handlers": ["ldconfig"]}},
    }
    (staging / "share/moss/triggers/tx.d/ldconfig.yaml").write_text(yaml.safe_dump(body))
    run_transaction_triggers(root, staging)
    assert b"libz.so.1" in (staging / "lib" / "ld.so.cache").read_bytes()


def test_system_trigger_runs_in_the_root(tmp_path: Path) -> None:
    root, staging = make_root(tmp_path)
    (root / "usr").rename(tmp_path / "old-usr")
    staging.rename(root / "usr")
    add_trigger(root / "usr", "sys.d", "sysprobe", "echo done > /etc/sys-trigger-ran")
    run_system_triggers(root)
    assert (root / "etc" / "sys-trigger-ran").read_text() == "done\n"
