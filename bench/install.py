"""Installing a generated repository end to end, against the limit and ostree.

moss: ``moss.actions.transaction.run`` with every package of the repository into an
empty root (read, verify, store, blit, databases, activation).

Limit: the least any store-based installer must do with the same bytes — read
each package's Content payload, zstd-decompress it, write each unique file once,
hard-link every file into the tree, then one ``syncfs`` (moss makes its writes
durable too).  No hashing, no databases, no checks.

Peer: ``ostree commit`` of the same files (one commit layering every package's
tree) + ``ostree checkout -H`` of it: what an ostree-based system does to go
from content to a deployable hard-link tree.

    python -m bench.install [--packages 200] [--files 250] [--repeats 3]
"""

from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import statistics
from pathlib import Path

import zstandard

from bench.blit import interleaved, spread
from bench.common import Result, command, print_results, workdir
from bench.repo_gen import Generated, make_repository
from moss.actions.transaction import Options, Request
from moss.actions.transaction import run as run_transaction
from moss.stone import EMPTY_DIGEST, FileKind, PayloadKind, digest_hex, open_stone

HEADER_SIZE = 32  # file header and payload header are both 32 bytes (stone-v1.md)

_libc = ctypes.CDLL(None, use_errno=True)


def syncfs(path: Path) -> None:
    """Flush the one filesystem holding ``path`` (os has no syncfs)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if _libc.syncfs(fd) != 0:
            raise OSError(ctypes.get_errno(), f"syncfs {path}")
    finally:
        os.close(fd)


def content_span(stone: Path) -> tuple[int, int, int]:
    """(offset, stored size, plain size) of the Content payload."""
    with open_stone(stone) as reader:
        offset = HEADER_SIZE
        for ph in reader.payload_headers():
            body = offset + HEADER_SIZE
            if ph.kind is PayloadKind.CONTENT:
                return body, ph.stored_size, ph.plain_size
            offset = body + ph.stored_size
    raise ValueError(f"{stone}: no Content payload")


Plan = tuple[Path, tuple[int, int, int], list[tuple[int, int, str]], list[tuple[str, str]]]


def limit_plan(stone: Path) -> Plan:
    """Everything the limit needs from a package, parsed before the clock starts."""
    with open_stone(stone) as reader:
        index = [(e.start, e.end, digest_hex(e.digest)) for e in reader.index()]
        links = [(digest_hex(e.digest) if e.digest != EMPTY_DIGEST else "", e.target)
                 for e in reader.layout() if e.file_kind == FileKind.REGULAR]
    return stone, content_span(stone), index, links


def limit_install(plans: list[Plan], dest: Path) -> None:
    store = dest / "store"
    tree = dest / "usr"
    store.mkdir(parents=True)
    made: set[str] = set()
    dctx = zstandard.ZstdDecompressor()
    for stone, (offset, stored, plain), index, links in plans:
        with open(stone, "rb") as f:
            f.seek(offset)
            data = dctx.decompress(f.read(stored), max_output_size=plain)
        for start, end, key in index:
            blob = store / key
            if not blob.exists():
                blob.write_bytes(data[start:end])
        for key, target in links:
            path = f"{tree}/{target}"
            parent = path.rpartition("/")[0]
            if parent not in made:
                os.makedirs(parent, exist_ok=True)
                made.add(parent)
            if key:
                os.link(store / key, path)
            else:
                open(path, "wb").close()
    syncfs(dest)


def ostree_install(repo: Path, packages: list[Generated], dest: Path) -> None:
    trees = [f"--tree=dir={p.tree}" for p in packages]
    command(["ostree", f"--repo={repo}", "commit", "--branch=bench", "--no-xattrs", *trees])
    command(["ostree", f"--repo={repo}", "checkout", "-H", "bench", str(dest)])


def moss_install(root: Path, packages: list[Generated]) -> None:
    run_transaction(root, Request(install=[p.stone for p in packages]), Options(skip_boot=True))


def measure(packages: int, files: int, repeats: int) -> list[Result]:
    """The three sides interleaved, one of each per round in a rotating order, each
    after an untimed clean-up and ``sync`` (as ``bench.blit`` runs its sides)."""
    with workdir("install") as work:
        generated = make_repository(work / "repo", packages, files)
        target, repo = work / "target", work / "ostree"
        plans = [limit_plan(p.stone) for p in generated]

        def fresh() -> None:
            shutil.rmtree(target, ignore_errors=True)
            shutil.rmtree(repo, ignore_errors=True)
            command(["ostree", f"--repo={repo}", "init", "--mode=bare"])

        times = interleaved({
            "moss": lambda: moss_install(target, generated),
            "zstd decompress + write + link (limit)": lambda: limit_install(plans, target),
            "ostree commit + checkout -H": lambda: ostree_install(repo, generated, target),
        }, repeats, fresh)
        fresh()
        name = f"install: {packages} packages, {packages * files} files"
        moss = times.pop("moss")
        return [Result(name, statistics.median(moss), statistics.median(base), base_name,
                       note=spread(moss, base) if repeats > 1 else "")
                for base_name, base in times.items()]


def run(quick: bool) -> list[Result]:
    # Full size: three interleaved rounds (a moss install of 50 000 files takes ~30 s
    # here, and the repository ~60 s to generate); quick mode one round.
    return measure(20, 50, 1) if quick else measure(200, 250, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packages", type=int, default=200)
    parser.add_argument("--files", type=int, default=250)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print_results(measure(args.packages, args.files, args.repeats))


if __name__ == "__main__":
    main()
