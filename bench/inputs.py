"""Benchmark inputs: layer tars of random, text-like or many-small-file content, and image
archives made from the offline busybox image. Deterministic (seeded), made once and cached."""

from __future__ import annotations

import functools
import hashlib
import io
import os
import random
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from dockyard.testing import busybox

from .harness import Context, MiB

Content = Callable[[int, int], Iterator[bytes]]  # (file index, size) -> chunks


class _ChunkFile(io.RawIOBase):
    """A file-like view of a chunk iterator, so tarfile can stream it without holding it."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks, self._buf = chunks, b""

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._buf) < n:
            chunk = next(self._chunks, b"")
            if not chunk:
                break
            self._buf += chunk
        out, self._buf = (self._buf, b"") if n < 0 else (self._buf[:n], self._buf[n:])
        return out


def random_content(_index: int, size: int) -> Iterator[bytes]:
    """Incompressible: what gzip cannot shrink, so unpack time is write-bound."""
    for off in range(0, size, MiB):
        yield os.urandom(min(MiB, size - off))


_TEXT: list[bytes] = []


def _text_block() -> bytes:
    """4 MiB of word salad from a seeded 3,000-word vocabulary: compresses about like text."""
    if not _TEXT:
        rng = random.Random(1)
        words = ["".join(rng.choices("etaoinshrdlcumwfgypbvkjxqz", k=rng.randint(2, 10)))
                 for _ in range(3000)]
        lines = (" ".join(rng.choices(words, k=12)) for _ in range(4 * MiB // 60))
        _TEXT.append("\n".join(lines).encode()[: 4 * MiB])
    return _TEXT[0]


def text_content(index: int, size: int) -> Iterator[bytes]:
    """Compressible: each file a different rotation of the text block (deflate's 32 KiB window
    never sees the repetition, so the ratio stays that of text)."""
    block = _text_block()
    off = (index * 7919 * 64) % len(block)
    rotated = block[off:] + block[:off]
    for start in range(0, size, len(rotated)):
        yield rotated[: min(len(rotated), size - start)]


def write_layer(out: IO[bytes], files: list[tuple[str, int]], content: Content) -> None:
    """An uncompressed layer tar of ``files`` (path, size) with their parent directories."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        seen: set[str] = set()
        for index, (path, size) in enumerate(files):
            parent = path.rpartition("/")[0]
            if parent and parent not in seen:
                seen.add(parent)
                tar.addfile(_info(parent, tarfile.DIRTYPE, 0o755, 0))
            tar.addfile(_info(path, tarfile.REGTYPE, 0o644, size),
                        _ChunkFile(content(index, size)))


def _info(name: str, kind: bytes, mode: int, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.mtime = kind, mode, size, busybox.EPOCH
    return info


def gzip_layer(dest: Path, files: list[tuple[str, int]], content: Content) -> None:
    """``write_layer`` piped through ``gzip -6 -n`` (Docker's default level) into ``dest``."""
    with open(dest, "wb") as f:
        proc = subprocess.Popen(["gzip", "-6", "-n", "-c"], stdin=subprocess.PIPE, stdout=f)
        assert proc.stdin is not None
        try:
            write_layer(proc.stdin, files, content)
        finally:
            proc.stdin.close()
            if proc.wait() != 0:
                raise RuntimeError("gzip failed")


def big_files(total: int, count: int) -> list[tuple[str, int]]:
    return [(f"data/part-{i:03d}.bin", total // count) for i in range(count)]


def small_files(count: int = 2000, seed: int = 2) -> list[tuple[str, int]]:
    """``count`` files of 0–16 KiB in 40 directories: the shape of a package-manager layer."""
    rng = random.Random(seed)
    return [(f"usr/lib/pkg{i % 40:02d}/file{i:05d}.txt", rng.randint(0, 16 * 1024))
            for i in range(count)]


def diff_id_of_gzip(path: Path) -> str:
    """The sha256 of the decompressed layer: what an unpack must report as diff_id."""
    proc = subprocess.Popen(["gzip", "-dc", str(path)], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    h = hashlib.sha256()
    while chunk := proc.stdout.read(MiB):
        h.update(chunk)
    if proc.wait() != 0:
        raise RuntimeError(f"gzip -dc {path} failed")
    return "sha256:" + h.hexdigest()


def layer_inputs(ctx: Context) -> dict[str, Path]:
    """Display name → cached ``.tar.gz``: random and text content of ``ctx.big`` bytes, and
    a 2,000-file layer."""
    mib = ctx.big // MiB
    specs = {
        f"{mib} MiB random": (f"layer-random-{mib}m.tar.gz", big_files(ctx.big, 16), random_content),
        f"{mib} MiB text": (f"layer-text-{mib}m.tar.gz", big_files(ctx.big, 64), text_content),
        "2,000 files": ("layer-2000-files.tar.gz", small_files(), text_content),
    }
    out = {}
    for label, (name, files, content) in specs.items():
        out[label] = ctx.cached(name, functools.partial(gzip_layer, files=files, content=content))
    return out


def load_archive(ctx: Context) -> Path:
    """A ``docker save`` archive of busybox plus one layer of ``ctx.big`` random bytes."""
    mib = ctx.big // MiB

    def make_layer(p: Path) -> None:
        with open(p, "wb") as f:
            write_layer(f, big_files(ctx.big, 16), random_content)

    layer = ctx.cached(f"layer-random-{mib}m.tar", make_layer)
    image = busybox.make_image("bench-load:latest", extra_layers=[layer])
    return ctx.cached(f"load-{mib}m.tar", lambda p: busybox.write_archive(p, [image]))


def many_images_archive(ctx: Context, count: int = 500) -> Path:
    """One archive of ``count`` distinct images (busybox plus a one-file layer each)."""
    def make(p: Path) -> None:
        images = [busybox.make_image(f"bench-many:{i}", {"etc/bench-id": str(i).encode()})
                  for i in range(count)]
        busybox.write_archive(p, images)
    return ctx.cached(f"images-{count}.tar", make)
