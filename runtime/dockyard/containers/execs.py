"""Exec instances (``docker exec``): create, start, inspect, resize — dockerd's semantics.

An exec is created against a running container (``POST /containers/{id}/exec``) and started
once (``POST /exec/{id}/start``); its process joins the container through the launcher
(:mod:`dockyard.linux.enter`). The instance lives in memory, as in dockerd, and is forgotten
when its container goes away. What the process sees, as dockerd composes it:

- env: dockerd's daemon variables (PATH, HOSTNAME, ``TERM=xterm`` with the exec's tty, the
  links'), the container's ``Config.Env`` replacing them in place, then the exec's ``Env``
  replacing same-name entries; ``HOME`` from the user's passwd entry unless set.
- user / working dir: the exec's, else the container's ``Config.User`` / ``WorkingDir``.
- capabilities: the container's (``CapAdd``/``CapDrop``/``Privileged``), or all with the
  exec's ``Privileged``; ``no_new_privs`` from ``SecurityOpt: no-new-privileges``.

A failed start records exit code 127 (command not found) or 126 (anything else) and raises
:class:`ExecStartFailed` with dockerd's message, which the API writes into the stream.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import struct
import termios
import threading
from dataclasses import dataclass, field
from typing import Any

from ..errors import Conflict, DockyardError, InvalidArgument, NotFound
from ..goterm import detach_sequence
from ..linux import users
from ..linux.enter import ExecSpec
from ..linux.launcher import StartFailed
from . import links
from .create import merged_env, rlimits, seccomp_setting, security_opts
from .runtime import ExecProcess, Runtime
from .spec import DEFAULT_PATH

MAX_FINISHED = 1000  # exec instances kept in memory before finished ones are forgotten


class ExecStartFailed(DockyardError):
    """The process could not be started; ``str`` is dockerd's message for it."""

    status = 400


def dockerd_exec_error(message: str) -> str:
    return f"OCI runtime exec failed: exec failed: unable to start container process: {message}: unknown"


def _exec_failed(message: str) -> ExecStartFailed:
    """dockerd resolves the user itself, so that failure comes without the runtime's wrapping,
    and as its spec's failures are, with 500 (:class:`~dockyard.linux.users.UnknownUser`)."""
    if message.startswith(("unable to find user ", "unable to find group ")):
        failed = ExecStartFailed(message)
        failed.status = users.UnknownUser.status
        return failed
    return ExecStartFailed(dockerd_exec_error(message))


def _runs_as_root(record: Any) -> bool:
    """Whether the container's own process is root, so holds the container's capabilities
    (dockerd gives a non-root one none: neither does an exec of it then)."""
    user = record.config.get("User") or ""
    if not user:  # Docker's default, root: no passwd to read on an exec's path
        return True
    layers_top_down = [record.upper_dir, *reversed(record.lower_dirs)]
    try:
        return users.resolve(user, layers_top_down).uid == 0
    except users.UnknownUser:
        return False


def _exec_exit_code(exc: StartFailed) -> int:
    """127 for a command that is not there alone (as current dockerd; 20.10 records 126) and
    dockerd 20.10's 126 for the rest — a working directory that is not there too."""
    missing = exc.exit_code == 127 and str(exc).startswith('exec: "')
    return 127 if missing else 126


def merge_env(base: list[str], extra: list[str]) -> list[str]:
    """dockerd's ReplaceOrAppendEnvValues: same-name entries replaced in place, others appended."""
    merged = {item.partition("=")[0]: item for item in base}
    for item in extra:
        merged[item.partition("=")[0]] = item
    return list(merged.values())


