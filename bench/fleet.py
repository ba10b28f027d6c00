"""Fleet delivery (issue 28): deltas, cheap refreshes, and many machines on one nginx.

Rows:

- **update bytes**: the issue's case, a package of ``--files`` files (100 x 200 KiB =
  20 MB) whose next release replaces 5 files and edits 5 in 16 bytes; both releases
  indexed by ``moss index``; one client holding the older one runs ``moss sync -u``.
  Bytes nginx sent (``$bytes_sent``, the refresh included) against the new package's
  size (goal: 15 %).  The result is checked byte for byte and by ``state verify``.
- **no-change refresh**: ``moss repo update`` with nothing new, against the index's
  size (goal: 4 KiB).
- **rebuild**: rebuilding the new release's missing blobs from the delta and the
  older blobs (:func:`moss.stone.delta.rebuild`, then written), against extracting
  every blob of the full package (decompress, check, write); goal 1.5x.
- **fleet**: ``--clients`` roots (50) holding the older release run ``moss sync -u``
  at once against one nginx, with deltas and without (the list withheld): bytes
  served, wall time, and the server's peak open connections (``stub_status``,
  polled every 5 ms).

    python -m bench.fleet [--files 100] [--size 204800] [--clients 50]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import Result, median_time, print_results, workdir
from moss.stone import open_stone
from moss.stone.delta import DELTAS_NAME, read_delta, rebuild
from moss.stonetools.index import build_index
from tests.support.nginx import NGINX, Nginx
from tests.support.packages import make_package


def releases(files: int, size: int) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """The issue's case: 5 files replaced, 5 edited in 16 bytes."""
    rnd = random.Random(28)
    old = {f"lib/big/f{i:03}": rnd.randbytes(size) for i in range(files)}
    new = dict(old)
    for i in range(min(5, files)):
        new[f"lib/big/f{i:03}"] = rnd.randbytes(size)
    for i in range(5, min(10, files)):
        edited = bytearray(old[f"lib/big/f{i:03}"])
        at = rnd.randrange(size - 16)
        edited[at:at + 16] = rnd.randbytes(16)
        new[f"lib/big/f{i:03}"] = bytes(edited)
    return old, new


def moss(root: Path, *args: str) -> None:
    """One moss command, in this process (the fleet's clients are processes of their own)."""
    from moss.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["-D", str(root), "-y", "--quiet", *args])
    if status != 0:
        raise RuntimeError(f"moss {' '.join(args)} failed: {err.getvalue().strip()}")


def serve(server: Nginx, folder: Path, deltas: bool = True) -> None:
    for path in folder.rglob("*"):
        if path.is_file() and (deltas or "delta" not in path.name):
            server.publish(f"repo/{path.relative_to(folder).as_posix()}", path.read_bytes())
    if not deltas:
        (server.www / "repo" / DELTAS_NAME).unlink(missing_ok=True)


def installed(root: Path) -> dict[str, bytes]:
    return {f"lib/big/{p.name}": p.read_bytes() for p in (root / "usr/lib/big").iterdir()}


class PeakConnections:
    """Polls nginx's open connections in a thread; ``peak`` once stopped."""

    def __init__(self, server: Nginx) -> None:
        self.server, self.peak, self._stop = server, 0, threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.server.active_connections())
            time.sleep(0.005)

    def __enter__(self) -> PeakConnections:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def prepare(work: Path, server: Nginx, files: int, size: int
            ) -> tuple[Path, Path, Path, dict[str, bytes]]:
    """A client root with release 1; the folder then holds release 2 and its delta."""
    old_files, new_files = releases(files, size)
    folder, scratch = work / "repo", work / "scratch"
    folder.mkdir()
    scratch.mkdir()
    old = Path(shutil.move(make_package(scratch, "big", old_files, release=1), folder))
    build_index(folder)
    serve(server, folder)
    root = work / "client"
    moss(root, "repo", "add", "main", server.url("repo/stone.index"))
    moss(root, "repo", "update")
    moss(root, "install", "big")
    new = Path(shutil.move(make_package(scratch, "big", new_files, release=2), folder))
    build_index(folder)
    return root, old, new, new_files


