"""Named points where the fault-injection tests kill moss.

Setting ``MOSS_KILL_AT=<point>`` makes moss SIGKILL itself when it reaches that
point, so tests can prove that every interruption leaves a bootable root and is
repaired by the next run.  Unset, a checkpoint costs one dict lookup.
"""

from __future__ import annotations

import os
import signal

ENV = "MOSS_KILL_AT"


def checkpoint(point: str) -> None:
    if os.environ.get(ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)
