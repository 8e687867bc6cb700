"""Container healthchecks (``HEALTHCHECK``, ``docker run --health-*``), run as dockerd runs them
(its ``daemon/health.go``).

What the API carries::

    Config.Healthcheck  {"Test", "Interval", "Timeout", "StartPeriod", "StartInterval", "Retries"}
                        durations in ns, each left out when 0 (Go's omitempty), in that order
    State.Health        {"Status", "FailingStreak", "Log": [{"Start", "End", "ExitCode", "Output"}]}
                        the last 5 results; absent until a start with a probe

``Test`` is ``["CMD", prog, arg…]``, ``["CMD-SHELL", "command"]`` (run by ``Config.Shell``, else
``/bin/sh -c``) or ``["NONE"]``; an unknown type is no probe either (dockerd logs a warning).

The status, one state machine per container::

    start ──▶ starting ──exit 0──▶ healthy ◀──exit 0── unhealthy
                 │                   │                    ▲
                 └──── Retries failures in a row ─────────┘   (a failure while still
                                                               starting inside StartPeriod
                                                               does not count)
    exit or pause ──▶ unhealthy, silently (dockerd: "unhealthy when the monitor has stopped
                      for compatibility reasons"); unpause and a re-adopting daemon resume
                      the checks without a reset, a start resets to starting (the log stays)

A change of status is a ``health_status: <status>`` event, and saves the record; a check
that changes nothing else is kept in memory until the exit, a pause or the daemon's stop (a
daemon killed meanwhile loses at most those log entries; dockerd keeps them in memory too).
Each check is one exec in the container (:class:`~.execs.ExecManager`, so ``exec_create``/
``exec_start``/``exec_die`` events as dockerd's), its stdout and stderr into one buffer of
4096 bytes ("..." when cut), killed after ``Timeout`` ("Health check exceeded timeout (1s)",
exit code -1); a check that cannot start is exit code -1 with the error as its output. Checks
run one after the other, each ``Interval`` after the end of the previous one
(``StartInterval`` while still starting inside ``StartPeriod``), the first one ``Interval``
after the start.

Cost: a container without a probe has no thread and no timer; one with a probe has one
thread, asleep on an event between checks.
"""

from __future__ import annotations

import logging
import os
import selectors
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from ..errors import DockyardError, InvalidArgument
from ..store.timefmt import parse_unix, rfc3339_ns

log = logging.getLogger("dockyard.containers")

STARTING: Final = "starting"
HEALTHY: Final = "healthy"
UNHEALTHY: Final = "unhealthy"
NO_HEALTHCHECK: Final = "none"
STATUSES: Final = (STARTING, HEALTHY, UNHEALTHY, NO_HEALTHCHECK)

FIELDS: Final = ("Test", "Interval", "Timeout", "StartPeriod", "StartInterval", "Retries")
MIN_DURATION: Final = 1_000_000  # 1ms, dockerd's containertypes.MinimumDuration
DEFAULT_INTERVAL: Final = 30_000_000_000
DEFAULT_TIMEOUT: Final = 30_000_000_000
DEFAULT_START_INTERVAL: Final = 5_000_000_000
DEFAULT_RETRIES: Final = 3
MAX_OUTPUT: Final = 4096
MAX_LOG: Final = 5
KILL_WAIT: Final = 10.0
"""Seconds a timed-out or cancelled probe is given to die once killed (so that dying probes
never pile up), as dockerd waits for its probe before the next."""


# ---- the configuration (create, commit) ------------------------------------------------------


def validate(config: dict[str, Any] | None) -> None:
    """dockerd's checks of a create's ``Config.Healthcheck``, in its order and words."""
    if not config:
        return
    for key in ("Interval", "Timeout"):
        _check_duration(config, key)
    if int(config.get("Retries") or 0) < 0:
        raise InvalidArgument("Retries in Healthcheck cannot be negative")
    for key in ("StartPeriod", "StartInterval"):
        _check_duration(config, key)


def _check_duration(config: dict[str, Any], key: str) -> None:
    value = int(config.get(key) or 0)
    if value != 0 and value < MIN_DURATION:
        raise InvalidArgument(f"{key} in Healthcheck cannot be less than 1ms")


def merge(mine: dict[str, Any] | None, base: dict[str, Any] | None) -> dict[str, Any] | None:
    """dockerd's merge of a container's (or a commit's) Healthcheck with its image's: every
    field left unset takes the image's; ``None`` when neither has one."""
    if mine is None:
        return normalize(base) if base is not None else None
    merged = dict(mine)
    for key in FIELDS:
        if not merged.get(key) and base:
            merged[key] = base.get(key)
    return normalize(merged)


def normalize(config: dict[str, Any]) -> dict[str, Any]:
    """As dockerd writes it back: its fields in order, each left out when empty."""
    return {key: config[key] for key in FIELDS if config.get(key)}


