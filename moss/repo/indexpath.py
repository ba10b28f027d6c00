"""Where a repository's fetched index lies, apart from :mod:`moss.repo.index` (which
fetches, and so loads tempfile, shutil and moss.core.fs): the queries answered from
the meta databases need only the path (issue 27)."""

from __future__ import annotations

from pathlib import Path

from moss.core.root import REPO_INDEX_NAME, Root
from moss.repo.config import Repository, cache_dir

INDEX_NAME = REPO_INDEX_NAME


def index_path(root: Path, repo: Repository) -> Path:
    """Where ``repo``'s fetched index lies under ``root``: real moss's folder, else the
    ``.moss/repo/<id>/`` an older moss used, while that is the only one there."""
    path = cache_dir(root, repo) / INDEX_NAME
    legacy = Root(root).repo_index(repo.id)
    return legacy if not path.is_file() and legacy.is_file() else path
