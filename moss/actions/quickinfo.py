"""``moss info NAME...`` of installed packages, read with the fewest modules Python can
load (issue 27), for a root with no repository configured: nothing is offered there,
so every answer is an installed package.

The state's selections and each package's row are read by the same code the full
reader uses (:mod:`moss.db.staterows`, :mod:`moss.db.installrows`), from databases
opened by :func:`moss.db.quickopen.open_quietly`, and matched by name or provider as
:func:`moss.actions.lookup.answers` matches.  Whenever anything is out of the ordinary
(a repository configured, a database the quick open declines, a bad value, a NAME
nothing answers, any error), the answer is None and :func:`moss.actions.lookup.candidates`
answers from the start, reporting what is wrong.  ``list available`` reads the
installed package ids the same way (:func:`installed_ids`).
"""

from __future__ import annotations

from pathlib import Path

from moss.core.configfiles import config_files, system_folders
from moss.core.rootpaths import RootPaths, read_state_id, refuse_borrowed
from moss.db import installrows, staterows
from moss.db.quickopen import close, open_quietly
from moss.stone import depform

#: moss.repo.config.DOMAIN, as :data:`moss.actions.lookup.REPO_DOMAIN` names it.
REPO_DOMAIN = "repo"

Details = dict[str, object]


def quick_info(root_path: Path, names: list[str]) -> list[Details] | None:
    """What ``info`` shows of each package answering each of ``names`` (installed ones
    by name, per NAME), as :func:`moss.actions.lookup.details` gives it; None for the
    full reader to answer."""
    if config_files(system_folders(root_path), REPO_DOMAIN):
        return None  # offers to rank: the full reader's
    installed = _installed(root_path)
    if installed is None:
        return None
    found: list[Details] = []
    for name in names:
        matches = [d for d in installed if _answers(d, name)]
        if not matches:
            return None  # the full reader says so
        found += sorted(matches, key=lambda d: str(d["name"]))
    return found


def _answers(details: Details, name: str) -> bool:
    provides = details["provides"]
    assert isinstance(provides, list)
    return name == details["name"] or name in provides


def _installed(root_path: Path) -> list[Details] | None:
    """The active state's packages, as :func:`moss.planning.selection.selection_of`
    holds them (the last of a name wins its place); None for the full reader."""
    selected = selected_rows(root_path)
    return None if selected is None else [details(fields) for _, fields in selected]


def installed_ids(root_path: Path) -> set[str] | None:
    """The active state's package ids, as :func:`moss.actions.query.installed` gives
    them (``list available`` marks those offers); None for the full reader."""
    selected = selected_rows(root_path)
    return None if selected is None else {package for package, _ in selected}


def selected_rows(root_path: Path) -> list[tuple[str, installrows.MetaFields]] | None:
    """The active state's packages and their checked rows, as
    :func:`moss.planning.selection.selection_of` holds them (the last of a name wins
    its place); None for the full reader."""
    root = RootPaths(root_path)
    if not root.db.is_dir():
        return []  # a query must not create databases
    refuse_borrowed(root)
    opened = open_quietly(root)
    if opened is None:
        return None
    paths, extras, install, state, layout = opened
    try:
        state_id = read_state_id(root.usr)
        record = None if state_id is None else staterows.read_state(state, paths["state"],
                                                                    state_id)
        selected: dict[str, tuple[str, installrows.MetaFields]] = {}
        for package, _explicit, _reason in record[1] if record else []:
            fields = installrows.read_meta(install, paths["install"], package)
            if fields is None:
                return None  # the full reader names the state and the package
            selected[fields[0]] = (package, fields)
        return list(selected.values())
    except Exception:  # the full reader meets it again and reports it
        return None
    finally:
        close([extras.conn, install, state, layout])


def details(fields: installrows.MetaFields) -> Details:
    """:func:`moss.actions.lookup.details` of a package's checked row."""
    (name, version, release, build_release, architecture, summary, description, homepage,
     _source, _uri, _hash, _size, licenses, depends, provides, conflicts) = fields
    return {
        "name": name, "version": version, "release": release,
        "build_release": build_release, "architecture": architecture,
        "summary": summary, "description": description, "homepage": homepage,
        "licenses": licenses, "depends": [depform.shown(*d) for d in depends],
        "provides": [depform.shown(*p) for p in provides],
        "conflicts": [depform.shown(*c) for c in conflicts],
    }
