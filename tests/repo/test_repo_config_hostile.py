"""Issue 23, rules 3 and 9: nothing a package ships is read from outside its state, every
configuration parser is bounded, and a package with a bad configuration file can be removed.

A package ships ``usr/share/moss/repo.d/x.{yaml,kdl}`` (or a trigger, or the root has an
``/etc/moss/system-model.kdl``) that is a link to a host file, or nested thousands deep,
or random bytes.  Through the CLI: no traceback, the host file's content never printed,
commands that do not need the file still work (with a warning), and ``remove`` of the
package that ships it works.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moss.cli import main
from tests.support.packages import Link, make_package, tree_snapshot

SECRET = "host-secret-c0nf1g: [unclosed"


def moss(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "moss", "-D", str(root), "-y", "--quiet", *args],
                          capture_output=True, text=True, timeout=120)


def moss_here(root: Path, *args: str) -> tuple[int, str, str]:
    """The CLI in this process (for generated cases); an uncaught exception fails the test."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        status = main(["-D", str(root), "-y", "--quiet", *args])
    return status, out.getvalue(), err.getvalue()


def _secret(tmp_path: Path) -> Path:
    host = tmp_path / "host"
    host.mkdir(exist_ok=True)
    (host / "shadow").write_text(SECRET + "\n")
    return host / "shadow"


def _installed(tmp_path: Path, files: dict[str, str | bytes | Link]) -> Path:
    """A root with ``keep`` and ``evil`` installed; ``evil`` ships ``files`` under usr/."""
    root = tmp_path / "root"
    keep = make_package(tmp_path / "pkgs", "keep", {"bin/keep": "keep\n"})
    evil = make_package(tmp_path / "pkgs", "evil", {"bin/evil": "evil\n", **files})
    done = moss(root, "install", str(keep), str(evil))
    assert done.returncode == 0, done.stderr
    return root


def _assert_clean(done: subprocess.CompletedProcess[str] | tuple[int, str, str]) -> None:
    status, out, err = ((done.returncode, done.stdout, done.stderr)
                        if isinstance(done, subprocess.CompletedProcess) else done)
    assert "Traceback" not in err
    assert "host-secret" not in out + err
    assert status in (0, 1), err


@pytest.mark.parametrize("name", ["x.yaml", "x.kdl"])
def test_a_repo_file_linking_to_a_host_file_is_not_read_and_its_package_can_be_removed(
    tmp_path: Path, name: str,
) -> None:
    secret = _secret(tmp_path)
    root = _installed(tmp_path, {f"share/moss/repo.d/{name}": Link(str(secret))})
    host_before = tree_snapshot(secret.parent)

    for command in (("repo", "list"), ("list", "installed"), ("info", "keep")):
        done = moss(root, *command)
        _assert_clean(done)
        assert done.returncode == 0, done.stderr
    done = moss(root, "remove", "evil")
    _assert_clean(done)
    assert done.returncode == 0, done.stderr
    assert "evil" not in moss(root, "list", "installed").stdout
    assert tree_snapshot(secret.parent) == host_before


def _deep_yaml(depth: int) -> str:
    return "a: " + "[" * depth + "]" * depth + "\n"


def _deep_kdl(depth: int) -> str:
    return "a " + "{ b " * depth + "}" * depth + "\n"


@pytest.mark.parametrize("name,text", [
    ("x.yaml", _deep_yaml(5000)), ("x.kdl", _deep_kdl(5000)),
    ("x.yaml", "a: &a [*a]\n"),
    ("x.yaml", "a: &a [1,1,1,1,1,1,1,1,1,1]\n" + "".join(
        f"b{i}: &b{i} [" + ",".join([f"*{'a' if i == 0 else f'b{i - 1}'}"] * 10) + "]\n"
        for i in range(9))),
    ("x.yaml", "main: {uri: 'file:///x/stone.index', priority: " + "9" * 5000 + "}\n"),
    ("x.yaml", "main: {uri: 'file:///x/stone.index', priority: 18446744073709551616}\n"),
    ("x.yaml", "main: {uri: 'file:///x/stone.index', description: 2001-13-45}\n"),
])
def test_a_bad_repo_file_a_package_ships_is_a_warning_and_the_package_can_be_removed(
    tmp_path: Path, name: str, text: str,
) -> None:
    root = _installed(tmp_path, {f"share/moss/repo.d/{name}": text})

    listed = moss(root, "repo", "list")
    _assert_clean(listed)
    assert listed.returncode == 0 and "warning" in listed.stderr and name in listed.stderr
    done = moss(root, "remove", "evil")
    _assert_clean(done)
    assert done.returncode == 0, done.stderr
    assert "evil" not in moss(root, "list", "installed").stdout


@pytest.mark.parametrize("text", [_deep_kdl(5000), "repositories { " * 3000])
def test_a_deep_system_model_is_one_line(tmp_path: Path, text: str) -> None:
    root = _installed(tmp_path, {})
    (root / "etc/moss").mkdir(parents=True, exist_ok=True)
    (root / "etc/moss/system-model.kdl").write_text(text)

    done = moss(root, "repo", "list")
    _assert_clean(done)
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert "system-model.kdl" in done.stderr


