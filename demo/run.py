"""moss end to end on the sample trees in demo/trees, showing the real CLI.

Usage: python demo/run.py [OUT]   (default: demo-out; recreated on every run)

Each step is a small function that runs ``moss`` commands through a subprocess,
printing each one as ``$ moss ...`` before its output, the way a user would type
it. Later steps (install, rollback, boot) are added to STEPS.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

DEMO = Path(__file__).resolve().parent
TREES = DEMO / "trees"


@dataclass
class Demo:
    out: Path

    @property
    def packages(self) -> Path:
        return self.out / "packages"

    @property
    def root(self) -> Path:
        return self.out / "root"

    @property
    def extracted(self) -> Path:
        return self.out / "extracted"

    def moss(self, *args: str) -> str:
        """Runs ``moss ARGS``, shows it and its output, and stops the demo if it fails."""
        print(f"$ moss {' '.join(_quote(a) for a in args)}", flush=True)
        result = subprocess.run(
            [sys.executable, "-m", "moss", *args],
            capture_output=True,
            text=True,
            check=False,
        )
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
        if result.returncode != 0:
            raise SystemExit(f"demo: `moss {' '.join(args)}` failed ({result.returncode})")
        print(flush=True)
        return result.stdout


    def run(self, *args: str, env: dict[str, str] | None = None) -> None:
        """Runs another tool the same way, shown as ``$ tool ...``."""
        print(f"$ {' '.join(_quote(a) for a in args)}", flush=True)
        subprocess.run(args, check=True, env={**os.environ, **(env or {})})
        print(flush=True)


def _quote(arg: str) -> str:
    return f"'{arg}'" if any(c in arg for c in " ()$") else arg


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# --- steps -------------------------------------------------------------------------


def pack_packages(demo: Demo) -> None:
    """Builds three packages from plain folders taken as /usr."""
    demo.packages.mkdir(parents=True)
    common = ["--license", "MPL-2.0", "--homepage", "https://example.org/hello"]
    demo.moss(
        "pack", _relative(TREES / "greeting-lib-1"),
        "-o", _relative(demo.packages / "greeting-lib-1-1-1-x86_64.stone"),
        "--name", "greeting-lib", "--version", "1.0", "--release", "1",
        "--summary", "The greeting hello uses",
        *common,
    )
    for release, tree in ((1, "hello-1"), (2, "hello-2")):
        demo.moss(
            "pack", _relative(TREES / tree),
            "-o", _relative(demo.packages / f"hello-{release}.0-{release}-1-x86_64.stone"),
            "--name", "hello", "--version", f"{release}.0", "--release", str(release),
            "--summary", "Prints a greeting",
            "--depends", "greeting-lib",
            "--provides", "binary(hello)",
            # its scripts' `#!/bin/sh` would make binary(sh) a dependency, and the demo's
            # root has no shell package to provide it
            "--no-auto-deps",
            *common,
        )


def index_repository(demo: Demo) -> None:
    """A repository index: the newest release of each package, with its sha256."""
    demo.moss("index", _relative(demo.packages))
    demo.moss("inspect", _relative(demo.packages / "stone.index"))


def inspect_package(demo: Demo) -> None:
    demo.moss("inspect", _relative(demo.packages / "hello-2.0-2-1-x86_64.stone"))


def extract_packages(demo: Demo) -> None:
    """Unpacks /usr trees, every file checked against its XXH3-128 digest."""
    demo.moss(
        "extract",
        _relative(demo.packages / "greeting-lib-1-1-1-x86_64.stone"),
        _relative(demo.packages / "hello-2.0-2-1-x86_64.stone"),
        "-C", _relative(demo.extracted),
    )
    hello = demo.extracted / "usr" / "bin" / "hello"
    print(f"$ {_relative(hello)} --bye")
    result = subprocess.run([str(hello), "--bye"], capture_output=True, text=True, check=True)
    print(result.stdout)


def install_packages(demo: Demo) -> None:
    """Installs into a fresh root: state 1, a /usr of hard links into the store."""
    demo.moss("-D", _relative(demo.root), "-y", "install",
              _relative(demo.packages / "greeting-lib-1-1-1-x86_64.stone"),
              _relative(demo.packages / "hello-1.0-1-1-x86_64.stone"))
    demo.moss("-D", _relative(demo.root), "list", "installed")


def upgrade_package(demo: Demo) -> None:
    """Upgrading makes state 2; state 1 stays on disk under .moss/root/1."""
    demo.moss("-D", _relative(demo.root), "-y", "install",
              _relative(demo.packages / "hello-2.0-2-1-x86_64.stone"))
    demo.moss("-D", _relative(demo.root), "state", "list")


def roll_back(demo: Demo) -> None:
    """Rolling back is one atomic exchange of /usr: no download, no unpacking."""
    demo.moss("-D", _relative(demo.root), "-y", "state", "activate", "1")
    demo.moss("-D", _relative(demo.root), "info", "hello")
    demo.moss("-D", _relative(demo.root), "state", "verify")


READ_ONLY_SCRIPT = r"""
show() { echo "\$ $*"; "$@" 2>&1 || true; echo; }
moss() { echo "\$ moss $*"; "$PY" -m moss "$@" 2>&1; echo; }
agent() {
    show "$PY" -I -S initrd/pivot.py --sysroot "$R" --cmdline quiet --run-dir "$RUN" \
        --kmsg /dev/null
}
mount --bind "$R" "$R"   # the demo root as its own mount, like /sysroot in the initramfs
echo "--- with enabled = yes ($R/etc/moss/readonly.conf):"
agent
show cat "$RUN/readonly"
show touch "$R/usr/x"
show touch "$R/etc/x"
show rm "$R/etc/x"
moss -D "$R" -y state activate 2
moss -D "$R" -y state activate 1
show touch "$R/usr/x"
echo "--- with enabled = no (the boot from here is as before the setting existed):"
umount -R "$R"; mount --bind "$R" "$R"
printf 'enabled = no\n' > "$R/etc/moss/readonly.conf"
agent
show touch "$R/usr/x"
show rm "$R/usr/x"
"""


def read_only_os(demo: Demo) -> None:
    """A read-only OS: the initramfs agent makes /usr read-only; moss still changes it."""
    conf = demo.root / "etc" / "moss" / "readonly.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text("enabled = yes\nwritable = /etc /var /home /root /opt /srv /tmp /usr/local\n")
    print(f"$ cat {_relative(conf)}\n{conf.read_text()}", flush=True)
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        print("(showing the mounts needs root and unshare)\n")
        return
    # in a private mount namespace of its own: nothing here outlives the step
    env = {"PY": sys.executable, "R": str(demo.root), "RUN": str(demo.out / "run" / "moss")}
    subprocess.run(["unshare", "-m", "--propagation", "private", "bash", "-c", READ_ONLY_SCRIPT],
                   check=True, env={**os.environ, **env}, cwd=DEMO.parent)
    conf.unlink()


def install_by_name(demo: Demo) -> None:
    """From a repository: hello is found by name, greeting-lib comes as its dependency."""
    index = (demo.packages / "stone.index").resolve()
    root = _relative(demo.out / "root-from-repo")
    demo.moss("-D", root, "repo", "add", "local", index.as_uri())
    demo.moss("-D", root, "repo", "update")
    demo.moss("-D", root, "-y", "install", "hello")
    demo.moss("-D", root, "list", "installed")


def kernel_package(demo: Demo) -> None:
    """A real Debian kernel and a dracut initramfs holding moss's pivot agent, packed."""
    sys.path.insert(0, str(DEMO.parent))
    from tests.support.debian_kernel import debian_kernel

    kernel = debian_kernel()  # apt-get download, cached in /var/cache/moss-tests
    dracut = demo.out / "dracut"
    demo.run("sh", _relative(DEMO.parent / "dracut-module" / "install.sh"), _relative(dracut))
    shutil.copytree("/usr/lib/dracut", dracut / "usr/lib/dracut", symlinks=True,
                    dirs_exist_ok=True, ignore=shutil.ignore_patterns("90moss"))
    for release in (1, 2):
        tree = demo.out / f"linux-{release}" / "lib" / "kernel" / kernel.kver
        tree.mkdir(parents=True)
        shutil.copy(kernel.vmlinuz, tree / "vmlinuz")
        demo.run("env", f"dracutbasedir={_relative(dracut / 'usr/lib/dracut')}", "dracut",
                 "--quiet", "--force", "--no-hostonly", "--kver", kernel.kver,
                 "--kmoddir", str(kernel.moddir), "--no-early-microcode",
                 "--compress", "zstd -3 -q", "--modules", "base rootfs-block moss",
                 "--force-drivers", "virtio_pci virtio_blk ext4",
                 _relative(tree / "10-default.initrd"))
        (tree / "10-default.cmdline").write_text(f"quiet moss.demo.build={release}\n")
        demo.moss("pack", _relative(demo.out / f"linux-{release}"),
                  "-o", _relative(demo.packages / f"linux-{release}.stone"),
                  "--name", "linux", "--version", kernel.kver, "--release", str(release),
                  "--summary", "The Debian kernel with a moss initramfs")


