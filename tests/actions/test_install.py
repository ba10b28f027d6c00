"""Installing, upgrading, removing and rolling back, as a user does it through the CLI."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from moss.cli import main
from moss.core.root import Root
from moss.states import operations
from moss.stonetools.index import build_index
from tests.support.packages import Link, make_package, tree_snapshot

HELLO_1 = {
    "bin/hello": "#!/bin/sh\necho hello\n",
    "bin/hi": Link("hello"),
    "share/doc/hello/README": "version one\n",
    "share/doc/hello/empty": b"",
    "share/hello/empty-dir": None,
}
HELLO_2 = {**HELLO_1, "share/doc/hello/README": "version two\n"}


def moss(root: Path, *args: str) -> int:
    return main(["-D", str(root), "-y", "--quiet", *args])


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "root"


def test_install_builds_usr_of_links_and_skeleton(tmp_path: Path, root: Path) -> None:
    pkg = make_package(tmp_path, "hello", HELLO_1)
    assert moss(root, "install", str(pkg)) == 0
    usr = root / "usr"
    assert (usr / ".stateID").read_text() == "1"
    assert (usr / "bin/hello").read_text() == "#!/bin/sh\necho hello\n"
    assert os.access(usr / "bin/hello", os.X_OK)
    assert os.readlink(usr / "bin/hi") == "hello"
    assert (usr / "share/doc/hello/empty").stat().st_size == 0
    assert (usr / "share/hello/empty-dir").is_dir()
    # Regular files are hard links into the store; empty files are fresh inodes.
    assert (usr / "bin/hello").stat().st_nlink == 2
    assert (usr / "share/doc/hello/empty").stat().st_nlink == 1
    for name, target in {"bin": "usr/bin", "sbin": "usr/sbin", "lib": "usr/lib",
                         "lib64": "usr/lib", "lib32": "usr/lib32"}.items():
        assert os.readlink(root / name) == target
    assert (root / "tmp").stat().st_mode & 0o7777 == 0o1777
    for name in ("etc", "var", "run"):
        assert (root / name).is_dir()
    # The store layout real moss uses, with the package cached by its sha256.
    assets = [p for p in (root / ".moss/assets/v2").rglob("*") if p.is_file()]
    assert assets and all(len(p.relative_to(root / ".moss/assets/v2").parts) == 4
                          or len(p.name) < 10 for p in assets)
    assert list((root / ".moss/cache/downloads/v1").rglob("*"))


def test_upgrade_keeps_old_state_and_rollback_restores_it(tmp_path: Path, root: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    assert moss(root, "install", str(make_package(tmp_path, "hello", HELLO_1))) == 0
    first = tree_snapshot(root / "usr")
    assert moss(root, "install", str(make_package(tmp_path, "hello", HELLO_2, release=2))) == 0
    assert (root / "usr/share/doc/hello/README").read_text() == "version two\n"
    assert (root / ".moss/root/1/usr/.stateID").read_text() == "1"
    assert moss(root, "state", "activate", "--dry-run", "1") == 0
    assert (root / "usr/.stateID").read_text() == "2"
    assert moss(root, "state", "activate", "1") == 0
    assert tree_snapshot(root / "usr") == first
    assert (root / ".moss/root/2/usr/.stateID").read_text() == "2"
    capsys.readouterr()
    assert moss(root, "state", "active") == 0
    assert capsys.readouterr().out.strip() == "1"
    infos = operations.list_states(root)
    assert [(s.id, s.active) for s in infos] == [(1, True), (2, False)]


def test_remove_makes_a_state_without_the_package(tmp_path: Path, root: Path) -> None:
    assert moss(root, "install", str(make_package(tmp_path, "hello", HELLO_1)),
                str(make_package(tmp_path, "other", {"bin/other": "x"}))) == 0
    assert moss(root, "remove", "hello") == 0
    assert not (root / "usr/bin/hello").exists()
    assert (root / "usr/bin/other").read_text() == "x"
    assert (root / "usr/.stateID").read_text() == "2"
    assert moss(root, "remove", "not-installed") == 1


def test_dry_run_changes_nothing(tmp_path: Path, root: Path) -> None:
    pkg = make_package(tmp_path, "hello", HELLO_1)
    assert moss(root, "install", "--dry-run", str(pkg)) == 0
    assert not (root / "usr/bin/hello").exists()
    assert operations.list_states(root) == []


def test_two_packages_owning_one_path_fail_naming_both(
        tmp_path: Path, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = make_package(tmp_path, "alpha", {"bin/tool": "a"})
    b = make_package(tmp_path, "beta", {"bin/tool": "b"})
    assert moss(root, "install", str(a), str(b)) == 1
    err = capsys.readouterr().err
    assert "alpha" in err and "beta" in err and "bin/tool" in err
    assert not (root / "usr/bin").exists()
    assert operations.list_states(root) == []


def test_declared_conflicts_fail_naming_both(tmp_path: Path, root: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    a = make_package(tmp_path, "alpha", {"bin/a": "a"}, conflicts=("beta",))
    b = make_package(tmp_path, "beta", {"bin/b": "b"})
    assert moss(root, "install", str(b)) == 0
    assert moss(root, "install", str(a)) == 1
    err = capsys.readouterr().err
    assert "alpha" in err and "beta" in err
    assert (root / "usr/.stateID").read_text() == "1"
    assert not (root / "usr/bin/a").exists()


def test_symlink_planted_by_another_package_is_refused(
        tmp_path: Path, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A package ships `lib/evil -> /etc`; another writes `lib/evil/passwd` through it."""
    outside = tmp_path / "outside"
    outside.mkdir()
    planter = make_package(tmp_path, "planter", {"lib/evil": Link(str(outside))})
    writer = make_package(tmp_path, "writer", {"lib/evil/passwd": "owned"})
    assert moss(root, "install", str(planter)) == 0
    assert moss(root, "install", str(writer)) == 1
    err = capsys.readouterr().err
    assert "planter" in err and "writer" in err and "symlink" in err
    assert list(outside.iterdir()) == []
    assert (root / "usr/.stateID").read_text() == "1"


