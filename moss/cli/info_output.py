"""``moss info`` as it prints: shared by its argparse handler and :mod:`moss.cli.quick`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from moss.cli.output import print_json
from moss.core.errors import MossError

# ``typing`` costs milliseconds to import; mypy takes any name TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from moss.actions import lookup


def print_info(directory: Path, names: list[str], *, files: bool, as_json: bool) -> None:
    """Real moss's ``info``: every NAME, every match; one unknown NAME fails the command."""
    from moss.actions import lookup

    found = []
    for name in names:
        matches = lookup.candidates(directory, name)
        if not matches:
            raise MossError(f"{name}: no installed or available package is called that "
                            "or provides it")
        found.extend(matches)
    if as_json:
        out = [_info_json(directory, files, c) for c in found]
        print_json(out[0] if len(names) == 1 and len(out) == 1 else out)
        return
    for n, candidate in enumerate(found):
        if n:
            print()
        _info_text(directory, files, candidate)


def _info_json(directory: Path, files: bool, c: lookup.Candidate) -> dict[str, object]:
    from moss.actions import lookup

    out: dict[str, object] = {**lookup.details(c.meta), "installed": c.installed}
    if c.selected is None:
        out["repository"] = c.repository
        return out
    out.update(id=c.selected.id, explicit=c.selected.explicit)
    if files:
        from moss.actions import query  # the layout: it loads the resolver and repositories

        layout = query.package_layout(directory, c.selected.id)
        out["files"] = [query.describe_entry(e) for e in layout]
        # Paths of "files" that the active state left out on purpose (subscriptions).
        filtered = query.filtered_paths(directory)
        out["filtered"] = [f"/usr/{e.target}" for e in layout if e.target in filtered]
    return out


def print_details(found: Sequence[Mapping[str, object]]) -> None:
    """``info``'s text of installed packages (:func:`moss.actions.quickinfo.quick_info`)."""
    print("\n\n".join("\n".join(info_lines(details, "installed")) for details in found))


def info_lines(details: Mapping[str, object], status: str) -> list[str]:
    """One package's lines of ``info``, from :func:`moss.actions.lookup.details`: the
    one text both the quick and the full path print."""
    lines = [f"{key.capitalize():<13}{details[key]}"
             for key in ("name", "version", "release", "summary", "description", "homepage")]
    for key in ("licenses", "depends", "provides", "conflicts"):
        values = details[key]
        assert isinstance(values, list)
        lines.append(f"{key.capitalize():<13}{', '.join(values) or '-'}")
    return [*lines, f"{'Status':<13}{status}"]


def _info_text(directory: Path, files: bool, c: lookup.Candidate) -> None:
    from moss.actions import lookup

    status = "installed" if c.installed else "available in " + str(c.repository)
    print("\n".join(info_lines(lookup.details(c.meta), status)))
    if files and c.selected is not None:
        from moss.actions import query  # the layout: it loads the resolver and repositories

        filtered = query.filtered_paths(directory)
        for entry in query.package_layout(directory, c.selected.id):
            why = filtered.get(entry.target)
            note = f"  [{why} by subscriptions]" if why else ""
            print(query.describe_entry(entry) + note)
