"""``moss index`` writes delta stones from older releases; they rebuild the new blobs.

Generated pairs of releases (files kept, replaced, edited in a few bytes, added,
removed, renamed) are packed with the same code as ``moss pack``; the delta is
applied to the older release's blobs and must give exactly the new release's.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moss.stone import FileType, PackageMeta, StoneError, open_stone, xxh3_128
from moss.stone.delta import (
    DELTAS_NAME,
    MAX_PATCH_INPUT,
    Patch,
    read_delta,
    rebuild,
    write_delta,
)
from moss.stonetools.delta import DELTA_BASES
from moss.stonetools.index import build_index
from tests.support.packages import Link, make_package

CHANGES = st.lists(st.sampled_from(["keep", "replace", "edit", "remove", "rename"]),
                   min_size=1, max_size=8)


def releases(seed: int, changes: list[str]) -> tuple[dict[str, bytes], dict[str, bytes]]:
    rnd = random.Random(seed)
    old = {f"lib/f{i}": rnd.randbytes(rnd.randint(0, 40_000)) for i in range(len(changes))}
    new: dict[str, bytes] = {}
    for (path, data), change in zip(old.items(), changes, strict=True):
        if change == "keep":
            new[path] = data
        elif change == "replace":
            new[path] = rnd.randbytes(len(data) + 1)
        elif change == "edit":
            edited = bytearray(data + b"tail")
            at = rnd.randint(0, len(edited) - 1)
            edited[at:at + 16] = rnd.randbytes(16)
            new[path] = bytes(edited)
        elif change == "rename":
            new[path + ".moved"] = data
    new["lib/added"] = rnd.randbytes(1000)
    return old, new


def with_links_and_folders(files: dict[str, bytes]) -> dict[str, bytes | Link | None]:
    """Real packages hold symlinks and empty folders besides files: a delta keeps them."""
    return {**files, "bin/tool": Link("../lib/added"), "share/empty": None}


def blobs(path: Path) -> dict[int, bytes]:
    with open_stone(path) as reader:
        return {entry.digest: b"".join(chunks) for entry, chunks in reader.iter_content()}


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32), changes=CHANGES)
def test_a_delta_rebuilds_exactly_the_blobs_the_older_release_lacks(
        tmp_path_factory: pytest.TempPathFactory, seed: int, changes: list[str]) -> None:
    folder = tmp_path_factory.mktemp("repo")
    old_files, new_files = releases(seed, changes)
    old = make_package(folder, "pkg", with_links_and_folders(old_files), release=1)
    new = make_package(folder, "pkg", with_links_and_folders(new_files), release=2)
    build_index(folder)
    [entry] = json.loads((folder / DELTAS_NAME).read_text())["deltas"]
    delta_path = folder / entry["uri"]
    delta = read_delta(delta_path)
    with open_stone(new) as reader:
        assert delta.layout == reader.layout()
        assert delta.meta == reader.package_meta()
    old_blobs, new_blobs = blobs(old), blobs(new)
    rebuilt = {digest: b"".join(chunks)
               for digest, chunks in rebuild(delta_path, delta, old_blobs.__getitem__)}
    # Exactly what the store lacks, byte for byte; nothing it already has.
    assert rebuilt == {d: b for d, b in new_blobs.items() if d not in old_blobs}
    assert delta.base_id == entry["base"] and delta.target_id == entry["target"]


def test_edited_files_travel_as_small_patches(tmp_path: Path) -> None:
    rnd = random.Random(7)
    old_files = {f"lib/f{i}": rnd.randbytes(100_000) for i in range(20)}
    new_files = dict(old_files)
    for i in range(2):
        edited = bytearray(old_files[f"lib/f{i}"])
        edited[500:516] = rnd.randbytes(16)
        new_files[f"lib/f{i}"] = bytes(edited)
    make_package(tmp_path, "pkg", old_files, release=1)
    new = make_package(tmp_path, "pkg", new_files, release=2)
    build_index(tmp_path)
    [delta_file] = (tmp_path / "deltas").iterdir()
    assert len(read_delta(delta_file).patches) == 2
    assert delta_file.stat().st_size < new.stat().st_size * 0.01


def test_deltas_come_from_the_newest_few_releases_and_real_moss_reads_the_index(
        tmp_path: Path) -> None:
    for release in range(1, DELTA_BASES + 3):
        make_package(tmp_path, "pkg", {"bin/pkg": f"release {release}\n"}, release=release)
    index = build_index(tmp_path)
    listed = json.loads((tmp_path / DELTAS_NAME).read_text())["deltas"]
    assert len(listed) == DELTA_BASES
    for entry in listed:
        with open_stone(tmp_path / entry["uri"]) as reader:
            assert reader.file_type is FileType.DELTA
        check = subprocess.run([sys.executable, "-m", "moss", "inspect", "--check", "-q",
                                str(tmp_path / entry["uri"])], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
    # The index itself is what it always was: one Meta payload per package, newest release.
    with open_stone(index) as reader:
        assert reader.file_type is FileType.REPOSITORY
        assert [m.release for m in reader.repository_metas()] == [DELTA_BASES + 2]
        assert all(ph.kind.name == "META" for ph in reader.payload_headers())


@settings(max_examples=10, deadline=None)
@given(size=st.integers(MAX_PATCH_INPUT + 1, 2**64 - 1))
def test_a_delta_claiming_a_huge_patch_is_refused_before_anything_is_allocated(
        tmp_path_factory: pytest.TempPathFactory, size: int) -> None:
    folder = tmp_path_factory.mktemp("bomb")
    out = folder / "bomb.delta"
    patch = b"not really a patch"
    write_delta(out, PackageMeta(name="pkg", version="1", release=2), [], "a" * 64, "b" * 64,
                {xxh3_128(patch): patch}, [Patch(xxh3_128(patch), 1, 2, size)])
    with pytest.raises(StoneError, match="claims"):
        read_delta(out)