def single_update(work: Path, server: Nginx, root: Path, new: Path,
                  new_files: dict[str, bytes]) -> list[Result]:
    client = work / "single"
    shutil.copytree(root, client, symlinks=True)
    serve(server, work / "repo")
    moss(client, "repo", "update")
    server.clear_log()
    moss(client, "repo", "update")
    refresh = server.bytes_sent()
    server.clear_log()
    moss(client, "sync", "-u")
    moved = server.bytes_sent()
    if installed(client) != new_files:
        raise RuntimeError("the updated tree differs from the new release")
    moss(client, "state", "verify")
    index = (work / "repo" / "stone.index").stat().st_size
    return [
        Result("fleet: sync -u, 10 of the files changed (bytes on the wire)", moved,
               new.stat().st_size, "the new package (goal: 0.15)", "B", "byte-identical, "
               "state verify clean"),
        Result("fleet: no-change repo update (bytes on the wire)", refresh, index,
               "the index", "B", f"goal 4 KiB: {'met' if refresh <= 4096 else 'NOT met'}"),
    ]


def rebuild_row(work: Path, old: Path, new: Path) -> Result:
    entry = json.loads((work / "repo" / DELTAS_NAME).read_text())["deltas"][0]
    delta_path = work / "repo" / entry["uri"]
    delta = read_delta(delta_path)
    base_dir = work / "base-blobs"
    base_dir.mkdir()
    with open_stone(old) as reader:
        for index_entry, chunks in reader.iter_content():
            (base_dir / f"{index_entry.digest:032x}").write_bytes(b"".join(chunks))
    out = work / "out"

    def fresh() -> None:
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()

    def from_delta() -> None:
        base = lambda digest: (base_dir / f"{digest:032x}").read_bytes()  # noqa: E731
        for digest, chunks in rebuild(delta_path, delta, base):
            with (out / f"{digest:032x}").open("wb") as f:
                for chunk in chunks:
                    f.write(chunk)

    def full() -> None:
        with open_stone(new) as reader:
            for index_entry, chunks in reader.iter_content():
                with (out / f"{index_entry.digest:032x}").open("wb") as f:
                    for chunk in chunks:
                        f.write(chunk)

    delta_time = median_time(from_delta, 5, fresh)
    full_time = median_time(full, 5, fresh)
    return Result("fleet: rebuild the new blobs from the delta", delta_time, full_time,
                  "extract the full package (goal: 1.5)", "s",
                  f"delta {delta_path.stat().st_size} B, {len(delta.patches)} patches")


@dataclass(frozen=True)
class FleetRun:
    bytes_served: int
    wall: float
    peak_connections: int


def fleet(work: Path, server: Nginx, root: Path, clients: int, deltas: bool) -> FleetRun:
    roots = []
    for number in range(clients):
        copy = work / f"fleet-{deltas}-{number}"
        shutil.copytree(root, copy, symlinks=True)
        roots.append(copy)
    # Each client's sync refreshes its index (and the deltas list) first, as a user's does.
    serve(server, work / "repo", deltas=deltas)
    server.clear_log()
    with PeakConnections(server) as peak:
        start = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, "-m", "moss", "-D", str(r), "-y", "--quiet",
                                   "sync", "-u"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                 for r in roots]
        failed = [p for p in procs if p.wait() != 0]
        wall = time.perf_counter() - start
    if failed:
        raise RuntimeError(f"{len(failed)} clients failed: {failed[0].stderr}")
    for copy in roots:
        shutil.rmtree(copy, ignore_errors=True)
    return FleetRun(server.bytes_sent(), wall, peak.peak)


def run(quick: bool = False, files: int | None = None, size: int | None = None,
        clients: int | None = None) -> list[Result]:
    if not Path(NGINX).exists():
        return [Result("fleet: delivery from nginx", None, None, "",
                       note="not measured: nginx is not installed (Debian package nginx)")]
    files = files or (20 if quick else 100)
    size = size or (20_000 if quick else 200 * 1024)
    clients = clients or (5 if quick else 50)
    with workdir("fleet") as work:
        server = Nginx(work / "nginx")
        server.start()
        try:
            root, old, new, new_files = prepare(work, server, files, size)
            rows = single_update(work, server, root, new, new_files)
            rows.append(rebuild_row(work, old, new))
            with_deltas = fleet(work, server, root, clients, deltas=True)
            without = fleet(work, server, root, clients, deltas=False)
        finally:
            server.stop()
    name = f"fleet: {clients} clients sync -u at once from one nginx, with deltas"
    peaks = (f"server's peak connections: {with_deltas.peak_connections} with deltas, "
             f"{without.peak_connections} without")
    rows += [Result(f"{name}: bytes served", with_deltas.bytes_served, without.bytes_served,
                    "full packages", "B"),
             Result(f"{name}: wall time", with_deltas.wall, without.wall, "full packages", "s",
                    peaks)]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet")
    parser.add_argument("--files", type=int)
    parser.add_argument("--size", type=int)
    parser.add_argument("--clients", type=int)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print_results(run(args.quick, args.files, args.size, args.clients))


if __name__ == "__main__":
    main()
