import sys

try:
    from moss.cli import run
except BaseException as exc:
    # Ctrl-C while Python loads moss: nothing has been done.  (Python 3.11 wraps one
    # that lands in a class body as a RuntimeError caused by the KeyboardInterrupt.)
    if not isinstance(exc, KeyboardInterrupt) and not isinstance(exc.__cause__,
                                                                 KeyboardInterrupt):
        raise
    print("moss: interrupted; nothing was changed", file=sys.stderr)
    sys.exit(130)

run()