@dataclass
class ExecInstance:
    id: str
    container_id: str
    config: dict[str, Any]
    running: bool = False
    exit_code: int | None = None
    pid: int = 0
    started: bool = False
    process: ExecProcess | None = None
    done: threading.Event = field(default_factory=threading.Event)
    spawned: threading.Event = field(default_factory=threading.Event)  # start finished, either way
    linked: list[str] = field(default_factory=list)  # its container's links' variables, at create

    def inspect(self) -> dict[str, Any]:
        cmd = list(self.config.get("Cmd") or [])
        return {
            "ID": self.id, "Running": self.running, "ExitCode": self.exit_code,
            "ProcessConfig": self._process_config(cmd),
            "OpenStdin": bool(self.config.get("AttachStdin")),
            "OpenStderr": bool(self.config.get("AttachStderr")),
            "OpenStdout": bool(self.config.get("AttachStdout")),
            "CanRemove": False, "ContainerID": self.container_id,
            "DetachKeys": self.config.get("DetachKeys") or "", "Pid": self.pid,
        }


    def _process_config(self, cmd: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"tty": bool(self.config.get("Tty")), "entrypoint": cmd[0] if cmd else "",
                               "arguments": cmd[1:], "privileged": bool(self.config.get("Privileged"))}
        if self.config.get("User"):
            out["user"] = self.config["User"]  # omitted when empty, as dockerd
        return out


@dataclass
class ExecSession:
    """A started exec's ends: write ``stdin`` (or ``console``), read ``stdout``/``stderr``
    (or ``console``). The caller owns and closes the fds."""

    instance: ExecInstance
    tty: bool
    stdin: int | None = None
    stdout: int | None = None
    stderr: int | None = None
    console: int | None = None

    def close_stdin(self) -> None:
        """End of the client's input: EOF for the process (a tty keeps its terminal open)."""
        if self.stdin is not None:
            os.close(self.stdin)
            self.stdin = None

    def close(self) -> None:
        for fd in (self.stdin, self.stdout, self.stderr, self.console):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.stdin = self.stdout = self.stderr = self.console = None