def probe_command(config: dict[str, Any]) -> list[str] | None:
    """The exec a container's check runs, or ``None`` when it has none (no Healthcheck,
    ``NONE``, an empty Test or an unknown type)."""
    test = list((config.get("Healthcheck") or {}).get("Test") or [])
    if not test or test[0] not in ("CMD", "CMD-SHELL"):
        if test and test[0] != "NONE":
            log.warning("Unknown healthcheck type '%s' (expected 'CMD')", test[0])
        return None
    if test[0] == "CMD-SHELL":
        return [*(config.get("Shell") or ["/bin/sh", "-c"]), *test[1:]]
    return test[1:]


@dataclass(frozen=True)
class Settings:
    """A probe's timing, dockerd's defaults where the config has 0."""

    interval: int = DEFAULT_INTERVAL
    timeout: int = DEFAULT_TIMEOUT
    start_period: int = 0
    start_interval: int = DEFAULT_START_INTERVAL
    retries: int = DEFAULT_RETRIES

    @classmethod
    def of(cls, config: dict[str, Any]) -> Settings:
        hc = config.get("Healthcheck") or {}
        return cls(interval=int(hc.get("Interval") or 0) or DEFAULT_INTERVAL,
                   timeout=int(hc.get("Timeout") or 0) or DEFAULT_TIMEOUT,
                   start_period=int(hc.get("StartPeriod") or 0),
                   start_interval=int(hc.get("StartInterval") or 0) or DEFAULT_START_INTERVAL,
                   retries=max(int(hc.get("Retries") or 0), 0) or DEFAULT_RETRIES)

    def wait_ns(self, status: str, since_start_ns: int) -> int:
        """The time before the next check: ``StartInterval`` while still starting in the
        start period (dockerd 25's getInterval), else ``Interval``."""
        if since_start_ns >= self.start_period or status != STARTING:
            return self.interval
        return self.start_interval


# ---- the state machine (pure) ----------------------------------------------------------------


def starting(previous: dict[str, Any] | None) -> dict[str, Any]:
    """A (re)start: starting again, no failing streak, the log kept."""
    return {"Status": STARTING, "FailingStreak": 0, "Log": list((previous or {}).get("Log") or [])}


def stopped(health: dict[str, Any]) -> dict[str, Any]:
    """The checks stopped (exit, pause): unhealthy, as dockerd's CloseMonitorChannel."""
    return {**health, "Status": UNHEALTHY}


def with_result(health: dict[str, Any], result: dict[str, Any], settings: Settings,
                since_start_ns: int) -> dict[str, Any]:
    """``health`` after one check's ``result`` (dockerd's handleProbeResult);
    ``since_start_ns``: from the container's start to the check's."""
    status, streak = health["Status"], int(health["FailingStreak"])
    if result["ExitCode"] == 0:
        status, streak = HEALTHY, 0
    elif status != STARTING or since_start_ns >= settings.start_period:
        streak += 1
        if streak >= settings.retries:
            status = UNHEALTHY
    entries = [*(health.get("Log") or []), result][-MAX_LOG:]
    return {"Status": status, "FailingStreak": streak, "Log": entries}


def status_of(state: dict[str, Any]) -> str:
    """What ``docker ps --filter health=`` compares: the status, or "none"."""
    health = state.get("Health")
    return str(health["Status"]) if health else NO_HEALTHCHECK


def ps_text(state: dict[str, Any]) -> str:
    """The part of ``docker ps``'s "Up 3 seconds (healthy)" in brackets; "" without checks."""
    health = state.get("Health")
    if not health:
        return ""
    return "health: starting" if health["Status"] == STARTING else str(health["Status"])


def check_filter(values: list[str]) -> None:
    for value in values:
        if value not in STATUSES:
            raise InvalidArgument(f"Unrecognised filter value for health: {value}")


# ---- one check -------------------------------------------------------------------------------


class Output:
    """dockerd's limitedBuffer: the first 4096 bytes, then "..." if more came."""

    def __init__(self) -> None:
        self._data = bytearray()
        self.truncated = False

    def write(self, data: bytes) -> None:
        room = MAX_OUTPUT - len(self._data)
        self._data += data[:max(room, 0)]
        self.truncated = self.truncated or len(data) > room

    def text(self) -> str:
        out = self._data.decode("utf-8", errors="replace")  # as Go's JSON encoder treats it
        return out + "..." if self.truncated else out


def timeout_message(timeout_ns: int) -> str:
    from ..build.imageconfig import go_duration
    return f"Health check exceeded timeout ({go_duration(timeout_ns)})"


