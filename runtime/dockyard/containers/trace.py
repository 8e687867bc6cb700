"""Phase marks for start-latency work: with ``DOCKYARD_TRACE=<file>`` in the daemon's environment,
the daemon, the launcher and every shim append ``<monotonic ns> <pid> <id12> <phase>`` lines
to that file (one ``O_APPEND`` write each, so processes never interleave within a line;
CLOCK_MONOTONIC is system-wide, so lines from different processes order correctly).

Wall-clock medians on a shared machine are noise; these marks say where the time goes.
Unset (the default), :func:`mark` is one global lookup and a comparison.
``python3 -m dockyard.containers.trace [--summary] <file>`` prints each container's phases as
deltas, or (``--summary``) the medians over all containers.
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


def _by_id(lines: list[str]) -> dict[str, list[tuple[int, str, str]]]:
    by_id: dict[str, list[tuple[int, str, str]]] = {}
    for line in lines:
        parts = line.split(" ", 3)
        if len(parts) == 4:
            by_id.setdefault(parts[2], []).append((int(parts[0]), parts[1], parts[3].strip()))
    for marks in by_id.values():
        marks.sort()
    return by_id


def report(lines: list[str]) -> str:
    """Per container: each phase as ms since the container's first mark (and since the last)."""
    out = []
    for cid, marks in _by_id(lines).items():
        first = previous = marks[0][0]
        out.append(cid)
        for ns, pid, phase in marks:
            out.append(f"  {(ns - first) / 1e6:8.2f} {(ns - previous) / 1e6:+7.2f}  {pid:>7} {phase}")
            previous = ns
    return "\n".join(out)


def summary(lines: list[str], skip: int = 3) -> str:
    """Medians over containers (the first ``skip`` left out: warm-up) of each phase's time
    since the container's first mark and since the mark before it. Phases are named with
    their occurrence (``handler#2``); marks not tied to a container (``spare-…``) are left out."""
    import statistics  # here: every shim and init imports this module, and must stay small
    runs = [m for cid, m in _by_id(lines).items() if not cid.startswith("spare-")][skip:]
    at: dict[str, list[float]] = {}
    step: dict[str, list[float]] = {}
    for marks in runs:
        seen: dict[str, int] = {}
        previous = marks[0][0]
        for ns, _pid, phase in marks:
            seen[phase] = seen.get(phase, 0) + 1
            key = f"{phase}#{seen[phase]}"
            at.setdefault(key, []).append((ns - marks[0][0]) / 1e6)
            step.setdefault(key, []).append((ns - previous) / 1e6)
            previous = ns
    common = [k for k in at if len(at[k]) > len(runs) // 2]
    common.sort(key=lambda k: statistics.median(at[k]))
    rows = [f"{len(runs)} containers; ms: median since the first mark, median since the previous"]
    rows += [f"  {statistics.median(at[k]):8.2f} {statistics.median(step[k]):+7.2f}  {k}"
             for k in common]
    return "\n".join(rows)


if __name__ == "__main__":
    with open(sys.argv[-1], encoding="utf-8") as f:
        text = f.readlines()
    print(summary(text) if "--summary" in sys.argv else report(text))
