"""Which paths of a tree the active subscriptions drop: by glob, and by language.

Globs are relative to ``/usr``: ``*`` and ``?`` stop at ``/``, ``**`` crosses
it, and a pattern that matches a directory covers everything below it.  The
verdict, strongest first: the ``keep`` of a subscription that is on keeps; the
``drop`` of one that is on, the ``keep`` or ``drop-when-off`` of one that is off,
and a translation into a language the system does not use while a ``locales``
subscription is on, drop; anything else stays.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from moss.subscriptions.config import Definition
from moss.subscriptions.globs import matches
from moss.subscriptions.locales import culled


class PathRules:
    """The keep/drop verdict of a set of definitions, some on, some off."""

    def __init__(self, definitions: Sequence[Definition], active: Iterable[str],
                 languages: set[str] | None = None) -> None:
        """``languages``: those the system uses, or None to leave translations alone.
        It only counts while a ``locales`` definition is on."""
        on = set(active)
        self.active_keep = [p for d in definitions if d.name in on for p in d.keep]
        self.active_drop = [p for d in definitions if d.name in on for p in d.drop]
        self.inactive_keep = [p for d in definitions if d.name not in on
                              for p in (*d.keep, *d.drop_when_off)]
        self.languages = (languages if any(d.locales and d.name in on for d in definitions)
                          else None)

    @property
    def drops_anything(self) -> bool:
        return bool(self.active_drop or self.inactive_keep or self.languages is not None)

    def dropped(self, target: str) -> bool:
        if matches(self.active_keep, target):
            return False
        if matches(self.active_drop, target) or matches(self.inactive_keep, target):
            return True
        return self.languages is not None and culled(target, self.languages)
