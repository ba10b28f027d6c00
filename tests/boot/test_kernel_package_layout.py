"""The README's "What a kernel package ships" is what moss boots: a package made from
exactly the table's paths gets an entry with its initrd and every command-line file
(issue 25 item 14: until then only demo/run.py showed the layout)."""

from __future__ import annotations

import re
from pathlib import Path

from moss.cli import main
from tests.support.packages import make_package

README = Path(__file__).resolve().parents[2] / "README.md"
KVER = "6.9.1-moss"


def documented_paths() -> list[str]:
    """The first column of the README's table, with ``<kver>`` and ``*`` filled in."""
    section = README.read_text().split("### What a kernel package ships", 1)[1]
    section = section.split("\n#", 1)[0]
    rows = re.findall(r"^\| `([^`]+)` \|", section, flags=re.MULTILINE)
    return [row.replace("<kver>", KVER).replace("*", "10-default") for row in rows]


def files_for(paths: list[str]) -> dict[str, str | bytes | None]:
    files: dict[str, str | bytes | None] = {}
    for path in paths:
        if path.endswith("/"):
            files[path + "modules.dep"] = ""
        elif path.endswith("boot.json"):
            files[path] = '{"name": "linux", "version": "6.9.1", "variant": "moss"}'
        elif path.startswith("lib/kernel/cmdline.d/"):
            files[path] = "from-the-vendor"
        elif path.endswith(".cmdline"):
            files[path] = "quiet from-the-kernel"
        else:
            files[path] = f"content of {path}".encode()
    return files


def test_a_package_of_the_documented_paths_boots_with_all_of_them(tmp_path: Path) -> None:
    paths = documented_paths()
    assert f"lib/kernel/{KVER}/vmlinuz" in paths
    assert f"lib/kernel/{KVER}/10-default.initrd" in paths
    assert f"lib/modules/{KVER}/" in paths
    root = tmp_path / "root"
    (root / "etc/moss").mkdir(parents=True)
    (root / "efi").mkdir()
    (root / "efivars").mkdir()
    (root / "etc/moss/boot.conf").write_text(
        "esp = /efi\nefivars = /efivars\nroot = root=/dev/vda rw\n")
    package = make_package(tmp_path, "linux", files_for(paths), version="6.9.1")
    assert main(["-D", str(root), "-y", "--quiet", "install", str(package)]) == 0
    entries = sorted((root / "efi/loader/entries").glob("*.conf"))
    assert len(entries) == 1
    entry = entries[0].read_text()
    options = next(line for line in entry.splitlines() if line.startswith("options "))
    assert "from-the-kernel" in options and "from-the-vendor" in options
    assert options.index("from-the-kernel") < options.index("from-the-vendor")
    copied = {p.name for p in (root / "efi").rglob("*") if p.is_file()}
    assert {"vmlinuz", "10-default.initrd"} <= copied
