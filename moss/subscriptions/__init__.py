"""Subscriptions: named choices of which packages and which paths reach a state.

See ``README.md`` beside this file for the YAML shapes and the rules, and
:mod:`moss.subscriptions.step` for where the filter sits in a transaction.
"""

from moss.subscriptions.config import Choices, load_choices, save_choices
from moss.subscriptions.step import (
    Filtered,
    Subscribed,
    apply,
    record,
    regenerate_module_metadata,
    subscribed_packages,
)

__all__ = [
    "Choices",
    "Filtered",
    "Subscribed",
    "apply",
    "load_choices",
    "record",
    "regenerate_module_metadata",
    "save_choices",
    "subscribed_packages",
]
