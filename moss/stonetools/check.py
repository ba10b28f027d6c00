"""``moss inspect --check``: read a whole .stone file, as installing it would."""

from __future__ import annotations

from pathlib import Path

from moss.stone import open_stone


def check_stone(path: Path) -> list[str]:
    """Decode every payload of ``path``, checking its checksum and each file's digest.

    Returns the payloads' kinds; a damaged file raises StoneError naming the place.
    """
    with open_stone(path) as reader:
        list(reader.repository_metas())
        reader.layout()
        reader.attributes()
        for _entry, chunks in reader.iter_content():
            for _ in chunks:
                pass
        return [h.kind.name.title() for h in reader.payload_headers()]
