"""``moss repo add|list|remove|update|enable|disable`` and real moss's ``ar lr rr ur``.

Each handler imports what it runs, so building the parser stays cheap (issue 18).
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from moss.cli.output import print_json, print_table, progress_for
from moss.core.errors import MossError

if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from moss.repo import config


@contextlib.contextmanager
def _lock(args: argparse.Namespace) -> Iterator[None]:
    """One mutating moss at a time, as for every other change to a root."""
    from moss.core import namespace
    from moss.core.fs import locked
    from moss.core.root import Root

    namespace.enter_writable(Root(args.directory).path)
    with locked(Root(args.directory).lockfile):
        yield


def cmd_add(args: argparse.Namespace) -> int:
    """Add, then fetch the index at once, as real moss refreshes a repository it adds:
    the next ``install NAME`` finds its packages.  A fetch that fails leaves the
    repository added (as in real moss, whose configuration is saved before the
    refresh) and exits 1 with one line saying so and how to retry."""
    from moss.planning import sysmodel
    from moss.repo import config
    from moss.repo.index import update_repository

    sysmodel.refuse_repo_edit(args.directory, "add")
    with _lock(args):
        repo = config.add_repository(
            args.directory,
            args.name,
            args.uri,
            priority=args.priority,
            description=args.comment,
            key=args.key,
            root_index=args.root_index,
            mirrors=tuple(args.mirror),
        )
        signed = " (signed index required)" if repo.key else ""
        where = repo.root_index.uri() if repo.root_index else repo.uri
        print(f"added repository {repo.id} -> {where}, priority {repo.priority}{signed}",
              flush=True)
        try:
            count = update_repository(args.directory, repo, progress_for(args.quiet))
        except MossError as exc:
            raise MossError(f"repository {repo.id} is added, but its index could not be "
                            f"fetched: {exc}; `moss repo update {repo.id}` tries again"
                            ) from exc
    print(f"{repo.id}: {count} packages")
    return 0


def _versioned(repo: config.Repository) -> dict[str, str]:
    """A versioned repository's source, which its (resolved) ``uri`` does not show."""
    src = repo.root_index
    if src is None:
        return {}
    return {"base-uri": src.base_uri, "channel": src.channel, "version": src.version,
            "arch": src.arch}


def cmd_list(args: argparse.Namespace) -> int:
    from moss.planning import sysmodel
    from moss.repo.index import index_path

    repos = sysmodel.repositories(args.directory)
    if args.json:
        print_json(
            [
                {
                    "id": r.id,
                    "uri": r.uri,
                    **_versioned(r),
                    "description": r.description,
                    "priority": r.priority,
                    "active": r.active,
                    "signed": r.key is not None,
                    "fetched": index_path(args.directory, r).is_file(),
                    **_mirror_fields(args.directory, r),
                }
                for r in repos
            ]
        )
        return 0
    if not repos:
        print("no repositories configured; add one with 'moss repo add NAME URI'")
        return 0
    rows = [
        (
            r.id,
            r.priority,
            "yes" if r.active else "no",
            "yes" if r.key else "no",
            r.uri or (r.root_index.uri() if r.root_index else ""),
        )
        for r in repos
    ]
    print_table(("NAME", "PRIORITY", "ACTIVE", "SIGNED", "URI"), rows)
    for r in repos:
        for number, mirror in enumerate(r.candidates() if r.mirrors else ()):
            state = _mirror_fields(args.directory, r)
            penalty = state["penalized"].get(mirror)
            notes = (["answered"] if mirror == state["answered"] else []) + (
                [f"penalized: {penalty}"] if penalty else [])
            label = "uri" if number == 0 else f"mirror {number}"
            print(f"{r.id} {label}: {mirror}" + (f" ({'; '.join(notes)})" if notes else ""))
    return 0


def _mirror_fields(root: Path, repo: config.Repository) -> dict[str, Any]:
    """A repository's mirrors, the one whose index is in use, and the penalized ones."""
    if not repo.mirrors:
        return {}
    from moss.repo import mirrors
    from moss.repo.config import cache_dir

    state = mirrors.load(cache_dir(root, repo))
    return {"mirrors": list(repo.mirrors), "answered": repo.answered,
            "penalized": {url: p.reason for url, p in state.penalties.items()
                          if url in repo.candidates()}}


def cmd_remove(args: argparse.Namespace) -> int:
    from moss.planning import sysmodel
    from moss.repo import config

    sysmodel.refuse_repo_edit(args.directory, "remove")
    with _lock(args):
        config.remove_repository(args.directory, args.name)
    print(f"removed repository {args.name}")
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    from moss.planning import sysmodel
    from moss.repo.index import update_repository

    root = args.directory
    if args.name:
        repos = [r for r in sysmodel.repositories(root) if r.id == args.name]
        if not repos:
            raise MossError(f"no repository named {args.name!r}")
    else:
        repos = [r for r in sysmodel.repositories(root) if r.active]
        if not repos:
            raise MossError("no active repositories to update")
    progress = progress_for(args.quiet)
    failures: list[str] = []
    with _lock(args):
        for repo in repos:
            try:
                count = update_repository(root, repo, progress, allow_older=args.allow_older)
            except MossError as exc:
                failures.append(str(exc))
                continue
            print(f"{repo.id}: {count} packages")
    if failures:
        # Other repositories were still updated; report every failure, in one error.
        raise MossError("; ".join(failures))
    return 0


