"""The ``locales`` subscription: which translations the system uses, and where packages keep them.

The languages come from the system's own settings, read in the root being
built: ``/etc/locale.conf`` (systemd's, ``LANG``, ``LANGUAGE`` and ``LC_*``),
``/etc/default/locale`` (Debian's, same shape), plus the ``locales:`` list of
``/etc/moss/subscriptions.yaml``.  A language keeps every variant (``de`` keeps
``de``, ``de_DE``, ``de_AT``, ``de@euro``, ``de_CH.UTF-8``); ``C`` and ``POSIX``
are not translations and always stay.

Where translations live, from localepurge's list (``share/locale``,
``share/man``, ``share/gnome/help``, ``share/omf``, ``share/doc/kde/HTML``) and
the layouts of Debian 12's packages (``share/help``, ``share/qt*/translations``,
``share/vim/vim*/lang``, KDE's ``share/doc/HTML``).  Deliberately *not* covered:
``share/X11/locale`` (Xlib's input-method and compose tables: every locale's
keyboard needs them), ``share/i18n`` (glibc's locale sources, what ``localedef``
builds from) and ``lib/locale`` (compiled locales: the ones there were chosen).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from pathlib import Path

from moss.core import confined
from moss.core.errors import MossError
from moss.subscriptions.languages import LANGUAGES

LOCALE_CONF = Path("etc/locale.conf")  # relative to the root
MAX_SETTING = 64 * 1024  # a locale setting is a few lines
DEFAULT_LOCALE = Path("etc/default/locale")
# language[_TERRITORY][.codeset][@modifier], as glibc names locales and as
# packages name their translation directories (sr@latin, es_419, zh_Hant...).
_LOCALE = re.compile(r"([a-z]{2,3})(?:_[A-Za-z0-9]+)?(?:\.[A-Za-z0-9_-]+)?(?:@[A-Za-z0-9]+)?\Z")
_NOT_TRANSLATIONS = {"C", "POSIX"}
_KEY = re.compile(r"(?:LANG|LANGUAGE|LC_[A-Z_]+)\Z")
_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)\Z")

# Directories whose children are named after a locale: <prefix><locale>/...
_LOCALE_DIRS = ("share/locale/", "share/man/", "share/help/", "share/doc/kde/HTML/",
                "share/doc/HTML/")
# <prefix><anything>/<locale>/...: one directory per application first.
_APP_LOCALE_DIRS = ("share/gnome/help/",)
_QM = re.compile(r"share/qt[^/]*/translations/(?:[^/]*/)*([^/]+)\.qm\Z")
_VIM_LANG = re.compile(r"share/vim/vim[^/]*/lang/([^/]+)(?:/|\Z)")
_OMF = re.compile(r"share/omf/[^/]+/[^/]+-([^/-]+)\.omf\Z")


def language_of(name: str) -> str | None:
    """The language of a locale name, or None for a name that is not a locale (``C``,
    ``man1``, ``locale.alias``...)."""
    if name.split(".")[0] in _NOT_TRANSLATIONS:
        return None
    match = _LOCALE.match(name)
    if match is None or match.group(1) not in LANGUAGES:
        return None
    return match.group(1)


def checked_language(name: str, where: str) -> str | None:
    """The language a locale setting names; None for ``C``/``POSIX``; refused if unknown."""
    value = name.strip()
    if value.split(".")[0].split("@")[0] in _NOT_TRANSLATIONS:
        return None
    language = language_of(value)
    if language is None:
        raise MossError(f"{where}: {value!r} is not a locale name "
                        "(language[_TERRITORY][.codeset][@modifier], e.g. de_DE.UTF-8)")
    return language


def parse_locale_conf(text: str, where: str) -> set[str]:
    """The languages a ``locale.conf`` (or ``/etc/default/locale``) names.

    Each line is empty, a comment, or ``KEY=VALUE`` with a shell-quoted value;
    ``LANGUAGE`` holds a colon-separated list.  Anything else is refused, naming
    the line: guessing would drop the translations the user reads.
    """
    languages: set[str] = set()
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _ASSIGNMENT.match(line.removeprefix("export ").strip())
        if match is None:
            raise MossError(f"{where}: line {number} is not KEY=VALUE: {line!r}")
        key, value = match.groups()
        try:
            words = shlex.split(value, comments=True)
        except ValueError as exc:
            raise MossError(f"{where}: line {number}: {exc}") from exc
        if len(words) > 1:
            raise MossError(f"{where}: line {number}: one value expected: {line!r}")
        if not _KEY.match(key):
            continue  # not about locales (systemd ignores other keys too)
        value = words[0] if words else ""
        names = value.split(":") if key == "LANGUAGE" else [value]
        for name in filter(None, names):
            language = checked_language(name, f"{where}: line {number}")
            if language is not None:
                languages.add(language)
    return languages


def system_languages(root: Path, extra: Iterable[str] = ()) -> set[str]:
    """The languages the system in ``root`` uses: its settings plus ``extra`` names."""
    languages: set[str] = set()
    for rel in (LOCALE_CONF, DEFAULT_LOCALE):
        # Read inside the root and bounded, as every configuration file (a link to a
        # host file, or to /dev/zero, is followed with the root as /).
        if confined.resolve(root, rel.as_posix()) is None:
            continue
        text = confined.read_config(root, root / rel, MAX_SETTING)
        languages |= parse_locale_conf(text, f"/{rel}")
    for name in extra:
        language = checked_language(name, "/etc/moss/subscriptions.yaml: locales")
        if language is not None:
            languages.add(language)
    return languages


def translation_language(target: str) -> str | None:
    """The language a path of ``/usr`` is a translation into, or None if it is not one."""
    for prefix in _LOCALE_DIRS:
        if target.startswith(prefix):
            return language_of(target[len(prefix):].split("/", 1)[0])
    for prefix in _APP_LOCALE_DIRS:
        if target.startswith(prefix):
            parts = target[len(prefix):].split("/")
            return language_of(parts[1]) if len(parts) > 1 else None
    match = _QM.match(target)
    if match:
        return _qm_language(match.group(1))
    for pattern in (_VIM_LANG, _OMF):
        match = pattern.match(target)
        if match:
            return language_of(match.group(1))
    return None


def _qm_language(stem: str) -> str | None:
    """``qtbase_de``, ``qt_help_pt_BR``, ``assistant_zh_CN``: the locale ends the name."""
    parts = stem.split("_")
    if len(parts) >= 3 and re.fullmatch(r"[A-Z0-9]+|Han[st]", parts[-1]):
        return language_of("_".join(parts[-2:]))
    return language_of(parts[-1]) if len(parts) >= 2 else None


def culled(target: str, keep: set[str]) -> bool:
    """Whether ``target`` is a translation into a language not in ``keep``."""
    language = translation_language(target)
    return language is not None and language not in keep