def test_a_system_model_linking_to_a_host_file_is_not_read(tmp_path: Path) -> None:
    secret = _secret(tmp_path)
    root = _installed(tmp_path, {})
    (root / "etc/moss").mkdir(parents=True, exist_ok=True)
    (root / "etc/moss/system-model.kdl").symlink_to(secret)

    _assert_clean(moss(root, "repo", "list"))


def test_a_deep_trigger_is_one_line_and_nothing_is_installed(tmp_path: Path) -> None:
    root = _installed(tmp_path, {})
    bad = make_package(tmp_path / "pkgs", "trig", {
        "share/moss/triggers/tx.d/deep.yaml": _deep_yaml(5000)})
    before = tree_snapshot(root / "usr")

    done = moss(root, "install", str(bad))
    _assert_clean(done)
    assert done.returncode == 1 and "deep.yaml" in done.stderr
    assert tree_snapshot(root / "usr") == before


# --- generated: configuration files of random depth, size and bytes -----------------------

def _nested(kind: str, depth: int, width: int) -> str:
    if kind == "yaml":
        return "main: " + "{k: [" * depth + ", ".join(["1"] * width) + "]}" * depth + "\n"
    return "main " + "{ k " * depth + " ".join(["1"] * width) + " }" * depth + "\n"


_FILES = st.one_of(
    st.binary(max_size=400),
    st.builds(_nested, st.sampled_from(["yaml", "kdl"]), st.integers(0, 3000),
              st.integers(0, 50)).map(str.encode),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
)


@pytest.fixture(scope="module")
def shared_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _installed(tmp_path_factory.mktemp("hostile-config"), {})


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=_FILES, suffix=st.sampled_from([".yaml", ".kdl"]),
       where=st.sampled_from(["usr/share/moss/repo.d", "etc/moss/repo.d"]))
def test_no_repo_file_content_is_a_traceback(shared_root: Path, data: bytes, suffix: str,
                                             where: str) -> None:
    folder = shared_root / where
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"gen{suffix}"
    path.write_bytes(data)
    try:
        for command in (("repo", "list"), ("list", "available")):
            status, out, err = moss_here(shared_root, *command)
            _assert_clean((status, out, err))
            if where.startswith("usr"):  # a package's file never stops a command
                assert status == 0, err
            elif status:
                assert err.count("\n") == 1 and "gen" in err, err
    finally:
        path.unlink()


def test_a_deep_subscription_definition_is_one_line_and_nothing_is_installed(
    tmp_path: Path,
) -> None:
    root = _installed(tmp_path, {})
    bad = make_package(tmp_path / "pkgs", "subs", {
        "share/moss/subscriptions.d/deep.yaml": "- " * 5000 + "x\n"})
    before = tree_snapshot(root / "usr")

    done = moss(root, "install", str(bad))
    _assert_clean(done)
    assert done.returncode == 1 and "deep.yaml" in done.stderr
    assert tree_snapshot(root / "usr") == before


def test_subscription_choices_linking_to_a_host_file_are_not_read(tmp_path: Path) -> None:
    secret = _secret(tmp_path)
    root = _installed(tmp_path, {})
    (root / "etc/moss").mkdir(parents=True, exist_ok=True)
    (root / "etc/moss/subscriptions.yaml").symlink_to(secret)
    more = make_package(tmp_path / "pkgs", "more", {"bin/more": "more\n"})

    _assert_clean(moss(root, "install", str(more)))


_release = iter(range(1, 10_000))


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=_FILES, suffix=st.sampled_from([".yaml", ".kdl"]),
       scope=st.sampled_from(["tx.d", "sys.d"]))
def test_no_trigger_file_content_is_a_traceback_and_its_package_can_be_removed(
    shared_root: Path, tmp_path_factory: pytest.TempPathFactory, data: bytes, suffix: str,
    scope: str,
) -> None:
    before = tree_snapshot(shared_root / "usr")
    package = make_package(tmp_path_factory.mktemp("trig"), "trig", {
        f"share/moss/triggers/{scope}/gen{suffix}": data}, release=next(_release))

    status, out, err = moss_here(shared_root, "install", str(package))
    _assert_clean((status, out, err))
    if status == 1:
        assert err.count("\n") == 1, err
        assert tree_snapshot(shared_root / "usr") == before
    else:
        removed = moss_here(shared_root, "remove", "trig")
        _assert_clean(removed)
        assert removed[0] == 0, removed[2]


def test_repo_commands_never_write_through_a_link_out_of_the_root(tmp_path: Path) -> None:
    host = tmp_path / "host"
    host.mkdir()
    (host / "main.kdl").write_text('main {\n    uri "file:///x/stone.index"\n}\n')
    root = tmp_path / "root"
    (root / "etc/moss").mkdir(parents=True)
    (root / "etc/moss/repo.d").symlink_to(host)  # absolute: the host's folder
    before = tree_snapshot(host)

    for command in (("repo", "add", "other", "file:///y/stone.index"),
                    ("repo", "disable", "other"), ("repo", "remove", "other"),
                    ("repo", "remove", "main")):
        _assert_clean(moss(root, *command))
    assert tree_snapshot(host) == before


def test_a_binary_public_key_file_is_one_line(tmp_path: Path) -> None:
    key = tmp_path / "key.pub"
    key.write_bytes(bytes(range(256)) * 8)
    done = moss(tmp_path / "root", "repo", "add", "x", "file:///x/stone.index", "--key", str(key))

    _assert_clean(done)
    assert done.returncode == 1 and done.stderr.count("\n") == 1
