"""A package's meta data as fields, converted from and to meta records."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from moss.stone.dependency import Dependency
from moss.stone.enums import MetaTag, MetaType
from moss.stone.errors import StoneError
from moss.stone.records import MetaRecord

_STRINGS: dict[MetaTag, str] = {
    MetaTag.NAME: "name",
    MetaTag.ARCHITECTURE: "architecture",
    MetaTag.VERSION: "version",
    MetaTag.SUMMARY: "summary",
    MetaTag.DESCRIPTION: "description",
    MetaTag.HOMEPAGE: "homepage",
    MetaTag.SOURCE_ID: "source_id",
    MetaTag.PACKAGE_URI: "uri",
    MetaTag.PACKAGE_HASH: "hash",
}
_INTEGERS: dict[MetaTag, str] = {
    MetaTag.RELEASE: "release",
    MetaTag.BUILD_RELEASE: "build_release",
    MetaTag.PACKAGE_SIZE: "size",
}
_LISTS: dict[MetaTag, str] = {
    MetaTag.DEPENDS: "depends",
    MetaTag.PROVIDES: "provides",
    MetaTag.CONFLICTS: "conflicts",
}
_INT_TYPES = range(MetaType.INT8, MetaType.UINT64 + 1)


#: A release, build release or size: SQLite (and real moss's databases) hold signed
#: 64-bit integers, so a u64 past this could be read but never recorded (issue 23).
MAX_INTEGER = (1 << 63) - 1


@dataclass
class PackageMeta:
    name: str
    version: str
    release: int
    build_release: int = 1
    architecture: str = "x86_64"
    summary: str = ""
    description: str = ""
    homepage: str = ""
    source_id: str = ""
    licenses: list[str] = field(default_factory=list)
    depends: list[Dependency] = field(default_factory=list)
    provides: list[Dependency] = field(default_factory=list)
    conflicts: list[Dependency] = field(default_factory=list)
    uri: str | None = None
    hash: str | None = None
    size: int | None = None
    #: Records of tags this class does not model, written back unchanged.
    extra: list[MetaRecord] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.name}-{self.version}-{self.release}-{self.build_release}.{self.architecture}"

    @classmethod
    def from_records(cls, records: Iterable[MetaRecord], where: str = "meta") -> PackageMeta:
        values: dict[str, object] = {}
        licenses: list[str] = []
        lists: dict[str, list[Dependency]] = {name: [] for name in _LISTS.values()}
        extra: list[MetaRecord] = []
        for record in records:
            value = record.value
            if record.tag in _STRINGS and isinstance(value, str):
                values[_STRINGS[MetaTag(record.tag)]] = value
            elif record.tag in _INTEGERS and record.type in _INT_TYPES:
                values[_INTEGERS[MetaTag(record.tag)]] = value
            elif record.tag == MetaTag.LICENSE and isinstance(value, str):
                licenses.append(value)
            elif record.tag in _LISTS and isinstance(value, Dependency):
                lists[_LISTS[MetaTag(record.tag)]].append(value)
            else:
                extra.append(record)
        for name in _INTEGERS.values():
            number = values.get(name)
            if isinstance(number, int) and not 0 <= number <= MAX_INTEGER:
                raise StoneError(f"{where}: {name} {number} is out of range (0 to {MAX_INTEGER}, "
                                 "what the databases hold)")
        missing = [n for n in ("name", "version", "release") if n not in values]
        if missing:
            raise StoneError(f"{where}: missing {', '.join(missing)}")
        return cls(
            licenses=licenses,
            depends=lists["depends"],
            provides=lists["provides"],
            conflicts=lists["conflicts"],
            extra=extra,
            **values,  # type: ignore[arg-type]
        )

    def to_records(self) -> list[MetaRecord]:
        """Records in the order real moss (boulder) writes them."""
        out: list[MetaRecord] = []

        def string(tag: MetaTag, value: str | None) -> None:
            if value is not None:
                out.append(MetaRecord(tag, MetaType.STRING, value))

        def u64(tag: MetaTag, value: int | None) -> None:
            if value is not None:
                out.append(MetaRecord(tag, MetaType.UINT64, value))

        string(MetaTag.NAME, self.name)
        string(MetaTag.VERSION, self.version)
        u64(MetaTag.RELEASE, self.release)
        u64(MetaTag.BUILD_RELEASE, self.build_release)
        string(MetaTag.ARCHITECTURE, self.architecture)
        string(MetaTag.SUMMARY, self.summary)
        string(MetaTag.DESCRIPTION, self.description)
        string(MetaTag.SOURCE_ID, self.source_id)
        string(MetaTag.HOMEPAGE, self.homepage)
        out += [MetaRecord(MetaTag.LICENSE, MetaType.STRING, lic) for lic in self.licenses]
        out += [MetaRecord(MetaTag.DEPENDS, MetaType.DEPENDENCY, d) for d in self.depends]
        out += [MetaRecord(MetaTag.PROVIDES, MetaType.PROVIDER, d) for d in self.provides]
        out += [MetaRecord(MetaTag.CONFLICTS, MetaType.PROVIDER, d) for d in self.conflicts]
        string(MetaTag.PACKAGE_URI, self.uri)
        string(MetaTag.PACKAGE_HASH, self.hash)
        u64(MetaTag.PACKAGE_SIZE, self.size)
        out += self.extra
        return out
