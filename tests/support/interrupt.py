"""Children that a test interrupts with SIGINT, whatever the test runner inherited.

A shell script's ``cmd &`` starts its job with SIGINT ignored, and an ignored signal
stays ignored across fork and exec: a moss started from such a pytest would never see
the Ctrl-C the test sends.  Every child a test means to interrupt starts with
``preexec_fn=sigint_default``, as a command typed at a terminal starts.
"""

from __future__ import annotations

import signal


def sigint_default() -> None:
    """In the child, before exec: SIGINT back to its default action."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
