"""README's table "Real moss's command line, here", walked row by row through the CLI.

Each row's example runs as a user would type it, against a copy of a small root.
A "yes" or "differs" row must succeed and print what the expectations below say;
a "not yet" or "theirs" row must be refused as a usage error (status 2), so the
day it is done here the test fails until the README says so.  The table and the
expectations must name the same examples: a row cannot be added without a check.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from moss import __version__
from moss.stonetools.index import build_index
from tests.repo.test_repo_rootindex import root_index
from tests.support.packages import make_package

README = Path(__file__).resolve().parents[2] / "README.md"
ROW = re.compile(r"^\| `([^`]+)`[^|]* \| `(moss [^`]+)` \| ([^|]+) \|$")

# example -> what stdout must hold ("!x": must not hold x). Empty: success is enough.
EXPECT: dict[str, list[str]] = {
    "moss -D ROOT cache prune -y": ["No files to remove"],
    "moss state activate 1 --skip-triggers -y -D ROOT": ["State 1 is now active"],
    "moss state export -D ROOT": ["repositories {", "uri "],
    "moss sync --import ROOT/usr/lib/system-model.kdl -y -D ROOT": ["already in that state"],
    "moss repo add other BASE --root-index version=stream/unstable -D ROOT": [
        "added repository other", "moss-root-index.json", "other: 2 packages"],
    "moss -D ROOT list installed": ["hello", "zlib", "tool"],
    "moss list installed -D ROOT": ["hello", "zlib", "tool"],
    "moss -y -D ROOT remove tool": ["is now active"],
    "moss it PKG -y -D ROOT": ["install  extra", "is now active"],
    "moss remove tool -D ROOT -y": ["remove   tool", "is now active"],
    "moss -v -D ROOT state active": ["2"],
    "moss state active -D ROOT -v": ["2"],
    "moss -V": [f"moss {__version__}"],
    "moss li -D ROOT -V": [f"moss {__version__}", "hello"],
    "moss --cache OUT -D ROOT fetch zlib -o OUT": ["Fetched"],
    "moss fetch zlib -o OUT -D ROOT --cache OUT": ["Fetched"],
    "moss --log debug:json:log.json -D ROOT li": ["hello"],
    "moss li -D ROOT --log info": ["hello"],
    "moss --generate-manpages OUT/man": [],
    "moss --generate-completions OUT/comp": [],
    "moss -D ROOT boot status --esp OUT": ["active:   2"],
    "moss -D ROOT boot sync --esp OUT": ["Boot entries in"],
    "moss extract PKG": ["Extract:", "extra-1.0-1.x86_64", "!extra-1.0-1-1"],
    "moss extract PKG -o OUT": ["Extract:", "extra-1.0-1.x86_64", "!extra-1.0-1-1"],
    "moss fetch zlib -D ROOT": ["Fetched zlib-1.0-1.stone"],
    "moss fe zlib -o OUT -D ROOT": ["Fetched", "zlib-1.0-1.stone"],
    "moss fetch zlib --output-dir OUT -D ROOT": ["zlib-1.0-1.stone"],
    "moss index REPO": ["2 packages"],
    "moss ix REPO": ["2 packages"],
    "moss index REPO -o OUT": ["2 packages"],
    "moss info binary(hello) zlib -D ROOT": ["hello", "zlib", "binary(hello)"],
    "moss info hello -f -D ROOT": ["/usr/bin/hello"],
    "moss inspect PKG": ["Name", "extra", "/usr/bin/extra"],
    "moss inspect --check PKG": ["OK: Content", "Result: OK"],
    "moss inspect --check -q PKG": ["!Result"],
    "moss install hello -y -D ROOT": ["Nothing to do"],
    "moss install --dry-run PKG -D ROOT": ["Would", "extra"],
    "moss install hello --to OUT -y -D ROOT": ["install  hello", "install  zlib", "!tool",
                                               "no state recorded"],
    "moss sync --to OUT -y -D ROOT": ["install  hello", "install  tool", "no state recorded"],
    "moss li -D ROOT": ["hello", "zlib"],
    "moss list li -D ROOT": ["hello", "zlib"],
    "moss li -e -D ROOT": ["hello", "tool", "!zlib"],
    "moss list available -D ROOT": ["hello", "zlib", "main"],
    "moss la -D ROOT": ["hello", "zlib"],
    "moss list sync -D ROOT": ["NAME"],
    "moss ls -D ROOT": ["NAME"],
    "moss lu -D ROOT": ["NAME"],
    "moss list sync --upgrade-only -D ROOT": ["NAME"],
    "moss remove tool -y -D ROOT": ["remove   tool", "is now active"],
    "moss rm tool -y -D ROOT": ["remove   tool", "is now active"],
    "moss remove --dry-run hello -D ROOT": ["Would", "hello"],
    "moss repo add other URI -D ROOT": ["added repository other", "other: 2 packages"],
    "moss ar other URI -D ROOT": ["added repository other", "other: 2 packages"],
    "moss repo add other URI -c note -D ROOT": ["added repository other"],
    "moss repo add other URI -p 5 -D ROOT": ["priority 5", "other: 2 packages"],
    "moss repo list -D ROOT": ["main"],
    "moss lr -D ROOT": ["main"],
    "moss repo remove main -D ROOT": ["removed repository main"],
    "moss rr main -D ROOT": ["removed repository main"],
    "moss repo update -D ROOT": ["main: 2 packages"],
    "moss ur main -D ROOT": ["main: 2 packages"],
    "moss repo enable main -D ROOT": ["enabled repository main"],
    "moss er main -D ROOT": ["enabled repository main"],
    "moss repo disable main -D ROOT": ["disabled repository main"],
    "moss dr main -D ROOT": ["disabled repository main"],
    "moss search hel -D ROOT": ["hello", "!zlib"],
    "moss sr hel -D ROOT": ["hello", "!zlib"],
    "moss search -i zl -D ROOT": ["zlib", "!hello"],
    "moss search -p hello -D ROOT": ["hello", "!zlib"],
    "moss search -p=library libz.so.1(x86_64) -D ROOT": ["zlib", "!hello"],
    "moss search-file /usr/bin/hello -D ROOT": ["/usr/bin/hello from hello"],
    "moss sf bin/hello -D ROOT": ["/usr/bin/hello from hello"],
    "moss state active -D ROOT": ["2"],
    "moss state list -D ROOT": ["1", "2", "active"],
    "moss state activate 1 -y -D ROOT": ["State 1 is now active"],
    "moss state activate 1 --skip-boot -y -D ROOT": ["State 1 is now active"],
    "moss state query 2 -D ROOT": ["State #2", "tool", "hello"],
    "moss state prune -y -D ROOT": ["Removed states: none"],
    "moss state prune -k 1 -y -D ROOT": ["Removed states: 1"],
    "moss state prune --include-newer -k 1 -y -D ROOT": ["Removed states: 1"],
    "moss state remove 1 -y -D ROOT": ["Removed states: 1"],
    "moss state remove 1-1 -y -D ROOT": ["Removed states: 1"],
    "moss state verify -D ROOT": ["0 problems"],
    "moss state verify --verbose -D ROOT": ["0 problems"],
    "moss sync -y -D ROOT": ["Nothing to do"],
    "moss up -y -D ROOT": ["Nothing to do"],
    "moss sync -u -y -D ROOT": ["main: 2 packages", "Nothing to do"],
    "moss sync --dry-run -D ROOT": ["Nothing to do"],
    "moss version": [f"moss {__version__}"],
    "moss version --full": [f"moss {__version__}", "python"],
}


def table() -> list[tuple[str, str, str]]:
    """(real moss, example, answer) for every row of the README's table."""
    text = README.read_text(encoding="utf-8")
    section = text.split("### Real moss's command line, here", 1)[1].split("\n#", 1)[0]
    rows = [ROW.match(line) for line in section.splitlines()]
    return [(m[1], m[2], m[3].strip()) for m in rows if m]


