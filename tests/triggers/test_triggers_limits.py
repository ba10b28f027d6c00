"""Issue 23, rule 8: no trigger costs more than linear time, nor more argv than the kernel runs.

The pattern matcher is checked against the regular expression moss used before (the
oracle: same syntax, same captures) on generated patterns and paths; the time and the
argument limits are checked through ``moss install`` of a package that ships the trigger.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from moss.core.errors import MossError
from moss.triggers.definition import MAX_HANDLER_ARGS, MAX_HANDLER_BYTES
from moss.triggers.pattern import compile_pattern
from tests.support.packages import make_package


def regex_of(text: str) -> str:
    """The old translation (a backtracking regex): the reference for small inputs."""
    out, i = [], 0
    while i < len(text):
        char = text[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append(".")
        elif char == "(":
            end = text.find(")", i)
            name, _, inner = text[i + 1 : end].partition(":")
            out.append(f"(?P<{name}>{regex_of(inner)})")
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


globs = st.text(alphabet="ab/*?.", max_size=7)


@st.composite
def patterns(draw: st.DrawFn) -> str:
    head, inner, tail = draw(globs), draw(globs), draw(globs)
    text = head
    if draw(st.booleans()):
        text += f"(v:{inner})"
    if draw(st.booleans()):
        text += f"{tail}(w:{draw(globs)})"
    return text + draw(globs)


@settings(max_examples=400, deadline=None)
@given(patterns(), st.text(alphabet="ab/.\n", max_size=10))
def test_matcher_agrees_with_the_regex_it_replaces(pattern: str, path: str) -> None:
    expected = re.fullmatch(regex_of(pattern), path)
    got = compile_pattern(pattern).match(path)
    assert got == (None if expected is None else expected.groupdict())


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 40), st.integers(1, 4000), st.booleans())
def test_match_time_grows_with_the_path_not_with_stars_times_length(
        stars: int, length: int, captured: bool) -> None:
    """14 stars and 60 characters took minutes with the regex; hundreds of stars against
    thousands of characters, matching or not, now take milliseconds."""
    body = "".join(f"(v{i}:*)" for i in range(stars)) if captured else "*" * stars
    for tail in ("x", "y"):
        pattern = compile_pattern(f"/usr/{body}x")
        started = time.monotonic()
        pattern.match("/usr/" + "a" * length + tail)
        assert time.monotonic() - started < 0.5


def test_duplicate_capture_names_are_refused() -> None:
    try:
        compile_pattern("/usr/(v:*)/(v:*)")
    except MossError as exc:
        assert "capture 'v' twice" in str(exc)
    else:
        raise AssertionError("a pattern capturing one name twice was accepted")


def trigger_package(workdir: Path, pattern: str, args: list[str], name: str = "hostile") -> Path:
    trigger = {
        "name": name, "description": "issue 23",
        "handlers": {"h": {"run": "/usr/bin/true", "args": args}},
        "paths": {pattern: {"handlers": ["h"]}},
    }
    return make_package(workdir, name, {
        f"share/moss/triggers/tx.d/{name}.yaml": yaml.safe_dump(trigger),
        "share/hostile/" + "a" * 60: "x",
    })


def moss(root: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "moss", "-D", str(root), "-y", "--quiet", *args],
                          capture_output=True, text=True, timeout=timeout)


def test_install_with_a_fourteen_star_pattern_finishes_at_once(tmp_path: Path) -> None:
    """The issue's case: the pattern matches nothing, so no trigger runs, but the old
    regex spent minutes (with the lock held) finding that out."""
    pkg = trigger_package(tmp_path, "/usr/share/hostile/" + "*" * 14 + "b", ["x"])
    started = time.monotonic()
    done = moss(tmp_path / "root", "install", str(pkg))
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 30
    assert (tmp_path / "root/usr/share/hostile/" / ("a" * 60)).is_file()


def _refused_with_one_line(done: subprocess.CompletedProcess[str], root: Path) -> str:
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr[:2000]
    assert len(lines[0]) < 4 * MAX_HANDLER_BYTES
    assert not (root / "usr/share/hostile").exists()
    return lines[0]


@settings(max_examples=4, deadline=None)
@given(st.sampled_from(["count", "bytes"]), st.integers(1, 3))
def test_a_handler_passing_too_many_or_too_long_arguments_is_refused_in_one_line(
        kind: str, factor: int) -> None:
    """200 000 arguments were an E2BIG traceback at 185 MB; past either bound, one line."""
    args = (["x"] * (MAX_HANDLER_ARGS * factor + 1) if kind == "count"
            else ["y" * (MAX_HANDLER_BYTES // 4)] * (4 * factor + 1))
    with TemporaryDirectory() as scratch:
        work = Path(scratch)
        pkg = trigger_package(work, "/usr/share/hostile/*", args)
        line = _refused_with_one_line(moss(work / "root", "install", str(pkg)), work / "root")
    assert "at most" in line and "hostile" in line


def test_a_capture_filled_in_past_the_bound_is_refused_before_it_is_built(tmp_path: Path) -> None:
    """A short argument naming a long capture thousands of times grows past any argv."""
    pkg = trigger_package(tmp_path, "/usr/share/hostile/(name:*)", ["$(name)" * 4000])
    root = tmp_path / "root"
    line = _refused_with_one_line(moss(root, "install", str(pkg)), root)
    assert "$(name)" in line and "at most" in line


@settings(max_examples=3, deadline=None)
@given(st.integers(2000, 20000), st.booleans())
def test_ordering_many_triggers_takes_linear_time(count: int, forwards: bool) -> None:
    """Each trigger waits for the one before (``after``, or ``before`` the next): the
    order used to rescan every trigger for each one placed, quadratic in their number."""
    from moss.triggers.collect import collect
    from moss.triggers.definition import parse_trigger

    def link(i: int) -> dict[str, str]:
        if forwards:
            return {"after": f"t{i - 1:05}"} if i else {}
        return {"before": f"t{i + 1:05}"} if i + 1 < count else {}

    triggers = [parse_trigger({
        "name": f"t{i:05}", **link(i),
        "handlers": {"h": {"run": "/usr/bin/true", "args": [str(i)]}},
        "paths": {"/usr/share/x": {"handlers": ["h"]}},
    }, f"t{i}") for i in reversed(range(count))]
    started = time.monotonic()
    commands = collect(triggers, [("/usr/share/x", "file")])
    assert time.monotonic() - started < 5
    assert [c.trigger for c in commands] == [f"t{i:05}" for i in range(count)]