def boot_entries(demo: Demo) -> None:
    """A root whose ESP moss manages: one entry per state, the kernel copied once."""
    conf = demo.root / "etc" / "moss" / "boot.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text("esp = /efi\nefivars = /efivars\nroot = root=/dev/vda rw\ntimeout = 3\n")
    for name in ("efi", "efivars"):
        (demo.root / name).mkdir(exist_ok=True)
    print(f"$ cat {_relative(conf)}\n{conf.read_text()}")
    demo.moss("-D", _relative(demo.root), "-y", "install",
              _relative(demo.packages / "linux-1.stone"))
    demo.moss("-D", _relative(demo.root), "-y", "install",
              _relative(demo.packages / "hello-2.0-2-1-x86_64.stone"))
    demo.moss("-D", _relative(demo.root), "boot", "sync")


def deferred_kernel_update(demo: Demo) -> None:
    """A kernel update is staged for the next boot; the running tree stays as it is."""
    demo.moss("-D", _relative(demo.root), "-y", "install", "--defer",
              _relative(demo.packages / "linux-2.stone"))
    demo.moss("-D", _relative(demo.root), "state", "list")


def boot_menu(demo: Demo) -> None:
    """The boot menu as moss and systemd-boot's own bootctl see it."""
    demo.moss("-D", _relative(demo.root), "boot", "status")
    esp = demo.root / "efi"
    if os.geteuid() != 0 or shutil.which("bootctl") is None:
        print("(bootctl needs root and Debian's systemd-boot package to list the ESP)")
        return
    subprocess.run(["mount", "--bind", str(esp), str(esp)], check=True)
    try:
        demo.run("bootctl", f"--esp-path={_relative(esp)}", "--no-variables", "--no-pager",
                 "list", env={"SYSTEMD_RELAX_ESP_CHECKS": "1"})
    finally:
        subprocess.run(["umount", str(esp)], check=True)


STEPS: list[Callable[[Demo], None]] = [
    pack_packages,
    index_repository,
    inspect_package,
    extract_packages,
    install_packages,
    upgrade_package,
    roll_back,
    read_only_os,
    install_by_name,
    kernel_package,
    boot_entries,
    deferred_kernel_update,
    boot_menu,
]


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "demo-out").resolve()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    demo = Demo(out)
    for step in STEPS:
        title = step.__name__.replace("_", " ")
        print(f"### {title}: {(step.__doc__ or '').strip()}".rstrip(": "), flush=True)
        step(demo)
    print(f"Done. Everything is in {_relative(out)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
