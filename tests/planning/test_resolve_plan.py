"""Resolution on PackageMeta: providers, preferences, conflicts, orphans, sync."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from moss.core.errors import MossError
from moss.planning.resolve import Catalog, install, remove, sync
from moss.repo.index import Offer
from moss.stone import Dependency, PackageMeta


def pkg(
    name: str,
    release: int = 1,
    *,
    depends: tuple[str, ...] = (),
    provides: tuple[str, ...] = (),
    conflicts: tuple[str, ...] = (),
) -> PackageMeta:
    return PackageMeta(
        name=name,
        version=f"1.{release}",
        release=release,
        depends=[Dependency.parse(d) for d in depends],
        provides=[Dependency.parse(p) for p in provides],
        conflicts=[Dependency.parse(c) for c in conflicts],
    )


def offers(repo: str, priority: int, *metas: PackageMeta) -> list[Offer]:
    return [Offer(m, repo, priority) for m in metas]


LIBGREET = "soname(libgreet.so.1(x86_64))"
HELLO = pkg("hello", depends=("greeting-lib", "binary(sh)"))
GREETING = pkg("greeting-lib", depends=(LIBGREET,))
LIB = pkg("libgreet", provides=(LIBGREET, "pkgconfig(greet)"))
SHELL = pkg("busybox", provides=("binary(sh)",))


def names(items: Iterable[Offer | PackageMeta]) -> list[str]:
    return sorted(item.meta.name if isinstance(item, Offer) else item.name for item in items)


def test_install_closes_over_providers() -> None:
    catalog = Catalog(offers("main", 0, HELLO, GREETING, LIB, SHELL, pkg("unrelated")))
    plan = install([], set(), catalog, ["hello"])
    assert names(plan.add) == ["busybox", "greeting-lib", "hello", "libgreet"]
    assert plan.selected == {"hello"}
    assert not plan.remove and not plan.upgrade


def test_install_by_provider_string() -> None:
    catalog = Catalog(offers("main", 0, LIB))
    plan = install([], set(), catalog, ["pkgconfig(greet)"])
    assert names(plan.add) == ["libgreet"]
    assert plan.selected == {"libgreet"}


def test_missing_provider_names_the_chain() -> None:
    catalog = Catalog(offers("main", 0, HELLO, GREETING, SHELL))
    with pytest.raises(MossError) as err:
        install([], set(), catalog, ["hello"])
    assert str(err.value) == (
        "nothing provides hello -> greeting-lib -> soname(libgreet.so.1(x86_64))"
    )


def test_unknown_name() -> None:
    with pytest.raises(MossError, match="no package named or providing 'nope'"):
        install([], set(), Catalog([]), ["nope"])


def test_installed_provider_is_preferred_over_repository() -> None:
    other_shell = pkg("dash", provides=("binary(sh)",))
    catalog = Catalog(offers("main", 0, HELLO, GREETING, LIB, SHELL))
    plan = install([other_shell], set(), catalog, ["hello"])
    assert "busybox" not in names(plan.add)
    assert names(plan.keep) == ["dash"]


def test_higher_priority_repository_wins_then_higher_release() -> None:
    catalog = Catalog(
        offers("stable", 0, pkg("tool", 9))
        + offers("volatile", 10, pkg("tool", 2), pkg("tool", 3))
    )
    plan = install([], set(), catalog, ["tool"])
    assert [(o.repository, o.meta.release) for o in plan.add] == [("volatile", 3)]


def test_conflicts_are_refused_naming_both() -> None:
    catalog = Catalog(
        offers("main", 0, pkg("openssl", provides=("soname(libssl.so.3(x86_64))",)))
        + offers("main", 0, pkg("libressl", conflicts=("soname(libssl.so.3(x86_64))",)))
    )
    with pytest.raises(MossError, match="libressl conflicts with openssl"):
        install([catalog.by_name["openssl"][0].meta], {"openssl"}, catalog, ["libressl"])


def test_already_installed_is_kept_and_selected() -> None:
    catalog = Catalog(offers("main", 0, LIB, pkg("libgreet", 5)))
    plan = install([LIB], set(), catalog, ["libgreet"])
    assert not plan.changes
    assert plan.selected == {"libgreet"}


def test_dependency_needing_newer_installed_package_upgrades_it() -> None:
    old_lib = pkg("libgreet", 1)
    new_lib = pkg("libgreet", 2, provides=(LIBGREET,))
    catalog = Catalog(offers("main", 0, GREETING, new_lib))
    plan = install([old_lib], set(), catalog, ["greeting-lib"])
    assert [(old.release, new.meta.release) for old, new in plan.upgrade] == [(1, 2)]
    assert names(plan.add) == ["greeting-lib"]


def test_remove_takes_orphans_but_not_selected_packages() -> None:
    installed = [HELLO, GREETING, LIB, SHELL]
    plan = remove(installed, {"hello", "busybox"}, ["hello"])
    assert names(plan.remove) == ["greeting-lib", "hello", "libgreet"]
    assert names(plan.keep) == ["busybox"]
    assert plan.selected == {"busybox"}


def test_remove_takes_reverse_dependencies() -> None:
    installed = [HELLO, GREETING, LIB, SHELL]
    plan = remove(installed, {"hello", "busybox"}, ["libgreet"])
    assert names(plan.remove) == ["greeting-lib", "hello", "libgreet"]
    assert names(plan.keep) == ["busybox"]


def test_remove_unknown_is_an_error() -> None:
    with pytest.raises(MossError, match="not installed: ghost"):
        remove([LIB], {"libgreet"}, ["ghost"])


def test_sync_upgrades_and_upgrade_only_never_downgrades() -> None:
    installed = [pkg("a", 2, depends=("b",)), pkg("b", 5)]
    catalog = Catalog(offers("main", 0, pkg("a", 3, depends=("b",)), pkg("b", 4)))
    plan = sync(installed, {"a"}, catalog)
    assert sorted((o.name, n.meta.release) for o, n in plan.upgrade) == [("a", 3), ("b", 4)]
    plan = sync(installed, {"a"}, catalog, upgrade_only=True)
    assert [(o.name, n.meta.release) for o, n in plan.upgrade] == [("a", 3)]
    assert names(plan.keep) == ["b"]


def test_sync_drops_what_is_no_longer_needed() -> None:
    installed = [pkg("a", 1, depends=("old-dep",)), pkg("old-dep")]
    catalog = Catalog(offers("main", 0, pkg("a", 2), pkg("old-dep")))
    plan = sync(installed, {"a"}, catalog)
    assert names(plan.remove) == ["old-dep"]
    assert [n.meta.release for _, n in plan.upgrade] == [2]
