"""Real moss's stone commands: inspect of a recipe's build manifest with several
packages, ``inspect --check``, ``extract`` (one tree per package), ``index -o``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from moss.stone import FileType, PackageMeta, write_repository_index
from moss.stone.header import FileHeader
from tests.support.packages import make_package


def moss(*args: object, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "moss", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False)


def manifest(path: Path, names: list[str]) -> Path:
    """A ``manifest.x86_64.bin`` as boulder writes it: one Meta payload per subpackage."""
    write_repository_index(path, [PackageMeta(name=n, version="1.0", release=1) for n in names])
    with path.open("r+b") as f:
        f.write(FileHeader(len(names), FileType.BUILD_MANIFEST).encode())
    return path


def test_inspect_shows_every_package_of_a_build_manifest(tmp_path: Path) -> None:
    path = manifest(tmp_path / "manifest.x86_64.bin", ["nano", "nano-devel", "nano-docs"])
    text = moss("inspect", path)
    assert text.returncode == 0, text.stderr
    for name in ("nano", "nano-devel", "nano-docs"):
        assert f"Name            : {name}\n" in text.stdout
    data = json.loads(moss("inspect", "--json", path).stdout)
    assert data["file_type"] == "build_manifest"
    assert [m["name"] for m in data["metas"]] == ["nano", "nano-devel", "nano-docs"]
    assert data["meta"]["name"] == "nano"


def test_inspect_check_finds_a_damaged_package(tmp_path: Path) -> None:
    good = make_package(tmp_path, "hello", {"bin/hello": "hello\n" * 1000})
    bad = tmp_path / "bad.stone"
    data = bytearray(good.read_bytes())
    data[-20] ^= 0xFF  # inside the Content payload
    bad.write_bytes(bytes(data))
    ok = moss("inspect", "--check", good)
    assert ok.returncode == 0 and "Result: OK" in ok.stdout
    proc = moss("inspect", "--check", good, bad)
    assert proc.returncode == 1
    assert "Result: FAILED" in proc.stdout and proc.stderr.count("\n") == 1
    quiet = moss("inspect", "--check", "-q", bad)
    assert quiet.returncode == 1 and quiet.stdout == "" and quiet.stderr == ""


def test_extract_o_writes_one_tree_per_package(tmp_path: Path) -> None:
    hello = make_package(tmp_path, "hello", {"bin/hello": "hello\n"})
    zlib = make_package(tmp_path, "zlib", {"lib/libz.so.1": "z\n"}, version="1.3")
    out = tmp_path / "out"
    proc = moss("extract", hello, zlib, "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["hello-1.0-1.x86_64",
                                                      "zlib-1.3-1.x86_64"]
    assert (out / "hello-1.0-1.x86_64/usr/bin/hello").read_text() == "hello\n"
    assert not (out / "hello-1.0-1.x86_64/usr/lib").exists()
    (out / "zlib-1.3-1.x86_64/usr/stale").write_text("old")  # a second run replaces the tree
    assert moss("extract", zlib, "-o", out).returncode == 0
    assert not (out / "zlib-1.3-1.x86_64/usr/stale").exists()


def test_extract_without_o_writes_one_tree_per_package_here(tmp_path: Path) -> None:
    """Real moss's default ``-o .``; ``-C DIR`` (this moss's) still merges the trees."""
    hello = make_package(tmp_path, "hello", {"bin/hello": "hello\n"})
    zlib = make_package(tmp_path, "zlib", {"lib/libz.so.1": "z\n"}, version="1.3")
    here = tmp_path / "here"
    here.mkdir()
    proc = moss("extract", hello, zlib, cwd=here)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in here.iterdir()) == ["hello-1.0-1.x86_64",
                                                       "zlib-1.3-1.x86_64"]
    assert (here / "zlib-1.3-1.x86_64/usr/lib/libz.so.1").read_text() == "z\n"
    assert moss("extract", hello, zlib, "-C", tmp_path / "merged").returncode == 0
    assert sorted(p.name for p in (tmp_path / "merged/usr").iterdir()) == ["bin", "lib"]


def test_index_o_points_at_the_packages_from_elsewhere(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    make_package(repo, "hello", {"bin/hello": "hello\n"})
    proc = moss("index", repo, "-o", tmp_path / "published")
    assert proc.returncode == 0, proc.stderr
    assert not (repo / "stone.index").exists()
    data = json.loads(moss("inspect", "--json", tmp_path / "published/stone.index").stdout)
    uri = data["packages"][0]["uri"]
    assert uri == "../repo/hello-1.0-1.stone"
    assert (tmp_path / "published" / uri).resolve() == (repo / "hello-1.0-1.stone").resolve()
