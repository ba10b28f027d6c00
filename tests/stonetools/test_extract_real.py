"""moss extract on the real Serpent OS packages: every file lands with its digest."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from moss.cli import main
from moss.stone import EMPTY_DIGEST, FileKind, open_stone, xxh3_128

PACKAGES = [
    "bash-completion-2.11-1-1-x86_64.stone",
    "italian-pizza-1-1-1-x86_64.stone",
    "pineapple-1-1-1-x86_64.stone",
]


def test_real_packages_extract_with_every_digest_checked(
    stone_testdata: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "out"
    files = [str(stone_testdata / name) for name in PACKAGES]
    assert main(["--quiet", "extract", *files, "-C", str(dest)]) == 0
    usr = dest / "usr"
    checked = links = 0
    for name in PACKAGES:
        with open_stone(stone_testdata / name) as reader:
            layout = reader.layout()
        for entry in layout:
            path = usr / entry.target
            st = path.lstat()
            if entry.file_kind is FileKind.REGULAR:
                assert stat.S_ISREG(st.st_mode)
                assert st.st_mode == entry.mode
                assert xxh3_128(path) == entry.digest, entry.target
                checked += 1
            elif entry.file_kind is FileKind.SYMLINK:
                assert os.readlink(path) == entry.source
                links += 1
    assert links == 271
    assert checked == 745 - 271 + 2  # bash-completion's regular files, plus two empty ones
    assert (usr / "share" / "defaults" / "pienapple").read_bytes() == b""
    assert xxh3_128(usr / "share" / "defaults" / "italian-pizza") == EMPTY_DIGEST