class ExecManager:
    """``engine.execs``: needs ``engine.containers.get(x)`` (a record with state, config,
    host_config) and a launcher (the container manager's runtime, or one of its own)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self._execs: dict[str, ExecInstance] = {}
        self._lock = threading.Lock()
        self._own_runtime: Runtime | None = None

    @property
    def runtime(self) -> Runtime:
        shared = getattr(self.engine.containers, "runtime", None)
        if isinstance(shared, Runtime):
            return shared
        with self._lock:
            if self._own_runtime is None:
                self._own_runtime = Runtime()
            return self._own_runtime

    def close(self) -> None:
        if self._own_runtime is not None:
            self._own_runtime.close()
            self._own_runtime = None

    # ---- the API's verbs ---------------------------------------------------------------------

    def create(self, container: str, config: dict[str, Any]) -> str:
        cmd = config.get("Cmd")  # dockerd's router, before the container is looked up
        if not cmd or not isinstance(cmd, list) or not all(isinstance(c, str) for c in cmd):
            raise InvalidArgument("No exec command specified")
        record = self._running_record(container)
        keys = config.get("DetachKeys")
        if keys:  # ContainerExecCreate's plain error: a 500
            try:
                detach_sequence(keys)
            except ValueError:
                raise DockyardError(f"Invalid escape keys ({keys}) provided") from None
        linked = links.exec_env(record, self.engine.containers.get)  # dockerd: at the create
        exec_id = secrets.token_hex(32)
        with self._lock:
            if len(self._execs) >= MAX_FINISHED:
                self._drop_finished()
            self._execs[exec_id] = ExecInstance(exec_id, record.id, dict(config), linked=linked)
        self._tell(record, f"exec_create: {_action_command(cmd)}", execID=exec_id)
        return exec_id

    def _drop_finished(self) -> None:
        """Forget every finished exec (dockerd forgets them with their container)."""
        for exec_id in [i for i, e in self._execs.items() if e.exit_code is not None]:
            del self._execs[exec_id]

    def get(self, exec_id: str) -> ExecInstance:
        instance = self._execs.get(exec_id)
        if instance is None:
            raise NotFound(f"No such exec instance: {exec_id}")
        return instance

    def inspect(self, exec_id: str) -> dict[str, Any]:
        return self.get(exec_id).inspect()

    def ids_for(self, container_id: str) -> list[str]:
        """All the container's exec ids, finished ones too (they stay inspectable)."""
        return [i.id for i in list(self._execs.values()) if i.container_id == container_id]

    def pending_ids(self, container_id: str) -> list[str]:
        """``ExecIDs`` of container inspect: the execs not run yet and those running — dockerd
        drops one from the container's list when it ends (or fails to start)."""
        return [i.id for i in list(self._execs.values())
                if i.container_id == container_id and i.exit_code is None]

    def forget_container(self, container_id: str) -> None:
        with self._lock:
            for exec_id in self.ids_for(container_id):
                del self._execs[exec_id]

    def discard(self, exec_id: str) -> None:
        """Forget one instance (a health check's, once it is read)."""
        with self._lock:
            self._execs.pop(exec_id, None)

    def tty_of(self, exec_id: str) -> bool:
        return bool(self.get(exec_id).config.get("Tty"))

    def check_startable(self, exec_id: str) -> None:
        """What ``start`` would refuse (404, 409), checked before the API switches protocols."""
        instance = self.get(exec_id)
        if instance.exit_code is not None:
            raise Conflict(f"Error: Exec command {exec_id} has already run")
        if instance.started:
            raise Conflict(f"Error: Exec command {exec_id} is already running")
        self._running_record(instance.container_id)

    def start(self, exec_id: str, detach: bool = False, tty: bool | None = None,
              console_size: list[int] | None = None) -> ExecSession:
        """Start the process; with ``detach`` its stdio is /dev/null and nothing is returned
        to read. Raises :class:`ExecStartFailed` (exit code recorded) if it cannot start."""
        record = self._running_record(self.get(exec_id).container_id)
        instance = self._claim(exec_id)
        config = instance.config
        use_tty = bool(config.get("Tty") if tty is None else tty)
        spec = self._spec(instance, record, use_tty)
        # dockerd tells the start before the runtime is asked, so a failed one has it too
        self._tell(record, f"exec_start: {_action_command(config['Cmd'])}", execID=exec_id)
        if not spec.cwd.startswith("/"):  # runc checks the process before anything is made
            self._finish(instance, 126)
            raise ExecStartFailed("OCI runtime exec failed: exec failed: Cwd must be an absolute "
                                  "path: unknown")
        session = ExecSession(instance, use_tty)
        child_ends = self._pipes(session, config, detach, use_tty)
        try:
            process = self.runtime.exec(spec, *child_ends)
        except StartFailed as exc:
            session.close()
            self._finish(instance, _exec_exit_code(exc))
            raise _exec_failed(str(exc)) from None
        except BaseException:
            session.close()
            self._finish(instance, 126)
            raise
        finally:
            for fd in child_ends:
                if fd is not None:
                    os.close(fd)
        instance.process, instance.pid = process, process.pid
        instance.spawned.set()
        session.console = process.console
        if console_size and process.console is not None:
            _set_size(process.console, console_size[0], console_size[1])
        if detach and session.console is not None:
            threading.Thread(target=_drain, args=(session.console,), daemon=True).start()
            session.console = None
        threading.Thread(target=self._wait, args=(instance, process), daemon=True,
                         name=f"exec-{exec_id[:12]}").start()
        return session

    def resize(self, exec_id: str, height: int, width: int) -> None:
        instance = self.get(exec_id)
        if instance.started:
            instance.spawned.wait(5)  # a client resizes right after start; the process may lag
        process = instance.process
        if process is None or process.console is None or not instance.running:
            raise Conflict(f"Exec {exec_id} is not running") if process is not None else \
                Conflict(f"Exec {exec_id} has not been started")
        _set_size(process.console, height, width)

    @staticmethod
    def detached(session: ExecSession) -> None:
        """The client detached: keep reading the process's output (into nothing) so it is never
        blocked or hung up on, until it ends; the session's fds pass to the drain threads."""
        for fd in (session.console, session.stdout, session.stderr):
            if fd is not None:
                os.set_blocking(fd, True)  # the relay made it non-blocking
                threading.Thread(target=_drain, args=(fd,), daemon=True).start()
        session.console = session.stdout = session.stderr = None

    def wait(self, exec_id: str, timeout: float | None = None) -> int | None:
        instance = self.get(exec_id)
        instance.done.wait(timeout)
        return instance.exit_code

    # ---- helpers -----------------------------------------------------------------------------

    def _running_record(self, container: str) -> Any:
        record = self.engine.containers.get(container)
        state = record.state
        if not state.get("Running") or not state.get("Pid"):
            raise Conflict(f"Container {record.id} is not running")
        if state.get("Paused"):
            raise Conflict(f"Container {container} is paused, unpause the container before exec")
        if state.get("Restarting"):
            raise Conflict(f"Container {record.id} is restarting, wait until the container is running")
        return record

    def _claim(self, exec_id: str) -> ExecInstance:
        with self._lock:
            instance = self.get(exec_id)
            if instance.exit_code is not None:
                raise Conflict(f"Error: Exec command {exec_id} has already run")
            if instance.started:
                raise Conflict(f"Error: Exec command {exec_id} is already running")
            instance.started = instance.running = True
            return instance

    def _spec(self, instance: ExecInstance, record: Any, tty: bool) -> ExecSpec:
        config, cfg, host = instance.config, record.config or {}, record.host_config or {}
        # dockerd's CreateDaemonEnvironment for the exec's tty, then the exec's own
        ours = [f"PATH={DEFAULT_PATH}", f"HOSTNAME={cfg.get('Hostname') or record.id[:12]}",
                *(["TERM=xterm"] if tty else []), *instance.linked]
        env = merge_env(merged_env(ours, list(cfg.get("Env") or [])), list(config.get("Env") or []))
        if not any(e.startswith("PATH=") for e in env):
            env.insert(0, f"PATH={DEFAULT_PATH}")
        security = [str(o) for o in host.get("SecurityOpt") or []]
        containers = self.engine.containers  # the daemon-wide defaults apply to execs too
        return ExecSpec(
            id=instance.id, pid=int(record.state["Pid"]), args=list(config["Cmd"]), env=env,
            cwd=config.get("WorkingDir") or cfg.get("WorkingDir") or "/",
            user=config.get("User") or cfg.get("User") or "",
            cap_add=list(host.get("CapAdd") or []), cap_drop=list(host.get("CapDrop") or []),
            privileged=bool(config.get("Privileged") or host.get("Privileged")),
            no_new_privs=security_opts(security)[1], tty=tty,
            seccomp=seccomp_setting(host, containers.daemon_seccomp),
            rlimits=rlimits(host, containers.default_ulimits),
            oom_score_adj=int(host.get("OomScoreAdj") or 0),
            holds_caps=_runs_as_root(record))

    @staticmethod
    def _pipes(session: ExecSession, config: dict[str, Any], detach: bool,
               tty: bool) -> list[int | None]:
        """Create the pipes the attached streams need; returns the child's ends."""
        child: list[int | None] = [None, None, None]
        if detach or tty:
            return child
        wanted = (config.get("AttachStdin"), config.get("AttachStdout"), config.get("AttachStderr"))
        for index, on in enumerate(wanted):
            if not on:
                continue
            r, w = os.pipe2(os.O_CLOEXEC)
            mine, child[index] = (w, r) if index == 0 else (r, w)
            setattr(session, ("stdin", "stdout", "stderr")[index], mine)
        return child

    def _wait(self, instance: ExecInstance, process: ExecProcess) -> None:
        code = process.wait().exit_code
        try:
            record = self.engine.containers.get(instance.container_id)
        except NotFound:
            record = None  # removed meanwhile: nobody to tell of it
        if record is not None:
            self._tell(record, "exec_die", execID=instance.id, exitCode=str(code))
        self._finish(instance, code)

    def _tell(self, record: Any, action: str, **attributes: str) -> None:
        """An exec's event, on its container as dockerd sends it (none from a containers
        manager without events, as tests' stand-ins are)."""
        emit = getattr(self.engine.containers, "emit", None)
        if emit is not None:
            emit(record, action, **attributes)

    @staticmethod
    def _finish(instance: ExecInstance, code: int) -> None:
        instance.exit_code = code
        instance.running = False
        instance.spawned.set()
        instance.done.set()


def _action_command(cmd: list[str]) -> str:
    """The command in an exec event's action, as dockerd writes it: the program, a space,
    the arguments (``exec_create: true `` for a bare ``true``)."""
    return f"{cmd[0]} {' '.join(cmd[1:])}"


def _set_size(fd: int, height: int, width: int) -> None:
    try:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
    except OSError as exc:
        raise Conflict(f"cannot resize the exec's terminal: {exc.strerror}") from None


def _drain(fd: int) -> None:
    """A detached tty exec: keep its terminal readable until it ends (nobody reads it)."""
    try:
        while os.read(fd, 65536):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