def cmd_enable(args: argparse.Namespace) -> int:
    from moss.planning import sysmodel
    from moss.repo import config

    sysmodel.refuse_repo_edit(args.directory, "enable")
    with _lock(args):
        config.set_active(args.directory, args.name, True)
    print(f"enabled repository {args.name}")
    return 0


def cmd_disable(args: argparse.Namespace) -> int:
    from moss.planning import sysmodel
    from moss.repo import config

    sysmodel.refuse_repo_edit(args.directory, "disable")
    with _lock(args):
        config.set_active(args.directory, args.name, False)
    print(f"disabled repository {args.name}")
    return 0


def _add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="repository id (letters, digits, '-', '_')")
    p.add_argument("uri", help="URL of the stone.index (https://, http:// or file://)")
    p.add_argument(
        "-p", "--priority", type=int, default=0, help="higher number is preferred (default 0)"
    )
    p.add_argument("-c", "--comment", default="", help="description")
    p.add_argument(
        "--key", metavar="PUBKEY", help="minisign public key (text or file): require signed index"
    )
    p.add_argument(
        "--root-index", metavar="OPTIONS",
        help="a versioned repository, as real moss: URI is its base URI and OPTIONS are "
        "version=stream/NAME|tag/NAME|history/ID[,channel=main][,arch=x86_64]")
    p.add_argument(
        "--mirror", metavar="URI", action="append", default=[],
        help="another URL of the same index, tried in order when the ones before fail "
        "(this moss's; real moss reads only URI); repeat for more")
    p.set_defaults(handler=cmd_add)


def _list_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_list)


def _remove_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name")
    p.set_defaults(handler=cmd_remove)


def _update_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", help="only this repository (default: all active)")
    p.add_argument(
        "--allow-older", action="store_true",
        help="accept a signed index older than the one in use (a deliberate rollback); "
        "otherwise it is refused as a possible replay",
    )
    p.set_defaults(handler=cmd_update)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    repo = sub.add_parser(
        "repo", help="manage repositories",
        description="The repositories moss installs from: each has a name, the URL of its "
        "stone.index, a priority (the highest that offers a package wins) and, optionally, "
        "the minisign key its index must be signed with.",
        epilog="example: moss repo list")
    repo_sub = repo.add_subparsers(dest="repo_command", metavar="ACTION")
    repo_sub.required = True
    _add_args(repo_sub.add_parser(
        "add", aliases=["ar"], help="add a repository",
        description="Add a repository by NAME and the URL of its stone.index, and fetch "
        "its index (if that fails it stays added; exit 1). A higher --priority wins when several "
        "repositories offer a package; with --key its index must be signed.",
        epilog="example: moss repo add volatile "
        "https://packages.serpentos.com/volatile/x86_64/stone.index --priority 10"))
    _list_args(repo_sub.add_parser(
        "list", aliases=["lr"], help="list repositories",
        description="List the configured repositories: name, priority, whether each is "
        "enabled and signed, and its URL; --json also says whether its index was fetched.",
        epilog="example: moss repo list"))
    _remove_args(repo_sub.add_parser(
        "remove", aliases=["rr"], help="remove a repository",
        description="Forget a repository: its configuration goes, so its packages are no "
        "longer offered. Installed packages and existing states are not changed.",
        epilog="example: moss repo remove volatile"))
    _update_args(repo_sub.add_parser(
        "update", aliases=["ur"], help="fetch repository indexes",
        description="Fetch the stone.index of every enabled repository (or of NAME only), "
        "checking its signature when the repository has a key. Run it before install or "
        "sync to see what is new; a failing repository does not stop the others.",
        epilog="example: moss repo update"))
    enable = repo_sub.add_parser(
        "enable", aliases=["er"], help="use a repository again",
        description="Use a disabled repository again: its packages are offered to "
        "install, sync and search once more.",
        epilog="example: moss repo enable volatile")
    enable.add_argument("name")
    enable.set_defaults(handler=cmd_enable)
    disable = repo_sub.add_parser(
        "disable", aliases=["dr"], help="stop using a repository, keep its config",
        description="Stop using a repository without forgetting it: its packages are no "
        "longer offered, its configuration and key stay, and `moss repo enable` brings "
        "it back.",
        epilog="example: moss repo disable volatile")
    disable.add_argument("name")
    disable.set_defaults(handler=cmd_disable)
    # Real moss's short forms work as top-level commands too: the same parsers.
    for alias in ("ar", "lr", "rr", "ur", "er", "dr"):
        sub.choices[alias] = repo_sub.choices[alias]
