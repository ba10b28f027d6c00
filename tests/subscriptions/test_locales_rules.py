"""The locales rule over generated locale names and layouts, and bad input through the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moss.cli import main
from moss.core.errors import MossError
from moss.subscriptions.config import PROTECTED_PROBES, parse_definitions
from moss.subscriptions.filter import PathRules
from moss.subscriptions.languages import LANGUAGES
from moss.subscriptions.locales import (
    culled,
    parse_locale_conf,
    system_languages,
    translation_language,
)
from tests.support.packages import make_package

LANGS = sorted(LANGUAGES)
territories = st.one_of(st.just(""), st.from_regex(r"_[A-Z]{2}", fullmatch=True),
                        st.just("_419"))
codesets = st.sampled_from(["", ".UTF-8", ".utf8", ".ISO-8859-1"])
modifiers = st.sampled_from(["", "@euro", "@latin", "@valencia"])


@st.composite
def locale_names(draw: st.DrawFn) -> tuple[str, str]:
    """(locale name, its language), as glibc and packages spell them."""
    lang = draw(st.sampled_from(LANGS))
    return lang + draw(territories) + draw(codesets) + draw(modifiers), lang


# Where real packages keep a translation into locale ``{l}``.
DIR_LAYOUTS = ["share/locale/{l}/LC_MESSAGES/app.mo", "share/locale/{l}",
               "share/man/{l}/man1/app.1", "share/help/{l}/app/index.page",
               "share/gnome/help/app/{l}/index.docbook",
               "share/doc/kde/HTML/{l}/app/index.cache.bz2",
               "share/doc/HTML/{l}/app/index.docbook",
               "share/vim/vim90/lang/{l}/LC_MESSAGES/vim.mo"]
FILE_LAYOUTS = ["share/qt5/translations/qtbase_{l}.qm", "share/qt6/translations/qt_help_{l}.qm",
                "share/qt5/translations/assistant/assistant_{l}.qm"]
NOT_TRANSLATIONS = ["share/man/man1/ls.1", "share/man/man8", "share/locale/locale.alias",
                    "share/help/C/app/index.page", "share/X11/locale/de_DE.UTF-8/XLC_LOCALE",
                    "share/i18n/locales/de_DE", "lib/locale/de_DE.utf8/LC_CTYPE",
                    "share/doc/app/de/README", "bin/de", "share/locale/C.UTF-8/x.mo",
                    "share/qt5/translations", "share/zoneinfo/Europe/Berlin"]


@settings(max_examples=200, deadline=None)
@given(locale_names(), st.sampled_from(DIR_LAYOUTS), st.sampled_from(LANGS))
def test_a_translation_directory_stays_for_its_language_only(
        name: tuple[str, str], layout: str, other: str) -> None:
    locale, lang = name
    path = layout.format(l=locale)
    assert translation_language(path) == lang
    assert not culled(path, {lang}) and not culled(path, {lang, other})
    assert culled(path, {other}) == (other != lang)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(LANGS), territories, st.sampled_from(FILE_LAYOUTS))
def test_a_qt_catalogue_names_its_locale_last(lang: str, territory: str, layout: str) -> None:
    path = layout.format(l=lang + territory)
    assert translation_language(path) == lang


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(NOT_TRANSLATIONS), st.sets(st.sampled_from(LANGS), max_size=3))
def test_what_is_not_a_translation_always_stays(path: str, keep: set[str]) -> None:
    assert not culled(path, keep)


@st.composite
def locale_confs(draw: st.DrawFn) -> tuple[str, set[str]]:
    """A locale.conf in the shapes systemd and Debian write, and the languages it names."""
    lines, languages = [], set()
    for key in draw(st.lists(st.sampled_from(["LANG", "LC_MESSAGES", "LC_TIME", "LANGUAGE",
                                              "LC_ALL"]), max_size=4)):
        if draw(st.booleans()):
            value, lang = draw(locale_names())
            languages.add(lang)
        else:
            value = draw(st.sampled_from(["C", "POSIX", "C.UTF-8"]))
        if key == "LANGUAGE":
            extra, lang = draw(locale_names())
            value, languages = f"{value}:{extra}", languages | {lang}
        quote = draw(st.sampled_from(["", '"', "'"]))
        lines.append(draw(st.sampled_from(["", "export "])) + f"{key}={quote}{value}{quote}")
        if draw(st.booleans()):
            lines.append(draw(st.sampled_from(["", "# a comment", "  ", "OTHER=1"])))
    return "\n".join(lines) + "\n", languages


@settings(max_examples=100, deadline=None)
@given(locale_confs())
def test_locale_conf_names_its_languages(conf: tuple[str, set[str]]) -> None:
    text, languages = conf
    assert parse_locale_conf(text, "/etc/locale.conf") == languages


@pytest.mark.parametrize(("text", "message"), [
    ("LANG de_DE.UTF-8\n", "line 1 is not KEY=VALUE"),
    ("# ok\nLANG=\"de_DE\n", "line 2: No closing quotation"),
    ("LANG=klingon\n", "'klingon' is not a locale name"),
    ("LC_MESSAGES=xx_XX.UTF-8\n", "'xx_XX.UTF-8' is not a locale name"),
    ("LANG=de_DE fr_FR\n", "one value expected"),
])
def test_a_broken_locale_conf_is_refused_naming_the_line(text: str, message: str) -> None:
    with pytest.raises(MossError, match=message):
        parse_locale_conf(text, "/etc/locale.conf")


def test_the_users_list_adds_to_the_system_setting(tmp_path: Path) -> None:
    (tmp_path / "etc/default").mkdir(parents=True)
    (tmp_path / "etc/default/locale").write_text("LANG=de_CH.UTF-8\n")
    assert system_languages(tmp_path, ["pt_BR", "C"]) == {"de", "pt"}
    with pytest.raises(MossError, match=r"subscriptions\.yaml: locales: 'german'"):
        system_languages(tmp_path, ["german"])


PATTERN_PARTS = ["bin", "sbin", "lib", "kernel", "modules", "share", "doc", "*", "**", "b?n",
                 "6.1.0", "vmlinuz", "systemd"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(PATTERN_PARTS), min_size=1, max_size=4),
       st.sampled_from(["keep", "drop", "drop-when-off"]), st.booleans())
def test_no_accepted_definition_drops_a_protected_path(parts: list[str], key: str,
                                                       on: bool) -> None:
    pattern = "/".join(parts)
    try:
        [definition] = parse_definitions(f"name: x\n{key}: ['{pattern}']\n", "x.yaml")
    except MossError as exc:
        assert "would drop /usr/" in str(exc)
        return
    rules = PathRules([definition], ["x"] if on else [])
    assert not any(rules.dropped(p) for p in PROTECTED_PROBES)


def moss(root: Path, *args: str) -> int:
    return main(["-D", str(root), "-y", "--quiet", *args])


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    hello = make_package(tmp_path, "hello", {
        "bin/hello": "#!/bin/sh\n", "share/locale/de/LC_MESSAGES/hello.mo": "hallo",
        "share/locale/fr/LC_MESSAGES/hello.mo": "bonjour"})
    assert moss(root, "install", str(hello)) == 0
    return root


@pytest.mark.parametrize(("conf", "message"), [
    ("LANG=xx_YY.UTF-8\n", "/etc/locale.conf: line 1: 'xx_YY.UTF-8' is not a locale name"),
    ("LANG\n", "/etc/locale.conf: line 1 is not KEY=VALUE"),
])
def test_bad_locale_setting_one_line_and_no_state(
        root: Path, conf: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    (root / "etc/locale.conf").write_text(conf)
    capsys.readouterr()
    assert moss(root, "subscription", "add", "locales") == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert (root / "usr/.stateID").read_text() == "1"
    assert (root / "usr/share/locale/fr/LC_MESSAGES/hello.mo").exists()
    assert not (root / "etc/moss/subscriptions.yaml").exists()


def test_a_definition_dropping_usr_bin_is_refused_and_builds_no_state(
        root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = make_package(tmp_path, "bad-subscriptions", {
        "share/moss/subscriptions.d/slim.yaml": "name: slim\ndefault: true\ndrop: [/usr/bin]\n"})
    capsys.readouterr()
    assert moss(root, "install", str(bad)) == 1
    err = capsys.readouterr().err
    assert "pattern '/usr/bin' would drop /usr/bin; refused" in err and err.count("\n") == 1
    assert (root / "usr/.stateID").read_text() == "1"
    assert (root / "usr/bin/hello").exists()


def test_the_locale_setting_is_read_inside_the_root(tmp_path: Path) -> None:
    """A link out of the root is followed with the root as ``/`` (so the host's file is
    never read), and an endless or huge file is one error, not a hang."""
    from moss.core.errors import MossError
    from moss.subscriptions.locales import system_languages

    host = tmp_path / "host-locale.conf"
    host.write_text("LANG=fr_FR.UTF-8\n")
    root = tmp_path / "root"
    (root / "etc/default").mkdir(parents=True)
    (root / "etc/locale.conf").symlink_to(host)
    (root / "etc/default/locale").symlink_to("/dev/zero")
    assert system_languages(root) == set()
    (root / "etc/locale.conf").unlink()
    (root / "etc/locale.conf").write_text("LANG=de_DE.UTF-8\n" + "#" * 70_000)
    with pytest.raises(MossError, match=r"locale\.conf"):
        system_languages(root)
