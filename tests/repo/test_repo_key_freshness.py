"""Issue 23, rule 5: a repository's freshness belongs to its signing key, and no download
follows a redirect to another server.

Indexes are signed with the real ``minisign`` and served over real HTTP on loopback;
the configuration changes an attacker can count on (``repo remove`` + ``repo add`` to
change a priority, another spelling of the same URI) are generated.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moss.cli import main
from moss.states import operations
from tests.repo.test_repo_freshness import release
from tests.repo.test_repo_httpserver import Behaviour, Site, serve_site, site
from tests.repo.test_repo_signature import make_key, needs_minisign

__all__ = ["site"]

OLD, NEW = "timestamp:1700000000\tfile:stone.index", "timestamp:1800000000\tfile:stone.index"


def moss(root: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    status = main(["-D", str(root), "-y", "--quiet", *args])
    return status, capsys.readouterr().err


def spellings(site: Site) -> st.SearchStrategy[str]:
    """The same index, written other ways (a real server resolves dot segments)."""
    port = site.base.rsplit(":", 1)[1]
    return st.sampled_from([
        site.url("/repo/stone.index"),
        site.url("/repo/./stone.index"),
        site.url("/./repo/stone.index"),
        site.url("/repo/../repo/stone.index"),
        site.url("/other/../repo/./stone.index"),
        f"http://localhost:{port}/repo/stone.index",
    ])


@needs_minisign
def test_an_older_index_is_refused_whatever_the_entry_that_names_it(
        tmp_path: Path, site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    pub, sec = make_key(tmp_path)
    root = tmp_path / "root"
    old = release(tmp_path, site, sec, 1, OLD)
    release(tmp_path, site, sec, 2, NEW)
    new = {k: site.files[k] for k in old}
    assert moss(root, capsys, "repo", "add", "main", site.url("/repo/stone.index"),
                "--key", str(pub))[0] == 0
    assert moss(root, capsys, "repo", "update")[0] == 0
    assert moss(root, capsys, "install", "hello")[0] == 0
    assert (root / "usr/bin/hello").read_text() == "hello 2\n"
    states = [s.id for s in operations.list_states(root)]

    @settings(max_examples=5, deadline=None)
    @given(name=st.sampled_from(["main", "other", "main2"]), uri=spellings(site),
           priority=st.integers(0, 1000), removed=st.booleans())
    def replay(name: str, uri: str, priority: int, removed: bool) -> None:
        site.files.update(new)
        for listed in ("main", "other", "main2"):
            moss(root, capsys, "repo", "remove", listed)
        assert moss(root, capsys, "repo", "add", name, uri, "-p", str(priority),
                    "--key", str(pub))[0] == 0
        if not removed:
            assert moss(root, capsys, "repo", "update")[0] == 0
        # The attacker serves the old index, validly signed.
        site.files.update(old)
        status, err = moss(root, capsys, "repo", "update")
        assert status == 1 and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1 and "older than the one in use" in err
        capsys.readouterr()
        assert main(["-D", str(root), "list", "available"]) == 0
        offered = [line.split() for line in capsys.readouterr().out.splitlines()]
        assert not [line for line in offered if "hello" in line and "1.0-1" in line]
        if not removed:
            assert moss(root, capsys, "sync")[0] == 0
        assert (root / "usr/bin/hello").read_text() == "hello 2\n"
        assert [s.id for s in operations.list_states(root)] == states

    replay()

    # The rollback the user asks for still happens, and then it is the key's newest.
    site.files.update(old)
    assert moss(root, capsys, "repo", "update", "--allow-older")[0] == 0
    assert moss(root, capsys, "sync")[0] == 0
    assert (root / "usr/bin/hello").read_text() == "hello 1\n"


@needs_minisign
def test_another_key_has_its_own_time_line(
        tmp_path: Path, site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    """The record is the key's: a repository signed by another key is not held to it."""
    pub, sec = make_key(tmp_path)
    pub2, sec2 = make_key(tmp_path, "second")
    root = tmp_path / "root"
    release(tmp_path, site, sec, 2, NEW)
    assert moss(root, capsys, "repo", "add", "main", site.url("/repo/stone.index"),
                "--key", str(pub))[0] == 0
    assert moss(root, capsys, "repo", "update")[0] == 0
    assert moss(root, capsys, "repo", "remove", "main")[0] == 0
    release(tmp_path, site, sec2, 1, OLD)
    assert moss(root, capsys, "repo", "add", "main", site.url("/repo/stone.index"),
                "--key", str(pub2))[0] == 0
    assert moss(root, capsys, "repo", "update") == (0, "")


def _served_index(tmp_path: Path, site: Site) -> Path:
    """An unsigned repository of the usual packages, served from ``site``."""
    from tests.actions.test_install_from_repo import publish

    _pub, sec = make_key(tmp_path)
    return publish(tmp_path, site, sec)


@needs_minisign
def test_redirects_to_another_server_are_refused_for_indexes_and_packages(
        tmp_path: Path, site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    _served_index(tmp_path, site)
    good = dict(site.files)
    root = tmp_path / "root"
    port = int(site.base.rsplit(":", 1)[1])
    with serve_site() as elsewhere:
        elsewhere.files.update(good)
        other_port = elsewhere.base.rsplit(":", 1)[1]

        @settings(max_examples=8, deadline=None)
        @given(what=st.sampled_from(["/repo/stone.index", "/repo/pool/hello-1.0-1.stone"]),
               where=st.sampled_from([elsewhere.base, f"http://localhost:{port}",
                                      f"https://127.0.0.1:{port}",
                                      f"http://127.0.0.1:{other_port}"]))
        def redirected(what: str, where: str) -> None:
            site.behaviour.clear()
            moss(root, capsys, "repo", "remove", "main")
            assert moss(root, capsys, "repo", "add", "main", site.url("/repo/stone.index"))[0] == 0
            if what.endswith(".stone"):
                assert moss(root, capsys, "repo", "update")[0] == 0
            site.behaviour[what] = Behaviour(redirect=where + what)
            status, err = moss(root, capsys, "install" if what.endswith(".stone") else
                               "repo", *(["hello"] if what.endswith(".stone") else ["update"]))
            assert status == 1 and "Traceback" not in err
            assert len(err.strip().splitlines()) == 1 and "redirects to" in err
            assert not (root / "usr/bin/hello").exists()

        redirected()
        assert not [r for r in elsewhere.requests if r[0].endswith((".index", ".stone"))]

    # A redirect on the same server is still followed.
    site.behaviour.clear()
    site.files["/moved/stone.index"] = site.files["/repo/stone.index"]
    site.behaviour["/old/stone.index"] = Behaviour(redirect="/moved/stone.index")
    moss(root, capsys, "repo", "remove", "main")
    assert moss(root, capsys, "repo", "add", "main", site.url("/old/stone.index"))[0] == 0
    assert moss(root, capsys, "repo", "update") == (0, "")