def test_symlink_planted_by_the_same_package_is_refused(tmp_path: Path, root: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    pkg = make_package(tmp_path, "sneaky", {"share/x": Link("../../outside")})
    # The tree packer cannot express a file below a symlink, so craft the layout.
    from moss.stone import FileKind, LayoutEntry, open_stone, write_stone, xxh3_128

    with open_stone(pkg) as reader:
        meta, layout = reader.package_meta(), reader.layout()
    data = b"owned"
    layout.append(LayoutEntry(0, 0, 0o100644, 0, FileKind.REGULAR,
                              xxh3_128(data).to_bytes(16, "big"), "share/x/escape"))
    write_stone(pkg, meta, layout, {xxh3_128(data): data})
    assert moss(root, "install", str(pkg)) == 1
    assert list(outside.iterdir()) == []
    assert not (root / "usr").exists() or not any((root / "usr").iterdir())


def test_store_poisoning_is_refused(tmp_path: Path, root: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A blob whose XXH3 key is stored with a different BLAKE3 (e.g. from another repo)."""
    shared = "#!/bin/sh\necho shared\n"
    assert moss(root, "install", str(make_package(tmp_path, "one", {"bin/one": shared}))) == 0
    with sqlite3.connect(root / ".moss/db/extras") as conn:  # BLAKE3s: this moss's extras
        conn.execute("UPDATE assets SET blake3 = ?", ("0" * 64,))
    assert moss(root, "install", str(make_package(tmp_path, "two", {"bin/two": shared}))) == 1
    assert "poisoning" in capsys.readouterr().err
    assert not (root / "usr/bin/two").exists()


def test_lock_no_wait_fails_clearly(tmp_path: Path, root: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    from moss.core import fs

    pkg = make_package(tmp_path, "hello", HELLO_1)
    root.mkdir()
    with fs.locked(Root(root).lockfile):
        assert moss(root, "install", "--no-wait", str(pkg)) == 1
    assert "another moss" in capsys.readouterr().err
    assert moss(root, "install", "--no-wait", str(pkg)) == 0


def test_prune_keeps_n_counting_the_active_one_and_collects_garbage(tmp_path: Path,
                                                                    root: Path) -> None:
    """As real moss: --keep N counts the active state and never takes states newer
    than it; --include-newer lets those go too."""
    for release in range(1, 5):
        pkg = make_package(tmp_path, "hello",
                           {**HELLO_1, "share/doc/hello/README": f"release {release}\n"},
                           release=release)
        assert moss(root, "install", str(pkg)) == 0
    assert moss(root, "state", "activate", "2") == 0
    assert moss(root, "state", "prune", "--keep", "1") == 0
    assert sorted(s.id for s in operations.list_states(root)) == [2, 3, 4]
    assert sorted(p.name for p in (root / ".moss/root").iterdir()) == ["3", "4"]
    assert moss(root, "state", "prune", "--keep", "2", "--include-newer") == 0
    assert sorted(s.id for s in operations.list_states(root)) == [2, 4]
    assert sorted(p.name for p in (root / ".moss/root").iterdir()) == ["4"]
    readmes = {p.read_bytes() for p in (root / ".moss/assets/v2").rglob("*") if p.is_file()}
    assert b"release 1\n" not in readmes and b"release 3\n" not in readmes
    assert b"release 2\n" in readmes and b"release 4\n" in readmes
    cached = [p for p in (root / ".moss/cache/downloads/v1").rglob("*") if p.is_file()]
    assert len(cached) == 2
    assert moss(root, "state", "prune", "--keep", "0") == 1  # real moss: 1 or more
    assert moss(root, "state", "verify") == 0


def test_state_remove_refuses_the_active_state(tmp_path: Path, root: Path) -> None:
    assert moss(root, "install", str(make_package(tmp_path, "hello", HELLO_1))) == 0
    assert moss(root, "install", str(make_package(tmp_path, "hello", HELLO_2, release=2))) == 0
    assert moss(root, "state", "remove", "2") == 1
    assert moss(root, "state", "remove", "1") == 0
    assert [s.id for s in operations.list_states(root)] == [2]
    assert moss(root, "state", "activate", "1") == 1


def test_verify_finds_and_repairs_damage(tmp_path: Path, root: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert moss(root, "install", str(make_package(tmp_path, "hello", HELLO_1))) == 0
    hello = root / "usr/bin/hello"
    with open(hello, "r+b") as f:  # damages the shared inode: the store blob too
        f.write(b"XX")
    (root / "usr/share/doc/hello/README").unlink()
    os.unlink(root / "usr/bin/hi")
    os.symlink("elsewhere", root / "usr/bin/hi")
    assert moss(root, "state", "verify") == 1
    out = capsys.readouterr().out
    assert "BLAKE3" in out and "README: missing" in out and "points elsewhere" in out
    assert moss(root, "state", "verify", "--repair") == 0
    assert hello.read_text() == "#!/bin/sh\necho hello\n"
    assert (root / "usr/share/doc/hello/README").read_text() == "version one\n"
    assert os.readlink(root / "usr/bin/hi") == "hello"
    capsys.readouterr()
    assert moss(root, "state", "verify") == 0


def test_old_layout_with_usr_symlink_is_read_and_converted(tmp_path: Path, root: Path) -> None:
    assert moss(root, "install", str(make_package(tmp_path, "hello", HELLO_1))) == 0
    assert moss(root, "install", str(make_package(tmp_path, "hello", HELLO_2, release=2))) == 0
    # Make it look like an old moss system: /usr -> .moss/root/2/usr
    (root / ".moss/root/2").mkdir()
    os.rename(root / "usr", root / ".moss/root/2/usr")
    os.symlink(".moss/root/2/usr", root / "usr")
    assert operations.active_state(root) == 2
    assert moss(root, "state", "activate", "1") == 0
    assert not (root / "usr").is_symlink()
    assert (root / "usr/.stateID").read_text() == "1"
    assert (root / ".moss/root/2/usr/.stateID").read_text() == "2"
    assert moss(root, "state", "verify") == 0


def test_transaction_on_old_layout_converts_it(tmp_path: Path, root: Path) -> None:
    assert moss(root, "install", str(make_package(tmp_path, "hello", HELLO_1))) == 0
    (root / ".moss/root/1").mkdir()
    os.rename(root / "usr", root / ".moss/root/1/usr")
    os.symlink(".moss/root/1/usr", root / "usr")
    assert moss(root, "install", str(make_package(tmp_path, "hello", HELLO_2, release=2))) == 0
    assert not (root / "usr").is_symlink()
    assert (root / "usr/.stateID").read_text() == "2"
    assert (root / ".moss/root/1/usr/.stateID").read_text() == "1"
    assert moss(root, "state", "activate", "1") == 0
    assert (root / "usr/share/doc/hello/README").read_text() == "version one\n"
    assert moss(root, "state", "verify") == 0


def test_real_packages_install_and_conflict(stone_testdata: Path, root: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    bash_completion = stone_testdata / "bash-completion-2.11-1-1-x86_64.stone"
    assert moss(root, "install", str(bash_completion)) == 0
    assert (root / "usr/share/bash-completion/bash_completion").is_file()
    assert moss(root, "state", "verify") == 0
    pizza = stone_testdata / "italian-pizza-1-1-1-x86_64.stone"
    pineapple = stone_testdata / "pineapple-1-1-1-x86_64.stone"
    capsys.readouterr()
    assert moss(root, "install", str(pizza), str(pineapple)) == 1
    err = capsys.readouterr().err
    assert "italian-pizza" in err and "pineapple" in err
    assert (root / "usr/.stateID").read_text() == "1"
    assert moss(root, "install", str(pineapple)) == 0


def test_queries_on_a_directory_without_moss_create_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "not-a-root"
    empty.mkdir()
    # Real moss says the root is invalid (issue 25): a misspelt -D is no empty system.
    for args in (["state", "list"], ["list", "installed"], ["search-file", "bin"],
                 ["info", "hello"], ["boot", "status"], ["state", "activate", "3"]):
        assert moss(empty, *args) == 1
        assert "invalid root" in capsys.readouterr().err
    assert list(empty.iterdir()) == []


def test_a_usr_moss_did_not_build_is_never_taken_over(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Like running moss without -D on another distribution: refuse, change nothing."""
    foreign = tmp_path / "foreign"
    (foreign / "usr/bin").mkdir(parents=True)
    (foreign / "usr/bin/ls").write_text("the host's ls")
    os.symlink("usr/lib64", foreign / "lib64")
    pkg = make_package(tmp_path, "hello", HELLO_1)
    assert moss(foreign, "install", str(pkg)) == 1
    assert "did not build" in capsys.readouterr().err
    assert sorted(p.name for p in foreign.iterdir()) == ["lib64", "usr"]
    # Not even after another command made .moss/ there.
    build_index(tmp_path)
    assert moss(foreign, "repo", "add", "local", (tmp_path / "stone.index").as_uri()) == 0
    assert moss(foreign, "install", str(pkg)) == 1
    assert os.readlink(foreign / "lib64") == "usr/lib64"
    assert (foreign / "usr/bin/ls").read_text() == "the host's ls"
    assert moss(foreign, "state", "activate", "1") == 1


def test_same_content_with_another_mode_is_copied_not_linked(tmp_path: Path, root: Path) -> None:
    """One store inode serves one mode: linking it under another would change both files."""
    same = "#!/bin/sh\necho same\n"
    plain = make_package(tmp_path, "plain", {"share/plain/script": same})
    runnable = make_package(tmp_path, "runnable", {"bin/script": same})
    assert moss(root, "install", str(plain)) == 0
    assert moss(root, "install", str(runnable)) == 0
    shared = root / "usr/share/plain/script"
    executable = root / "usr/bin/script"
    assert shared.stat().st_mode & 0o777 == 0o644 and shared.stat().st_nlink > 1
    assert executable.stat().st_mode & 0o777 == 0o755 and executable.stat().st_nlink == 1
    assert executable.read_text() == same
    assert moss(root, "state", "verify") == 0


def test_layout_database_of_an_older_moss_is_migrated(tmp_path: Path, root: Path) -> None:
    """Blobs recorded before their mode was (an older moss's, or real moss's, which
    records none): the blit looks at them instead."""
    assert moss(root, "install", str(make_package(tmp_path, "hello", HELLO_1))) == 0
    with sqlite3.connect(root / ".moss/db/extras") as conn:
        conn.execute("UPDATE assets SET mode = NULL, uid = NULL, gid = NULL")
    assert moss(root, "install", str(make_package(tmp_path, "hello", HELLO_2, release=2))) == 0
    assert (root / "usr/bin/hello").stat().st_nlink > 1
    assert moss(root, "state", "verify") == 0


def test_a_file_missing_from_the_package_is_refused_like_extract_refuses_it(
    tmp_path: Path, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The digest-in-index rule is the format's (moss.stone.targets), shared with extract."""
    from tests.stonetools.test_extract_bad import (
        GOOD_FILES,
        GOOD_LAYOUT,
        package_payloads,
        regular,
        stone,
    )

    assert moss(root, "install", str(make_package(tmp_path, "hello", HELLO_1))) == 0
    scratch = ".moss/assets/incoming"  # emptied scratch space, whoever runs next
    before = {k: v for k, v in tree_snapshot(root).items() if not k.startswith(scratch)}
    bad = tmp_path / "bad.stone"
    layout = [*GOOD_LAYOUT, regular("bin/ghost", b"not in the content")]
    bad.write_bytes(stone(package_payloads(layout, GOOD_FILES)))
    capsys.readouterr()
    assert moss(root, "install", str(bad)) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert f"{bad}: layout, record 2: 'bin/ghost'" in err
    assert "is not in the package's index" in err
    assert {k: v for k, v in tree_snapshot(root).items() if not k.startswith(scratch)} == before
