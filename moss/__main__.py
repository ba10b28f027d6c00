import sys

try:
    from moss.cli import run
except KeyboardInterrupt:  # Ctrl-C while Python loads moss: nothing has been done
    print("moss: interrupted; nothing was changed", file=sys.stderr)
    sys.exit(130)

run()