class Probe:
    """One check: an exec of ``command`` in the container, read until it ends or times out.
    ``cancel`` (from another thread) kills it, as dockerd cancels a probe at a stop."""

    def __init__(self, execs: Any, container_id: str, command: list[str], timeout_ns: int) -> None:
        self.execs, self.container_id = execs, container_id
        self.command, self.timeout_ns = command, timeout_ns
        self._process: Any = None
        self._cancelled = self._doomed = False  # no exec to start; the running one to kill
        self._gate = threading.Lock()  # held while an exec starts: see settle

    def run(self) -> dict[str, Any]:
        """The result's ExitCode, Output and End (the caller adds Start)."""
        try:
            exec_id = self.execs.create(self.container_id, {
                "Cmd": self.command, "AttachStdout": True, "AttachStderr": True})
        except DockyardError as exc:  # the container stopped meanwhile, an empty command…
            return _result(-1, str(exc))
        try:
            with self._gate:
                if self._cancelled:  # stopped meanwhile: no exec started (the daemon may be closing)
                    return _result(-1, "cancelled")
                try:
                    session = self.execs.start(exec_id)
                except DockyardError as exc:  # dockerd's words: "OCI runtime exec failed: …"
                    return _result(-1, str(exc))
            try:
                self._process = session.instance.process
                if self._doomed:  # cancelled while it started
                    self._kill()
                return self._collect(exec_id, session)
            finally:
                session.close()
        finally:
            self.execs.discard(exec_id)  # dockerd lists no finished exec in ExecIDs

    def cancel(self, kill: bool = True) -> None:
        """No exec to start any more, and with ``kill`` the one running killed — on a thread of
        its own: the caller may be the thread that reads every shim (an exit, a pause), and the
        launcher's request waits behind any start."""
        self._cancelled = True
        self._doomed = kill
        if kill and self._process is not None:
            threading.Thread(target=self._kill, daemon=True, name="health-cancel").start()

    def settle(self, timeout: float) -> None:
        """Once cancelled: wait until no exec start is in flight, so that the launcher, closed
        next at the daemon's stop, is never asked for one it cannot answer any more."""
        if self._gate.acquire(timeout=timeout):
            self._gate.release()

    def _kill(self) -> None:
        process = self._process
        if process is not None:
            try:
                process.signal(signal.SIGKILL)
            except (DockyardError, OSError):
                pass  # the launcher is gone, and its processes with it

    def _collect(self, exec_id: str, session: Any) -> dict[str, Any]:
        output = Output()
        deadline = time.monotonic() + self.timeout_ns / 1e9
        if not _read(session, output, deadline):
            end = time.time_ns()
            self._kill()
            self.execs.wait(exec_id, KILL_WAIT)
            return _result(-1, timeout_message(self.timeout_ns), end)
        code = self.execs.wait(exec_id, max(deadline - time.monotonic(), 0) + KILL_WAIT)
        if code is None:  # the exit never came: the launcher is gone
            return _result(-1, f"healthcheck for container {self.container_id} has no exit code")
        return _result(int(code), output.text())


def _result(code: int, output: str, end_ns: int | None = None) -> dict[str, Any]:
    return {"End": rfc3339_ns(time.time_ns() if end_ns is None else end_ns),
            "ExitCode": code, "Output": output}


def _read(session: Any, output: Output, deadline: float) -> bool:
    """Both streams into ``output`` until they end, or the process exits (what a child it
    left behind writes later is not waited for); False when ``deadline`` came first."""
    pipes = [fd for fd in (session.stdout, session.stderr) if fd is not None]
    pidfd = _pidfd(session.instance.pid)
    with selectors.DefaultSelector() as selector:
        for fd in pipes:
            selector.register(fd, selectors.EVENT_READ)
        if pidfd is not None:
            selector.register(pidfd, selectors.EVENT_READ)
        try:
            while pipes:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                for key, _ in selector.select(remaining):
                    if key.fd == pidfd:
                        _drain(pipes, output)
                        return True
                    data = os.read(key.fd, 65536)
                    if data:
                        output.write(data)
                    else:
                        selector.unregister(key.fd)
                        pipes.remove(key.fd)
            return True
        finally:
            if pidfd is not None:
                os.close(pidfd)


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid) if pid else None
    except OSError:
        return None  # gone already: its pipes' ends tell the rest


def _drain(pipes: list[int], output: Output) -> None:
    """The process exited: what it wrote is in the pipes; take it without waiting."""
    for fd in pipes:
        os.set_blocking(fd, False)
        try:
            while data := os.read(fd, 65536):
                output.write(data)
        except BlockingIOError:
            pass


# ---- the monitor -----------------------------------------------------------------------------


class _Engine:
    """What an :class:`~.execs.ExecManager` needs of an engine: the container manager (its
    records, launcher and events). The checks' own, so that a daemon re-adopting containers
    can start their checks before the engine has published its container manager."""

    def __init__(self, containers: Any) -> None:
        self.containers = containers


