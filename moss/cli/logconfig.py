"""``--log LEVEL[:FORMAT][:DEST]``: real moss's logging switch, onto Python's logging.

Real moss takes ``trace|debug|info|warn|error``, then ``text|json``, then
``stderr`` or a file path; the parts after the level are optional.  A bad
value is a usage error (status 2), as clap makes it.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, NamedTuple

from moss.core.errors import MossError

if TYPE_CHECKING:
    import logging

# logging's DEBUG, INFO, WARNING and ERROR, and a TRACE below DEBUG: as numbers, so
# parsing --log does not load logging, which `moss --version` never needs (issue 18).
LEVELS = {"trace": 5, "debug": 10, "info": 20, "warn": 30, "error": 40}


class LogConfig(NamedTuple):
    """What ``--log`` asked for (a NamedTuple: ``dataclasses`` is slow to import)."""

    level: int
    json: bool = False
    destination: str = "stderr"


def parse_log_config(text: str) -> LogConfig:
    """``info``, ``debug:json``, ``warn:text:/tmp/moss.log``, ``info:/tmp/x`` ..."""
    level, _, rest = text.partition(":")
    if level.lower() not in LEVELS:
        raise argparse.ArgumentTypeError(
            f"unknown level {level!r} (trace, debug, info, warn, error)")
    fmt, _, dest = rest.partition(":")
    if fmt not in ("", "text", "json"):
        fmt, dest = "", rest  # `info:/tmp/x`: no format, a destination
    return LogConfig(LEVELS[level.lower()], fmt == "json", dest or "stderr")


def _json_formatter() -> logging.Formatter:
    """One JSON object a line: time, level, target and message."""
    import json
    import logging

    class JsonFormatter(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            return json.dumps({"time": record.created, "level": record.levelname.lower(),
                               "target": record.name, "message": record.getMessage()})

    return JsonFormatter()


def configure(config: LogConfig | None) -> None:
    """Send moss's log records where ``--log`` says; without it, only warnings show."""
    if config is None:
        return
    import logging

    handler: logging.Handler
    if config.destination == "stderr":
        handler = logging.StreamHandler(sys.stderr)
    else:
        try:
            handler = logging.FileHandler(config.destination, encoding="utf-8")
        except OSError as exc:
            raise MossError(f"--log: cannot write {config.destination}: "
                            f"{exc.strerror or exc}") from exc
    handler.setFormatter(_json_formatter() if config.json else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("moss")
    logger.addHandler(handler)
    logger.setLevel(config.level)
