"""The Jinja templates boot entries and ``loader.conf`` are written from.

A distribution (or an administrator) may override moss's own templates in a
folder of the root (``templates =`` in ``boot.conf``, else
``/etc/moss/boot/templates``).  Those files are configuration like any other:
read inside their folder, bounded, and a broken one -- bad syntax, a name that
does not exist, nesting Jinja compiles into too deep Python -- is one error
naming it, never a traceback.  Every value a template prints has its control
characters shown as ``?``, so no value adds a line to an entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import jinja2

from boot.config import BootConfig
from boot.statetree import inroot
from moss.core.errors import MossError

PACKAGED_TEMPLATES = Path(__file__).parent.parent / "templates"  # boot/templates/
MAX_TEMPLATE = 64 * 1024  # an entry or loader.conf template is a dozen lines


class _ConfinedLoader(jinja2.BaseLoader):
    """Templates read inside their folder: a link is followed with the folder as ``/``,
    only regular files of at most :data:`MAX_TEMPLATE` bytes are read (a template
    linked to a host file would otherwise copy it into an entry on $BOOT)."""

    def __init__(self, folders: Sequence[Path]) -> None:
        self.folders = folders

    def get_source(self, environment: jinja2.Environment, template: str
                   ) -> tuple[str, str | None, None]:
        for folder in self.folders:
            found = inroot.resolve(folder, template)
            if found is not None and found.is_file():
                data = inroot.read_regular(found, MAX_TEMPLATE)
                try:
                    return data.decode(), str(found), None
                except UnicodeDecodeError:
                    raise MossError(f"{found} is not UTF-8 text; refused") from None
        raise jinja2.TemplateNotFound(template)


def template_env(config: BootConfig) -> jinja2.Environment:
    """Templates from the distribution's override folder first, then moss's own."""
    folders = [config.template_dir] if config.template_dir else []
    folders.append(PACKAGED_TEMPLATES)
    return jinja2.Environment(
        loader=_ConfinedLoader(folders),
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        finalize=_one_line,
    )


def render(config: BootConfig, name: str, **values: object) -> str:
    """A template rendered; a broken one (syntax, an unknown name, nested too deep)
    is one MossError naming it, never a traceback."""
    try:
        return template_env(config).get_template(name).render(**values)
    except (jinja2.TemplateError, RecursionError, SyntaxError, ValueError, TypeError,
            AttributeError) as exc:  # SyntaxError: Python compiled from a deep template
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:200]
        raise MossError(f"boot template {name} cannot be used: {reason}") from None


def _one_line(value: object) -> object:
    """Every value a template prints, with control characters shown as ``?``.

    A newline in a package's summary, an os-release name or any other value
    would otherwise add a line (a second ``options``, say) to the entry.
    """
    return inroot.printable(value) if isinstance(value, str) else value
