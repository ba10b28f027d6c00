"""Commands of other package managers, and the moss command that does what they mean.

Someone used to apt, dnf, zypper, pacman or real moss's elders types ``moss update``
or ``moss rollback``.  A plain "unknown command" (or worse, "did you mean install?"
for ``uninstall``) leaves them guessing; the usage error names moss's own command
instead.  Every command named here must exist: tests/cli/test_foreign_verbs.py
parses each one.
"""

from __future__ import annotations

REFRESH = ("`moss repo update` refreshes the repositories;"
           " `moss sync` brings the packages up to date")
UPGRADE = "`moss sync` brings the packages up to date (`moss list sync` shows what would change)"
ROLLBACK = ("`moss state activate ID` returns to an earlier state"
            " (`moss state list` shows them)")
REMOVE = "`moss remove NAME` removes packages, and the dependencies nothing else needs"

# word -> what to say after "unknown command 'WORD'; "
FOREIGN_VERBS: dict[str, str] = {
    "update": REFRESH,
    "refresh": "`moss repo update` refreshes the repositories",
    "makecache": "`moss repo update` refreshes the repositories",
    "upgrade": UPGRADE,
    "dist-upgrade": UPGRADE,
    "full-upgrade": UPGRADE,
    "distro-sync": UPGRADE,
    "dup": UPGRADE,
    "check-update": "`moss list sync` shows the packages `moss sync` would change",
    "rollback": ROLLBACK,
    "revert": ROLLBACK,
    "undo": ROLLBACK,
    "downgrade": ROLLBACK,
    "history": ("`moss state list` shows every transaction (state);"
                " `moss state diff A B` compares two"),
    "uninstall": REMOVE,
    "purge": REMOVE,
    "erase": REMOVE,
    "autoremove": REMOVE,
    "add": "`moss install NAME` installs packages",
    "show": "`moss info NAME` shows a package",
    "list-installed": "`moss list installed` lists the installed packages",
    "provides": "`moss search-file PATH` names the package that ships a file",
    "whatprovides": "`moss search-file PATH` names the package that ships a file",
    "clean": "`moss cache prune` deletes downloaded packages and blobs no state uses",
    "autoclean": "`moss cache prune` deletes downloaded packages and blobs no state uses",
}


def foreign_hint(word: str) -> str | None:
    """What moss calls the command ``word`` of another tool, or None if it is not one."""
    return FOREIGN_VERBS.get(word)
