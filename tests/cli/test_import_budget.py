"""The start-up budget, by what each command imports, not by a clock (issue 18).

``moss --version`` once loaded the whole program (jinja2, boot, the transaction code,
SQLite, zstandard, the fetcher) before it parsed a word: ~10x Python's own start-up.
Each command here runs as a user runs it, ``python -X importtime -m moss ...`` in its
own process, and the modules it loaded are read from the importtime report on stderr.
A module that comes back is a start-up cost that came back.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.packages import make_package

# Third-party libraries that only some commands need.
HEAVY_LIBRARIES = ("jinja2", "sqlite3", "zstandard", "blake3", "xxhash", "pyudev", "yaml",
                   "ckdl", "cryptography")
# The implementations behind the commands: parsing a command line needs none of them.
IMPLEMENTATIONS = ("moss.actions", "moss.states", "moss.planning", "moss.store", "moss.tree",
                   "moss.triggers", "moss.subscriptions", "moss.repo", "moss.db", "moss.stone",
                   "moss.stonetools", "boot")
# What a read-only query must not load: the templates, the decompressor, udev, and the
# code that changes a system.
NOT_FOR_QUERIES = ("jinja2", "zstandard", "pyudev", "boot", "moss.actions.transaction",
                   "moss.tree", "moss.store", "moss.triggers", "moss.subscriptions",
                   "moss.states.activate", "moss.states.bootsync")

_LINE = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$")


def imported(*args: str) -> tuple[set[str], str]:
    """The modules ``moss ARGS`` loads, and what it printed; it must succeed."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "moss", *args],
                          capture_output=True, text=True, timeout=120)
    modules = {m[1] for line in proc.stderr.splitlines() if (m := _LINE.match(line))}
    errors = "\n".join(line for line in proc.stderr.splitlines() if not _LINE.match(line))
    assert proc.returncode == 0, errors
    assert modules, "no importtime report on stderr"
    return modules, proc.stdout


def loaded(modules: set[str], packages: tuple[str, ...]) -> list[str]:
    """The members of ``modules`` that are one of ``packages`` or inside one."""
    return sorted(m for m in modules
                  if any(m == p or m.startswith(p + ".") for p in packages))


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root with two states, installed through the CLI."""
    work = tmp_path_factory.mktemp("budget")
    root = work / "root"
    for name in ("hello", "world"):
        package = make_package(work, name, {f"bin/{name}": f"{name}\n"})
        proc = subprocess.run([sys.executable, "-m", "moss", "-D", str(root), "-y", "--quiet",
                               "install", str(package)], capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0, proc.stderr
    return root


@pytest.mark.parametrize("args", [["--version"], ["-V"], ["--help"], ["state", "--help"],
                                  ["version"]])
def test_the_parser_alone_loads_no_implementation(args: list[str]) -> None:
    modules, out = imported(*args)
    assert out.startswith(("moss 0.1.0", "usage: moss"))
    assert loaded(modules, HEAVY_LIBRARIES) == []
    assert loaded(modules, IMPLEMENTATIONS) == []


@pytest.mark.parametrize("args", [["state", "list"], ["info", "hello"], ["list", "installed"],
                                  ["state", "active"]])
def test_a_query_loads_no_templates_decompressor_or_transaction(root: Path,
                                                                args: list[str]) -> None:
    modules, out = imported("-D", str(root), *args)
    assert out.strip()
    assert loaded(modules, NOT_FOR_QUERIES) == []


def test_state_list_needs_only_the_databases(root: Path) -> None:
    """Listing states reads the state database: no repository, resolver or hashing."""
    modules, out = imported("-D", str(root), "state", "list")
    assert "install hello" in out
    assert loaded(modules, ("moss.repo", "moss.planning.resolve", "blake3", "yaml",
                            "cryptography", "http", "urllib.request")) == []


def test_a_query_loads_no_legacy_converter_and_help_no_shutil(root: Path) -> None:
    """The legacy converter only for a legacy root (tests/db/test_legacy_upgrade.py
    covers one); argparse's formatter asks for the terminal's width without shutil."""
    for args in (["state", "list"], ["info", "hello"], ["list", "installed"]):
        modules, _ = imported("-D", str(root), *args)
        assert loaded(modules, ("moss.db.legacy",)) == [], args
    modules, _ = imported("--help")
    assert loaded(modules, ("shutil", "lzma", "bz2")) == []


def test_info_of_an_installed_package_loads_no_repository_code(root: Path) -> None:
    """No repository configured: nothing is offered, so no configuration, index or
    resolver code is loaded to read none."""
    for args in (["info", "hello"], ["info", "--json", "hello"]):
        modules, out = imported("-D", str(root), *args)
        assert "hello" in out
        assert loaded(modules, ("moss.repo", "moss.planning.resolve", "moss.actions.query",
                                "yaml", "ckdl", "moss.core.kdl")) == [], args


def test_lookup_names_the_repository_domain_as_the_configuration_does() -> None:
    """``lookup`` finds the repository files by the domain ``moss.repo.config`` reads."""
    from moss.actions import lookup
    from moss.repo import config

    assert lookup.REPO_DOMAIN == config.DOMAIN


def test_moss_stone_still_gives_every_name() -> None:
    """``moss.stone`` loads its names on first use: each of ``__all__`` must resolve."""
    import moss.stone

    for name in moss.stone.__all__:
        assert getattr(moss.stone, name) is not None, name
    with pytest.raises(AttributeError):
        moss.stone.no_such_name  # noqa: B018


def test_state_list_loads_no_dataclasses_typing_or_stone_format(root: Path) -> None:
    """``dataclasses`` alone costs a third of Python's start-up: ``state list`` reads
    its rows through moss.states.quicklist, which needs none of them (issue 27)."""
    modules, out = imported("-D", str(root), "state", "list")
    assert "install hello" in out
    assert loaded(modules, ("dataclasses", "typing", "inspect", "ctypes", "moss.stone",
                            "moss.db.state", "moss.db.databases", "moss.core.root")) == []


def test_list_available_loads_no_full_reader_or_writer(root: Path) -> None:
    """``list available`` reads the installed ids with the quick reader and the
    configuration without its writing code (issue 27: start-up is most of its time)."""
    modules, out = imported("-D", str(root), "list", "available")
    assert out.startswith("NAME")
    assert loaded(modules, ("moss.actions.query", "moss.db.databases", "moss.repo.index",
                            "moss.core.fs", "tempfile", "argparse")) == []
