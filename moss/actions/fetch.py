"""``moss fetch NAME... -o DIR``: copy packages the repositories offer into a folder.

As real moss's fetch: each name (or provider, e.g. ``binary(hello)``) is looked
up in the active repositories, the best offer downloaded and verified through
the cache, and its ``.stone`` written to DIR under the name the index gives it.
Nothing is installed and no state is made.
"""

from __future__ import annotations

import shutil
from pathlib import Path, PurePosixPath

from moss.core.errors import MossError
from moss.core.progress import QUIET, Progress
from moss.planning.resolve import Catalog
from moss.repo import metaquery
from moss.repo.cache import cache_root, fetch_packages
from moss.repo.config import load_repositories
from moss.repo.index import Offer, downloads_for


def fetch(root: Path, names: list[str], out_dir: Path, cache: Path | None = None,
          progress: Progress = QUIET) -> list[Path]:
    """The written files, in the order of ``names``; an unknown name fails before any download."""
    repos = load_repositories(root)
    catalog = Catalog(metaquery.load_offers(root, repos))
    chosen: list[Offer] = []
    for name in names:
        found = catalog.providers(name)
        if not found:
            raise MossError(f"no repository offers {name!r} (`moss repo update` fetches indexes)")
        chosen.append(found[0])
    downloads = downloads_for(repos, chosen)
    cached = fetch_packages(downloads, cache_root(root, cache), progress)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for offer, item in zip(chosen, downloads, strict=True):
        target = out_dir / PurePosixPath(offer.meta.uri or f"{offer.meta.name}.stone").name
        shutil.copyfile(cached[item.sha256.lower()], target)
        written.append(target)
    return written