class Checker:
    """The checks of one container's run: a thread asleep between checks."""

    def __init__(self, monitor: HealthMonitor, record: Any, command: list[str]) -> None:
        self.monitor, self.record, self.command = monitor, record, command
        self.settings = Settings.of(record.config)
        self.started_ns = _started_ns(record.state.get("StartedAt"))
        self.stop = threading.Event()
        self.probe: Probe | None = None
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       name=f"health-{record.id[:12]}")

    def _run(self) -> None:
        while not self.stop.wait(self._next_wait()):
            start = time.time_ns()
            probe = self.probe = Probe(self.monitor.execs, self.record.id, self.command,
                                       self.settings.timeout)
            if self.stop.is_set():
                return
            try:
                result = probe.run()
            except Exception as exc:  # a check's failure is a result, never the end of the checks
                log.exception("health check of %s", self.record.id)
                result = _result(-1, str(exc))
            self.monitor.record_result(self, {"Start": rfc3339_ns(start), **result}, start)

    def _next_wait(self) -> float:
        health = self.record.state.get("Health") or {}
        since = time.time_ns() - self.started_ns
        return self.settings.wait_ns(str(health.get("Status")), since) / 1e9

    def cancel(self, kill: bool = True) -> None:
        self.stop.set()
        probe = self.probe
        if probe is not None:
            probe.cancel(kill)


class HealthMonitor:
    """The container manager's checks: ``start`` at a start, ``resume`` at an unpause or a
    re-adoption, ``stop`` at an exit or a pause. Costs nothing until a container has a probe."""

    def __init__(self, containers: Any, save: Callable[[Any], None]) -> None:
        self.containers = containers  # its emit(record, action), and records for the execs
        self._save = save  # a record's state changed (saved in the background)
        self._checkers: dict[str, Checker] = {}
        self._lock = threading.Lock()
        self._execs: Any = None

    @property
    def execs(self) -> Any:
        if self._execs is None:
            from .execs import ExecManager
            with self._lock:
                if self._execs is None:
                    self._execs = ExecManager(_Engine(self.containers))
        return self._execs

    def start(self, record: Any) -> None:
        """A start: any previous checks stopped, status starting, checks begin."""
        command = probe_command(record.config)
        if command is None:
            return
        self._end(record.id)
        record.state["Health"] = starting(record.state.get("Health"))
        self._save(record)
        self._begin(record, command)

    def resume(self, record: Any) -> None:
        """Checks again, the status as it was (an unpause, a restarted daemon)."""
        command = probe_command(record.config)
        if command is None or record.id in self._checkers:
            return
        if not record.state.get("Health"):
            record.state["Health"] = starting(None)
            self._save(record)
        self._begin(record, command)

    def stop(self, record: Any) -> None:
        """The container exited or paused: no more checks, unhealthy (no event)."""
        checker = self._end(record.id)
        if checker is not None and record.state.get("Health"):
            record.state["Health"] = stopped(record.state["Health"])
            self._save(record)

    def close(self) -> None:
        """The daemon stops: the checks end, their last results are saved (a re-adopting
        daemon resumes the checks from them)."""
        for cid in list(self._checkers):
            checker = self._end(cid, kill=False)  # a probe in flight ends with the launcher
            if checker is not None:
                if checker.probe is not None:
                    checker.probe.settle(KILL_WAIT)
                self._save(checker.record)

    def _begin(self, record: Any, command: list[str]) -> None:
        checker = Checker(self, record, command)
        with self._lock:
            self._checkers[record.id] = checker
        checker.thread.start()

    def _end(self, cid: str, kill: bool = True) -> Checker | None:
        with self._lock:
            checker = self._checkers.pop(cid, None)
            if checker is not None:
                checker.stop.set()  # under the lock: no result of it is recorded after this
        if checker is not None:
            checker.cancel(kill)
        return checker

    def record_result(self, checker: Checker, result: dict[str, Any], start_ns: int) -> None:
        record = checker.record
        with self._lock:
            if checker.stop.is_set():
                return  # stopped while it ran: dockerd ignores such a result
            before = record.state.get("Health") or starting(None)
            after = with_result(before, result, checker.settings, start_ns - checker.started_ns)
            record.state["Health"] = after
            if after["Status"] != before["Status"]:
                self._save(record)  # a check alone is not written: its log is kept in memory
                self.containers.emit(record, f"health_status: {after['Status']}")


def _started_ns(text: str | None) -> int:
    """``State.StartedAt`` (as :func:`rfc3339_ns` writes it) in ns since the epoch."""
    if not text:
        return time.time_ns()
    digits = text.partition(".")[2].rstrip("Zz")
    frac = int(digits[:9].ljust(9, "0")) if digits.isdigit() else 0
    return parse_unix(text) * 1_000_000_000 + frac
