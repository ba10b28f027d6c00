"""The one error the stone code raises for anything wrong with a file's bytes."""

from __future__ import annotations


class StoneError(Exception):
    """A .stone file is malformed, truncated, or lies about itself.

    The message names the file, payload and record where they are known, so a user
    can tell which package is bad and roughly where without a hex editor.
    """
