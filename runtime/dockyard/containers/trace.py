"""Phase marks for start-latency work: with ``DOCKYARD_TRACE=<file>`` in the daemon's environment,
the daemon, the launcher and every shim append ``<monotonic ns> <pid> <id12> <phase>`` lines
to that file (one ``O_APPEND`` write each, so processes never interleave within a line;
CLOCK_MONOTONIC is system-wide, so lines from different processes order correctly).

Wall-clock medians on a shared machine are noise; these marks say where the time goes.
Unset (the default), :func:`mark` is one global lookup and a comparison. With
``DOCKYARD_TRACE_CPU=1`` as well, each mark also carries its thread's CPU time
(`` @<tid>:<thread CPU ns>``), and the summary shows the CPU each thread spent since its own
previous mark for that container: on a loaded machine, CPU is what a change can be judged by.
``python3 -m dockyard.containers.trace [--summary] <file>`` prints each container's phases as
deltas, or (``--summary``) the medians over all containers.
"""

from __future__ import annotations

import os
import sys
import time

PATH: str | None = os.environ.get("DOCKYARD_TRACE") or None
CPU: bool = bool(os.environ.get("DOCKYARD_TRACE_CPU"))
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
    if CPU:
        # a process that never imported threading has one thread, its pid's: importing it
        # here cost a spare shim ~5 ms of CPU on its first mark, a gap that was not a start's
        threading = sys.modules.get("threading")
        tid = threading.get_native_id() if threading is not None else pid
        phase += f" @{tid}:{time.thread_time_ns()}"
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


def _cpu_steps(marks: list[tuple[int, str, str]]) -> list[float | None]:
    """Per mark: ms of CPU its thread spent since that thread's previous mark (None for a
    thread's first mark, or without ``DOCKYARD_TRACE_CPU``)."""
    last: dict[str, int] = {}
    steps: list[float | None] = []
    for _ns, pid, phase in marks:
        _, sep, cpu = phase.rpartition(" @")
        if not sep:
            steps.append(None)
            continue
        thread, _, used = cpu.partition(":")
        key = f"{pid}/{thread}"
        steps.append((int(used) - last[key]) / 1e6 if key in last else None)
        last[key] = int(used)
    return steps


def _name(phase: str) -> str:
    return phase.rpartition(" @")[0] or phase


def report(lines: list[str]) -> str:
    """Per container: each phase as ms since the container's first mark (and since the last)."""
    out = []
    for cid, marks in _by_id(lines).items():
        first = previous = marks[0][0]
        out.append(cid)
        for (ns, pid, phase), cpu in zip(marks, _cpu_steps(marks)):
            used = f" cpu {cpu:5.2f}" if cpu is not None else ""
            out.append(f"  {(ns - first) / 1e6:8.2f} {(ns - previous) / 1e6:+7.2f}{used}  {pid:>7} "
                       f"{_name(phase)}")
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
    cpu: dict[str, list[float]] = {}
    for marks in runs:
        seen: dict[str, int] = {}
        previous = marks[0][0]
        for (ns, _pid, phase), used in zip(marks, _cpu_steps(marks)):
            phase = _name(phase)
            seen[phase] = seen.get(phase, 0) + 1
            key = f"{phase}#{seen[phase]}"
            at.setdefault(key, []).append((ns - marks[0][0]) / 1e6)
            step.setdefault(key, []).append((ns - previous) / 1e6)
            if used is not None:
                cpu.setdefault(key, []).append(used)
            previous = ns
    common = [k for k in at if len(at[k]) > len(runs) // 2]
    common.sort(key=lambda k: statistics.median(at[k]))
    rows = [f"{len(runs)} containers; ms: median since the first mark, median since the previous"
            + (", mean CPU of the marking thread since its previous mark" if cpu else "")]
    rows += [f"  {statistics.median(at[k]):8.2f} {statistics.median(step[k]):+7.2f}"
             + (f"  cpu {statistics.mean(cpu[k]):5.2f}" if k in cpu else "  " + " " * 9 if cpu else "")
             + f"  {k}" for k in common]
    if cpu:
        rows.append(f"  CPU between marks, summed (mean per container): "
                    f"{sum(statistics.mean(v) for v in cpu.values() if len(v) > len(runs) // 2):.2f} ms")
    return "\n".join(rows)


if __name__ == "__main__":
    with open(sys.argv[-1], encoding="utf-8") as f:
        text = f.readlines()
    print(summary(text) if "--summary" in sys.argv else report(text))
