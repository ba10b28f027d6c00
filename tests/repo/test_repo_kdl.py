"""Repositories configured in KDL as real moss writes them, and its cache folder naming.

Real moss reads ``{usr/share,etc}/moss/repo.{yaml,kdl}`` and ``repo.d/*.{yaml,kdl}``,
prefers ``x.kdl`` over ``x.yaml``, and keeps a repository's index in
``.moss/repo/<xxh3-64 of "moss-<uri>">/``.  Everything goes through the CLI.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import xxhash

from moss.stonetools.index import build_index
from tests.repo.test_repo_endtoend import make_package, serve_directory
from tests.repo.test_repo_httpserver import Site, site

__all__ = ["site"]

# The shape real moss's config crate saves (kdl-rs serde, KDL v2), as in its
# boulder/data/profile.d/default-x86_64.kdl.
REAL_MOSS_KDL = """\
volatile {
    description "AerynOS volatile stream"
    uri "{uri}"
    priority 10
    active #true
}
"""


def moss(root: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "moss", "-D", str(root), *argv],
                          capture_output=True, text=True, timeout=120)


def listed(root: Path) -> dict[str, dict[str, object]]:
    proc = moss(root, "repo", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    return {r["id"]: r for r in json.loads(proc.stdout)}


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_real_moss_kdl_repository_is_read(tmp_path: Path) -> None:
    uri = "https://cdn.example.org/volatile/x86_64/stone.index"
    write(tmp_path / "etc/moss/repo.d/volatile.kdl", REAL_MOSS_KDL.replace("{uri}", uri))
    write(tmp_path / "usr/share/moss/repo.kdl",
          'vendor {\n    description vendor\n    uri "https://v.example.org/stone.index"\n'
          "    priority 0\n    active #false\n}\n")
    repos = listed(tmp_path)
    assert repos["volatile"]["uri"] == uri and repos["volatile"]["priority"] == 10
    assert repos["volatile"]["active"] is True
    assert repos["vendor"]["active"] is False


def test_kdl_is_preferred_over_its_yaml_twin(tmp_path: Path) -> None:
    write(tmp_path / "etc/moss/repo.d/main.yaml",
          "main:\n  description: old\n  uri: https://old.example.org/stone.index\n"
          "  priority: 1\n")
    write(tmp_path / "etc/moss/repo.d/main.kdl",
          'main {\n    description new\n    uri "https://new.example.org/stone.index"\n'
          "    priority 2\n}\n")
    assert listed(tmp_path)["main"]["uri"] == "https://new.example.org/stone.index"


def test_admin_entry_overrides_the_vendor_one(tmp_path: Path) -> None:
    write(tmp_path / "usr/share/moss/repo.d/os.kdl",
          'unstable {\n    description os\n    uri "https://os.example.org/stone.index"\n'
          "    priority 0\n}\n")
    assert moss(tmp_path, "repo", "disable", "unstable").returncode == 0
    assert listed(tmp_path)["unstable"]["active"] is False
    # The vendor file is never edited; the override is a KDL file in etc.
    assert "active" not in (tmp_path / "usr/share/moss/repo.d/os.kdl").read_text()
    assert "active #false" in (tmp_path / "etc/moss/repo.d/unstable.kdl").read_text()


def test_broken_kdl_is_one_clear_line(tmp_path: Path) -> None:
    write(tmp_path / "etc/moss/repo.d/bad.kdl", "main {\n    uri \"x\"\n")
    proc = moss(tmp_path, "repo", "list")
    assert proc.returncode == 1
    assert len(proc.stderr.strip().splitlines()) == 1 and "bad.kdl" in proc.stderr


def test_index_lives_where_real_moss_keeps_it(site: Site, tmp_path: Path) -> None:
    """``moss repo update`` fills real moss's folder; an index real moss fetched is used."""
    make_package(tmp_path, "hello", [], [])
    build_index(tmp_path / "served")
    serve_directory(site, tmp_path / "served", "repo")
    root = tmp_path / "root"
    uri = site.url("repo/stone.index")
    assert moss(root, "repo", "add", "main", uri).returncode == 0
    assert moss(root, "repo", "update").returncode == 0
    folder = root / ".moss/repo" / format(xxhash.xxh3_64_intdigest(f"moss-{uri}".encode()), "x")
    assert (folder / "stone.index").is_file()

    # Another root whose index real moss fetched: no update needed to see its packages.
    other = tmp_path / "other"
    write(other / "etc/moss/repo.d/main.kdl", REAL_MOSS_KDL.replace("{uri}", uri))
    (other / ".moss/repo" / folder.name).mkdir(parents=True)
    (other / ".moss/repo" / folder.name / "stone.index").write_bytes(
        (folder / "stone.index").read_bytes())
    proc = moss(other, "list", "available")
    assert proc.returncode == 0 and "hello" in proc.stdout

    assert moss(root, "repo", "remove", "main").returncode == 0
    assert not folder.exists()


def test_update_writes_real_moss_s_meta_database(site: Site, tmp_path: Path) -> None:
    """Real moss reads a repository's packages from ``.moss/repo/<hash>/db`` (meta schema v1)."""
    make_package(tmp_path, "hello", ["greeting-lib"], ["binary(hello)"])
    build_index(tmp_path / "served")
    serve_directory(site, tmp_path / "served", "repo")
    root = tmp_path / "root"
    uri = site.url("repo/stone.index")
    assert moss(root, "repo", "add", "main", uri).returncode == 0
    assert moss(root, "repo", "update").returncode == 0
    folder = root / ".moss/repo" / format(xxhash.xxh3_64_intdigest(f"moss-{uri}".encode()), "x")
    with sqlite3.connect(folder / "db") as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (1,)
        columns = [r[1] for r in conn.execute("PRAGMA table_info(meta)")]
        assert columns == ["package", "name", "version_identifier", "source_release",
                           "build_release", "architecture", "summary", "description",
                           "source_id", "homepage", "uri", "hash", "download_size"]
        (package, name, hash_) = conn.execute("SELECT package, name, hash FROM meta").fetchone()
        assert name == "hello" and package == hash_ and len(package) == 64
        assert sorted(r[0] for r in conn.execute("SELECT provider FROM meta_providers")) == [
            "binary(hello)", "name(hello)"]
        assert [r[0] for r in conn.execute("SELECT dependency FROM meta_dependencies")] == [
            "name(greeting-lib)"]
