"""``moss state export`` and ``moss sync --import FILE``: a state as a system model and back.

Real moss writes ``usr/lib/system-model.kdl`` into every state; exporting a state
gives that file (or, for a state built before there was one, a model made from
its explicit packages and the active repositories).  Importing builds a new state
with exactly the model's packages from the model's repositories, so one file
gives every machine of a fleet the same selection.  With
``/etc/moss/system-model.kdl`` present a plain ``moss sync`` syncs to it, as in
real moss.
"""

from __future__ import annotations

from pathlib import Path

from moss.core import confined, namespace
from moss.core.errors import MossError
from moss.core.fs import locked
from moss.core.progress import Progress
from moss.core.root import Root, read_state_id
from moss.db.databases import databases, root_holds_states
from moss.planning import sysmodel
from moss.planning.selection import selection_of
from moss.repo import config
from moss.repo.index import index_path, update_repository


def export_state(root_path: Path, state_id: int | None = None) -> str:
    """The system model of ``state_id`` (default: the active state), as KDL text."""
    root = Root(root_path)
    active = read_state_id(root.usr)
    wanted = state_id if state_id is not None else active
    if wanted is None or not root_holds_states(root):
        raise MossError("no active state to export" if wanted is None
                        else f"no state {wanted} in {root_path}")
    with databases(root) as dbs:
        if dbs.state.get(wanted) is None:
            raise MossError(f"no state {wanted} in {root_path}")
        explicit = [s.meta for s in selection_of(dbs, wanted).values() if s.explicit]
    usr = root.usr if wanted == active else root.archived_usr(wanted)
    recorded = usr / sysmodel.STATE_MODEL
    if recorded.is_file() and not recorded.is_symlink():
        text = confined.read_config(usr.parent, recorded)
        sysmodel.decode(text, str(recorded))  # a damaged file is refused, not passed on
        return text
    return sysmodel.state_model(root_path, explicit, None, sysmodel.repositories(root_path))


def model_for_sync(root_path: Path, imported: Path | None) -> sysmodel.SystemModel | None:
    """The model a sync follows: ``--import FILE``, else ``/etc/moss/system-model.kdl``."""
    if imported is not None:
        model = sysmodel.load(imported)
        if model is None:
            raise MossError(f"no system model at {imported}")
        return model
    return sysmodel.load(root_path / sysmodel.ADMIN_MODEL, root_path)


def fetch_model_indexes(root_path: Path, model: sysmodel.SystemModel, progress: Progress,
                        wait: bool = True, refresh: bool = False) -> list[tuple[str, int]]:
    """Fetch the index of each active model repository this root has not fetched yet,
    or of every one with ``refresh`` (``sync -u --import``, as real moss after
    os-tools #779 refreshes the model's repositories); returns (id, packages) of each.

    The folder is real moss's (by URI), so a repository also configured here is
    not fetched twice.
    """
    missing = [r for r in model.repositories
               if r.active and (refresh or not index_path(root_path, r).is_file())]
    if not missing:
        return []
    namespace.enter_writable(root_path)
    with locked(Root(root_path).lockfile, wait=wait):
        return [(repo.id, update_repository(root_path, repo, progress)) for repo in missing]


def adopt_repositories(root_path: Path, model: sysmodel.SystemModel, wait: bool = True
                       ) -> list[str]:
    """After ``sync --import``: the root's configuration gets exactly the model's
    repositories, so `repo list`, `install` and a later `sync` use what the state was
    built from.  Others are disabled, not deleted (`moss repo enable` brings one
    back).  Returns one line per change; with an ``/etc/moss/system-model.kdl`` the
    model file is the configuration, so nothing is written."""
    if (root_path / sysmodel.ADMIN_MODEL).is_file():
        return []
    configured = {r.id: r for r in config.load_repositories(root_path)}
    wanted = {r.id: r for r in model.repositories}
    said: list[str] = []
    namespace.enter_writable(root_path)
    with locked(Root(root_path).lockfile, wait=wait):
        for repo in model.repositories:
            old = configured.get(repo.id)
            if old is None or config.resolved(root_path, old) != config.resolved(
                    root_path, repo):
                config.put_repository(root_path, repo)
                said.append(f"{'added' if old is None else 'updated'} repository {repo.id} "
                            "from the model")
        for repo_id, repo in configured.items():
            if repo_id not in wanted and repo.active:
                config.set_active(root_path, repo_id, False)
                said.append(f"disabled repository {repo_id}: the model does not name it "
                            f"(`moss repo enable {repo_id}` brings it back)")
    return said
