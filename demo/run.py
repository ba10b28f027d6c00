"""moss end to end on the sample trees in demo/trees, showing the real CLI.

Usage: python demo/run.py [OUT]   (default: demo-out; recreated on every run)

Each step is a small function that runs ``moss`` commands through a subprocess,
printing each one as ``$ moss ...`` before its output, the way a user would type
it. Later steps (install, rollback, boot) are added to STEPS.
"""

from __future__ import annotations

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


STEPS: list[Callable[[Demo], None]] = [
    pack_packages,
    index_repository,
    inspect_package,
    extract_packages,
    install_packages,
    upgrade_package,
    roll_back,
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
