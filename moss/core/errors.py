"""The one exception type the CLI turns into a one-line error and exit status 1.

Library code raises :class:`MossError` (or a subclass) for anything a user can
cause or fix: bad packages, conflicts, a missing state.  Anything else is a bug
and is allowed to surface as a traceback (with ``-v``) so it gets reported.
"""


class MossError(Exception):
    """A failure with a message meant for the user."""
