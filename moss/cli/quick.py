"""The queries answered without argparse: ``--version``, ``state list``, ``info NAME...``
and ``list available`` (issue 27: start-up is most of what they cost).

Only plain lines are taken: the command words with ``-D ROOT`` / ``--directory ROOT``
before or after them, nothing else.  Any other flag, spelling or shape (``--json``,
``-v``, an abbreviation, ``-D`` twice) goes to :mod:`moss.cli.app`, whose parser
gives every line its meaning; a line taken here runs what that parser would dispatch
to, with the same checks first (an invalid root, a borrowed ``.moss``, the
system-model notice) and the same failure reporting, so its output and status are
the full CLI's, byte for byte.
"""

from __future__ import annotations

import sys
from pathlib import Path

_DIRECTORY = ("-D", "--directory")
_COMMANDS = (("state", "list"), ("list", "available"), ("la",))


def answer(argv: list[str]) -> int | None:
    """The exit status of ``argv`` answered here; None when the full CLI must answer."""
    if argv in (["--version"], ["-V"]):
        from moss import __version__

        print(f"moss {__version__}")
        return 0
    line = _query(argv)
    if line is None:
        return None
    directory, words = line
    return _run(directory, words)


def _query(argv: list[str]) -> tuple[Path, list[str]] | None:
    """``(ROOT, command words)`` for a plain query line, else None."""
    directory: str | None = None
    words: list[str] = []
    at = 0
    while at < len(argv):
        word = argv[at]
        if word in _DIRECTORY:
            value = argv[at + 1] if at + 1 < len(argv) else ""
            if directory is not None or not value or value.startswith("-"):
                return None
            if words and at + 2 < len(argv):
                return None  # -D between the command's words: the parser decides
            directory, at = value, at + 2
            continue
        if word.startswith("-"):
            return None
        words.append(word)
        at += 1
    known = tuple(words) in _COMMANDS or (len(words) > 1 and words[0] == "info")
    return (Path(directory or "/"), words) if known else None


def _run(directory: Path, words: list[str]) -> int:
    """What :func:`moss.cli.app.main` does once its parser chose this handler."""
    from moss.cli import failures

    context = failures.Context(False, [directory])
    try:
        from moss.core.rootpaths import RootPaths, check_moss_root, refuse_borrowed

        check_moss_root(directory, installed=True)  # the parser's root_needed: "state"
        context.started = True
        refuse_borrowed(RootPaths(directory))
        from moss.cli.modelnotice import print_notice

        print_notice(directory, False)
        _handle(directory, words)
        sys.stdout.flush()  # a closed pipe is reported here, not at exit
        return 0
    except failures.KNOWN as exc:
        explained = failures.report(exc, context)
        if explained is None:
            raise
        return explained


def _handle(directory: Path, words: list[str]) -> None:
    if words[0] == "state":
        from moss.cli.state_output import print_rows, print_states
        from moss.states.quicklist import quick_states

        rows = quick_states(directory)  # None: out of the ordinary, the full reader answers
        if rows is None:
            print_states(directory, as_json=False)
        else:
            print_rows(rows)
    elif words[0] == "info":
        from moss.actions.quickinfo import quick_info
        from moss.cli.info_output import print_details, print_info

        found = quick_info(directory, words[1:])  # None: the full reader answers
        if found is None:
            print_info(directory, words[1:], files=False, as_json=False)
        else:
            print_details(found)
    else:
        _list_available(directory)


def _list_available(directory: Path) -> None:
    """The table SQLite builds (:func:`moss.repo.metatable.table_text`), the installed
    packages read without the dataclasses; anything out of the ordinary (a database
    the quick reader declines, a meta database that cannot answer) goes to the full
    handler, which reads everything again and reports what is wrong."""
    from moss.actions.quickinfo import installed_ids

    ids = installed_ids(directory)
    text = None
    if ids is not None:
        from moss.planning.sysmodel import repositories
        from moss.repo.metatable import table_text

        text = table_text(directory, repositories(directory), ids)
    if text is None:
        from moss.cli.query_commands import list_available

        list_available(directory)
    else:
        sys.stdout.write(text)
