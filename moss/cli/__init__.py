"""Command-line entry point: the queries :mod:`moss.cli.quick` answers, else the full CLI.

Start-up is the first figure a user meets (issues 18 and 27): ``moss --version``,
``state list``, ``info`` and ``list available`` are answered without argparse or
the command tree (:mod:`moss.cli.quick`, the same checks and output); every other
line goes to :mod:`moss.cli.app` (global flags, dispatch, error reporting).  This
module imports neither until a command line needs it.
"""

from __future__ import annotations

import sys

# ``typing`` costs milliseconds to import; mypy takes any name TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from moss.cli.app import Handler, Parser, Registrar, build_parser, root_needed

__all__ = ["Handler", "Parser", "Registrar", "build_parser", "main", "root_needed", "run"]

_FROM_APP = frozenset(("Handler", "Parser", "Registrar", "build_parser", "root_needed"))


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command (:func:`moss.cli.app.main`'s statuses and messages)."""
    words = list(sys.argv[1:] if argv is None else argv)
    try:
        from moss.cli import quick

        status = quick.answer(words)
        if status is not None:
            return status
        from moss.cli import app
    except BaseException as exc:
        # Ctrl-C while Python loads moss's code, as in moss/__main__.py: nothing was
        # done (a query answered here reports its own interrupts).  Python 3.11 wraps
        # one that lands in a class body as a RuntimeError caused by the interrupt.
        if not isinstance(exc, KeyboardInterrupt) and not isinstance(exc.__cause__,
                                                                     KeyboardInterrupt):
            raise
        print("moss: interrupted; nothing was changed", file=sys.stderr)
        return 130
    return app.main(words)


def run() -> None:
    sys.exit(main())


def __getattr__(name: str) -> object:
    """The parser's names, from :mod:`moss.cli.app` when first asked for."""
    if name in _FROM_APP:
        from moss.cli import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