ROWS = table()


def test_the_table_and_the_expectations_name_the_same_examples() -> None:
    supported = {example for _, example, answer in ROWS
                 if answer.startswith(("yes", "differs"))}
    assert len(ROWS) > 80
    assert supported == set(EXPECT)
    assert all(answer.split(":")[0] in ("yes", "differs", "not yet", "theirs")
               for _, _, answer in ROWS), ROWS


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """ROOT with two states, REPO with hello and zlib, PKG a local package, BASE a
    versioned repository (real moss's root index) whose stream/unstable is REPO's."""
    base = tmp_path_factory.mktemp("table")
    repo = base / "repo"
    repo.mkdir()
    make_package(repo, "hello", {"bin/hello": "hello\n"}, provides=("binary(hello)",),
                 depends=("zlib",))
    make_package(repo, "zlib", {"lib/libz.so.1": "z\n"},
                 provides=("soname(libz.so.1(x86_64))",))
    shutil.rmtree(repo / "tree-hello-1")
    shutil.rmtree(repo / "tree-zlib-1")
    root = base / "root"
    assert run(["moss", "index", str(repo)], base).returncode == 0
    uri = (repo / "stone.index").as_uri()
    base = base / "versioned"
    (base / "main").mkdir(parents=True)
    (base / "main/moss-root-index.json").write_bytes(root_index({"unstable": "1"}, {"1": "v0"}))
    build_index(repo, output=base / "main/history/1/x86_64")
    tool = make_package(base, "tool", {"bin/tool": "tool\n"})
    pkg = make_package(base, "extra", {"bin/extra": "extra\n"})
    for line in (f"moss -D {root} ar main {uri}", f"moss -D {root} ur",
                 f"moss -D {root} it -y hello", f"moss -D {root} it -y {tool}"):
        proc = run(line.split(), base)
        assert proc.returncode == 0, (line, proc.stderr)
    return {"ROOT": root, "REPO": repo, "PKG": pkg, "URI": Path(uri),
            "BASE": Path(base.as_uri() + "/")}


def run(words: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    assert words[0] == "moss"
    return subprocess.run([sys.executable, "-m", "moss", *words[1:]], cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False)


def substitute(example: str, places: dict[str, Path], out: Path) -> list[str]:
    words = []
    for word in example.split():
        head, slash, tail = word.partition("/")
        if head == "OUT":
            word = str(out) + slash + tail
        elif slash and head in places:
            word = str(places[head]) + slash + tail
        elif word in places:
            word = str(places[word]) if word not in ("URI", "BASE") else str(
                places[word]).replace("file:/", "file:///", 1) + "/" * (word == "BASE")
        words.append(word)
    return words


@pytest.mark.parametrize(("real", "example", "answer"), ROWS, ids=[r[1] for r in ROWS])
def test_row(real: str, example: str, answer: str, template: dict[str, Path],
             tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(template["ROOT"], root, symlinks=True)
    out = tmp_path / "out"
    out.mkdir()
    places = {**template, "ROOT": root}
    proc = run(substitute(example, places, out), out)
    if not answer.startswith(("yes", "differs")):
        assert proc.returncode == 2, (real, proc.stdout, proc.stderr)
        return
    assert proc.returncode == 0, (real, proc.stdout, proc.stderr)
    for want in EXPECT[example]:
        if want.startswith("!"):
            assert want[1:] not in proc.stdout, (real, proc.stdout)
        else:
            assert want in proc.stdout, (real, proc.stdout)
