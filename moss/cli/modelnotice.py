"""Real moss's notice that ``/etc/moss/system-model.kdl`` is in effect, on stderr.

Real moss prints it before every command once the file exists (its ``cli/mod.rs``),
so an admin who forgot the file learns why ``moss install`` did not stick: the
next ``moss sync`` returns to the model.  ``disable_warning #true`` in the model
silences it; with ``-v`` the first line still shows.  It goes to stderr, so the
output a script reads is unchanged.
"""

from __future__ import annotations

import sys
from pathlib import Path

MODEL = Path("etc/moss/system-model.kdl")

_HENCE = """Hence:
- The system-model is the source of truth and defines all
  repositories & installed packages.
- Any changes made via `moss` commands will be temporary
  until the system-model is updated.
- The system state can be reverted to match the system-model state
  by doing a `moss sync`.
- To disable the system-model, remove or rename {path}."""


def print_notice(root: Path, verbose: bool) -> None:
    """The notice for ``root``'s model, if it has one (one ``stat`` when it has none).

    A model moss cannot read gets no notice: as in real moss, which fails to load it
    before it would print one, the command that uses it says what is wrong with it.
    """
    path = root / MODEL
    if not path.is_file():
        return
    disabled = _warning_disabled(path)
    if disabled is None or (disabled and not verbose):
        return
    from moss.core.errors import printable

    quoted = printable('"' + str(path).replace("\\", "\\\\").replace('"', '\\"') + '"')
    print(f"INFO: {quoted} is present & therefore active.", file=sys.stderr)
    if not disabled:
        print(_HENCE.format(path=quoted), file=sys.stderr)


def _warning_disabled(path: Path) -> bool | None:
    """The model's ``disable_warning``; None when moss cannot read the model."""
    from moss.core.errors import MossError
    from moss.planning import sysmodel

    try:
        model = sysmodel.load(path)
    except (MossError, OSError, UnicodeError, RecursionError):
        return None
    return None if model is None else model.disable_warning
