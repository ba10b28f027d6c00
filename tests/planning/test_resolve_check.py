"""The final check after a resolve: what it must still catch now that it trusts the walk.

``_Closure.check`` no longer rebuilds the provider map and walks every edge again;
it relies on what ``run`` met.  These are the cases where that is not enough, each
with the exact message the full check gave.
"""

from __future__ import annotations

import pytest

from moss.core.errors import MossError
from moss.planning.catalog import dependency_keys
from moss.planning.resolve import Catalog, install
from moss.repo.index import Offer
from moss.stone import Dependency, DependencyKind, PackageMeta

LIBGREET = "soname(libgreet.so.1(x86_64))"


def pkg(name: str, release: int = 1, *, depends: tuple[str, ...] = (),
        provides: tuple[str, ...] = ()) -> PackageMeta:
    return PackageMeta(name=name, version=f"1.{release}", release=release,
                       depends=[Dependency.parse(d) for d in depends],
                       provides=[Dependency.parse(p) for p in provides])


def main(*metas: PackageMeta) -> Catalog:
    return Catalog(Offer(m, "main", 0) for m in metas)


def test_provider_keys_are_spelled_as_str_of_each_kind() -> None:
    deps = [Dependency(kind, "x(y).so") for kind in DependencyKind]
    assert dependency_keys(deps) == tuple(str(d) for d in deps)


def test_an_installed_package_with_a_broken_dependency_is_reported() -> None:
    broken = pkg("hello", depends=("greeting-lib",))
    with pytest.raises(MossError) as err:
        install([broken], set(), main(pkg("tool")), ["tool"])
    assert str(err.value) == "nothing provides hello -> greeting-lib"


def test_a_swap_that_takes_a_provider_away_is_reported() -> None:
    old_lib = pkg("libgreet", 1, provides=(LIBGREET,))
    user = pkg("greeter", depends=(LIBGREET,))
    new_lib = pkg("libgreet", 2, provides=("soname(libgreet.so.2(x86_64))",))
    wants_new = pkg("fancy", depends=("soname(libgreet.so.2(x86_64))",))
    with pytest.raises(MossError) as err:  # greeter is met by old_lib, then fancy swaps it
        install([old_lib], set(), main(user, new_lib, wants_new), ["greeter", "fancy"])
    assert str(err.value) == f"nothing provides greeter -> {LIBGREET}"


def test_a_provider_with_the_id_of_the_chosen_package_adds_nothing() -> None:
    installed = pkg("libgreet", 1)  # same name, version and release: the same id
    offered = pkg("libgreet", 1, provides=(LIBGREET,))
    user = pkg("greeting-lib", depends=(LIBGREET,))
    with pytest.raises(MossError) as err:
        install([installed], set(), main(offered, user), ["greeting-lib"])
    assert str(err.value) == f"nothing provides greeting-lib -> {LIBGREET}"


def test_the_catalog_indexes_each_kind_under_its_str() -> None:
    meta = PackageMeta(name="lib", version="1", release=1,
                       provides=[Dependency(kind, "x(y).so") for kind in DependencyKind])
    catalog = main(meta)
    assert set(catalog.by_provider) == {"lib", *(str(d) for d in meta.provides)}
    assert catalog.best("lib") is catalog.by_name["lib"][0]
