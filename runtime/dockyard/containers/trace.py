"""Phase marks for start-latency work: with ``DOCKYARD_TRACE=<file>`` in the daemon's environment,
the daemon, the launcher and every shim append ``<monotonic ns> <pid> <id12> <phase>`` lines
to that file (one ``O_APPEND`` write each, so processes never interleave within a line;
CLOCK_MONOTONIC is system-wide, so lines from different processes order correctly).

Wall-clock medians on a shared machine are noise; these marks say where the time goes.
Unset (the default), :func:`mark` is one global lookup and a comparison.
``python3 -m dockyard.containers.trace <file>`` prints each container's phases as deltas.
"""

from __future__ import annotations

import os
import sys
import time

PATH: str | None = os.environ.get("DOCKYARD_TRACE") or None
_fd: tuple[int, int] | None = None  # (pid, fd): kept open, so a container's init can mark after pivot_root


def mark(cid: str, phase: str, ns: int | None = None) -> None:
    if PATH is None:
        return
    ns = time.monotonic_ns() if ns is None else ns
    global _fd
    pid = os.getpid()
    if _fd is None or _fd[0] != pid:
        try:
            _fd = (pid, os.open(PATH, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644))
        except OSError:
            if _fd is None:
                return
            _fd = (pid, _fd[1])  # after pivot_root: the inherited descriptor still works
    try:
        os.write(_fd[1], f"{ns} {pid} {cid[:12]} {phase}\n".encode())
    except OSError:
        pass


def report(lines: list[str]) -> str:
    """Per container: each phase as ms since the container's first mark (and since the last)."""
    by_id: dict[str, list[tuple[int, str, str]]] = {}
    for line in lines:
        parts = line.split(" ", 3)
        if len(parts) == 4:
            by_id.setdefault(parts[2], []).append((int(parts[0]), parts[1], parts[3].strip()))
    out = []
    for cid, marks in by_id.items():
        marks.sort()
        first = previous = marks[0][0]
        out.append(cid)
        for ns, pid, phase in marks:
            out.append(f"  {(ns - first) / 1e6:8.2f} {(ns - previous) / 1e6:+7.2f}  {pid:>7} {phase}")
            previous = ns
    return "\n".join(out)


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        print(report(f.readlines()))
