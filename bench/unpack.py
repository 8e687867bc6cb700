"""Unpacking a gzip layer: dockyard's snapshot unpacker against ``tar -xzf`` of the same file.

Target (issue 2): within 1.3× of ``tar -xzf``. Both write to the same file system; each run
starts from an empty directory after ``sync``, so one run's write-back does not tax the next.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .harness import Context, Result, Stats, Unsupported, attempt, fresh_dir, measure, run
from .inputs import diff_id_of_gzip, layer_inputs

TARGET = "≤ 1.30× tar"


def dockyard_unpack(src: Path, dest: Path) -> str:
    """The dockyard side; returns the diff_id it computed."""
    try:
        from dockyard.store.snapshots import unpack_layer
    except ImportError:
        raise Unsupported("not implemented") from None
    return unpack_layer(src, dest)


def _dockyard(ctx: Context, src: Path, dest: Path) -> Stats:
    expected = diff_id_of_gzip(src)
    got = dockyard_unpack(src, dest)  # also proves the side works before timing it
    if got != expected:
        raise RuntimeError(f"dockyard unpack of {src.name}: diff_id {got}, expected {expected}")
    return measure(lambda: dockyard_unpack(src, dest), ctx.repeats, setup=fresh_dir(dest))


def _tar(ctx: Context, src: Path, dest: Path) -> Stats:
    if "tar" not in ctx.peers:
        raise Unsupported("tar not installed")
    clean = fresh_dir(dest)

    def setup() -> None:
        clean()
        dest.mkdir(parents=True)

    return measure(lambda: run("tar", "-xzf", str(src), "-C", str(dest)), ctx.repeats, setup=setup)


def bench(ctx: Context) -> list[Result]:
    return [_one(ctx, label, src) for label, src in layer_inputs(ctx).items()]


def _one(ctx: Context, label: str, src: Path) -> Result:
    print(f"  unpack {label} ({src.stat().st_size / 1e6:.0f} MB gzip)", file=sys.stderr)
    with ctx.scratch("unpack") as scratch:
        dest = scratch / "out"
        mine = attempt(lambda: _dockyard(ctx, src, dest))
        peer = attempt(lambda: _tar(ctx, src, dest))
    return Result(f"unpack {label}", mine, {"tar -xzf": peer}, TARGET, _uncompressed_size(src))


def _uncompressed_size(src: Path) -> int:
    """gzip's trailer holds the size mod 2³²; fine for inputs under 4 GiB."""
    with open(src, "rb") as f:
        f.seek(-4, 2)
        return int.from_bytes(f.read(4), "little")
