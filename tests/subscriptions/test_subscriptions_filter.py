"""Subscriptions that keep or drop paths, driven through the CLI as a user would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moss.cli import main
from moss.core.errors import MossError
from moss.subscriptions.config import Definition, parse_definitions
from moss.subscriptions.filter import PathRules
from tests.support.packages import make_package

DOCS = """\
name: docs
description: Documentation in /usr/share/doc
default: true
keep: [share/doc]
"""
LOCALES = """\
- name: slim-locales
  description: No translations but the ones kept elsewhere
  drop: [/usr/share/locale]
- name: german
  description: German translations
  keep: [share/locale/de, share/locale/de_*]
"""
HELLO = {
    "bin/hello": "#!/bin/sh\necho hello\n",
    "share/doc/hello/README": "read me " * 1000,
    "share/doc/hello/NEWS": "news\n",
    "share/locale/de/LC_MESSAGES/hello.mo": "hallo",
    "share/locale/de_AT/LC_MESSAGES/hello.mo": "servus",
    "share/locale/fr/LC_MESSAGES/hello.mo": "bonjour",
}


def moss(root: Path, *args: str) -> int:
    return main(["-D", str(root), "-y", "--quiet", *args])


def moss_json(capsys: pytest.CaptureFixture[str], root: Path, *args: str) -> object:
    capsys.readouterr()
    assert moss(root, *args) == 0
    return json.loads(capsys.readouterr().out)


def test_rules_keep_beats_drop_and_globs_stop_at_slashes() -> None:
    defs = [*parse_definitions(DOCS, "docs.yaml"), *parse_definitions(LOCALES, "l.yaml")]
    rules = PathRules(defs, ["docs", "slim-locales", "german"])
    assert not rules.dropped("share/locale/de/LC_MESSAGES/hello.mo")
    assert not rules.dropped("share/locale/de_AT/LC_MESSAGES/hello.mo")
    assert rules.dropped("share/locale/fr/LC_MESSAGES/hello.mo")
    assert not rules.dropped("share/doc/hello/README")
    off = PathRules(defs, ["slim-locales"])
    assert off.dropped("share/doc/hello/README") and off.dropped("share/locale/de")
    assert not off.dropped("share/docs-elsewhere")  # a pattern covers paths below it only
    star = PathRules([Definition("x", drop=("share/*/README",))], ["x"])
    assert star.dropped("share/hello/README") and not star.dropped("share/a/b/README")
    both = PathRules([Definition("x", drop=("share/**/README",))], ["x"])
    assert both.dropped("share/a/b/README")


def test_bad_definitions_are_refused_with_the_file_named() -> None:
    with pytest.raises(MossError, match=r"bad\.yaml: unknown key"):
        parse_definitions("name: x\nkeeps: [a]\n", "bad.yaml")
    with pytest.raises(MossError, match=r"bad\.yaml: subscription name"):
        parse_definitions("name: Not A Name\n", "bad.yaml")
    with pytest.raises(MossError, match="built into moss"):
        parse_definitions("name: hardware\n", "bad.yaml")


@pytest.fixture
def installed(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    subs = make_package(tmp_path, "distro-subscriptions", {
        "share/moss/subscriptions.d/docs.yaml": DOCS,
        "share/moss/subscriptions.d/locales.yaml": LOCALES,
    })
    hello = make_package(tmp_path, "hello", HELLO)
    assert moss(root, "install", str(subs), str(hello)) == 0
    return root


def test_list_shows_what_exists_what_is_on_and_what_it_saves(
        installed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    listing = moss_json(capsys, installed, "subscription", "list", "--json")
    assert isinstance(listing, list)
    by_name = {s["name"]: s for s in listing}
    assert set(by_name) == {"docs", "german", "hardware", "slim-locales",
                            "locales", "devel", "dbginfo", "32bit"}
    assert by_name["docs"]["active"] and by_name["docs"]["default"]
    assert by_name["docs"]["source"] == "/usr/share/moss/subscriptions.d/docs.yaml"
    # Turning docs off would save its two files.  german is off, and what an inactive
    # subscription keeps is left out: its two translations are not there now, so
    # adding it costs them, and slim-locales would only save the French one.
    assert by_name["docs"]["toggle"] == {"action": "remove", "saves_files": 2,
                                         "saves_bytes": 8005, "packages": []}
    assert by_name["german"]["toggle"] == {"action": "add", "saves_files": -2,
                                           "saves_bytes": -11, "packages": []}
    assert by_name["slim-locales"]["toggle"]["saves_files"] == 1
    assert not by_name["hardware"]["active"]
    assert by_name["hardware"]["toggle"]["saves_files"] == 0  # no kernel installed


def test_remove_and_add_build_states_verify_knows_and_rollback_works(
        installed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    usr = installed / "usr"
    assert moss(installed, "subscription", "remove", "docs") == 0
    assert (usr / ".stateID").read_text() == "2"
    assert not (usr / "share/doc").exists()
    assert (usr / "bin/hello").exists()
    assert "disabled:\n- docs" in (installed / "etc/moss/subscriptions.yaml").read_text()
    info = moss_json(capsys, installed, "info", "hello", "--files", "--json")
    assert isinstance(info, dict)
    # german is off from the start, so its translations were never there.
    assert sorted(info["filtered"]) == ["/usr/share/doc/hello/NEWS",
                                        "/usr/share/doc/hello/README",
                                        "/usr/share/locale/de/LC_MESSAGES/hello.mo",
                                        "/usr/share/locale/de_AT/LC_MESSAGES/hello.mo"]
    assert "/usr/share/doc/hello/README" in info["files"]
    capsys.readouterr()
    assert moss(installed, "info", "hello", "--files") == 0
    assert "/usr/share/doc/hello/NEWS  [dropped by subscriptions]" in capsys.readouterr().out

    assert moss(installed, "subscription", "add", "slim-locales", "german") == 0
    assert sorted(p.name for p in (usr / "share/locale").iterdir()) == ["de", "de_AT"]

    report = moss_json(capsys, installed, "state", "verify", "--json")
    assert isinstance(report, dict)
    assert report["problems"] == []
    # An older state keeps its own record: state 1 had docs and French, not German.
    assert moss(installed, "state", "activate", "1") == 0
    assert (usr / "share/doc/hello/README").exists()
    assert (usr / "share/locale/fr").is_dir()
    assert not (usr / "share/locale/de").exists()
    report = moss_json(capsys, installed, "state", "verify", "--json")
    assert isinstance(report, dict)
    assert report["problems"] == []

    # Turning docs back on needs no package: the layout database has every entry.
    (installed / ".moss/cache").rename(installed / ".moss/cache-gone")
    assert moss(installed, "subscription", "add", "docs") == 0
    assert (usr / "share/doc/hello/README").read_text().startswith("read me")
    assert not (usr / "share/locale/fr").exists()


def test_unknown_name_is_refused_and_changes_nothing(installed: Path,
                                                     capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    capsys.readouterr()
    assert moss(installed, "subscription", "add", "nonesuch") == 1
    assert "no subscription named nonesuch" in capsys.readouterr().err
    assert (installed / "usr/.stateID").read_text() == "1"
    assert not (installed / "etc/moss/subscriptions.yaml").exists()


def test_every_transaction_applies_the_choices(installed: Path, tmp_path: Path) -> None:
    assert moss(installed, "subscription", "remove", "docs") == 0
    other = make_package(tmp_path, "other", {"share/doc/other/README": "x",
                                             "bin/other": "#!/bin/sh\n"})
    assert moss(installed, "install", str(other)) == 0
    assert (installed / "usr/bin/other").exists()
    assert not (installed / "usr/share/doc").exists()


def test_dry_run_says_what_it_would_save_and_changes_nothing(
        installed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert moss(installed, "subscription", "remove", "docs", "--dry-run") == 0
    assert "saves 7.8 KiB (2 files)" in capsys.readouterr().out
    assert (installed / "usr/.stateID").read_text() == "1"
    assert not (installed / "etc/moss/subscriptions.yaml").exists()


def test_nothing_installed_is_refused_without_creating_anything(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "empty"
    capsys.readouterr()
    assert moss(root, "subscription", "add", "hardware") == 1
    assert "nothing is installed" in capsys.readouterr().err
    assert not root.exists()
