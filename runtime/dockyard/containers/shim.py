"""The per-container supervisor (shim): owns one container's stdio, log file and exit status, and
outlives the daemon.

Why it looks like this: the launcher (small, pre-spawned) is the cheap place to fork from, so it
forks the shims — one ahead of time (:class:`Spares`), ``setsid``, no terminal's; the launcher
reaps them, and when the launcher goes with its daemon a shim is re-parented and lives on. The shim clones the container's init itself with the launcher's code, so the init
is the shim's child — it dies with the shim (``PDEATHSIG``), never with the launcher or daemon.

Wire protocol on the shim's sockets (``SOCK_SEQPACKET``, one message per packet, first byte is
the type). The daemon's first connection is a socketpair made before the container starts (so
no output is ever missed); a restarted daemon connects to ``<dir>/shim.sock``::

    shim → daemon   b"1" + stdout bytes | b"2" + stderr bytes | b"x" + exit JSON
    daemon → shim   b"0" + stdin bytes  | b"c" (close stdin) | b"r" + b"ROWS COLS" | b"k" + b"SIGNO"

Files written in ``<dir>``: ``<id>-json.log`` (Docker's json-file lines; rotated into
``<id>-json.log.N`` with ``max-size``, :mod:`.logfile`), ``exit.json``
(``{"exit_code", "oom_killed", "finished_at"}``, written atomically before the exit message).
"""

from __future__ import annotations

import fcntl
import json
import os
import selectors
import signal
import socket
import struct
import termios
import time

from .trace import mark

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from .spec import ContainerSpec

PACKET = 65536
LISTEN_AFTER = 0.01
"""Seconds a container runs before its shim writes ``shim.pid`` and listens on ``shim.sock``
(for a restarted daemon): a short container (``run --rm … true``) never pays for them. A
restarting daemon waits longer than this for them (``ContainerManager._reconnect``)."""
HANDOFF_AFTER = 0.5
"""Seconds a container runs before its shim re-executes itself as a bare interpreter that has
imported only this module: the forked launcher image costs ~14 MiB RSS, the bare one ~10."""
_PARTIAL_MAX = 16 * 1024  # as dockerd: a line longer than this is logged in pieces
NETNS_PINNED = b'{"netns": "pinned"}'
"""On the report socket before the report: a remapped init's network namespace waits for the
daemon's endpoints (``Shim._await_network``; ``Runtime._shim_started`` answers)."""


def log_time(ns: int | None = None) -> str:
    """json-file's timestamp: RFC 3339 with exactly nine fraction digits, UTC."""
    ns = time.time_ns() if ns is None else ns
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


def _at(sock: socket.socket, op: str, path: str) -> None:
    """bind/connect ``path`` as ``/proc/self/fd/N/name``: socket paths are limited to 108
    bytes, and data roots are often deeper than that."""
    fd = os.open(os.path.dirname(path), os.O_PATH | os.O_CLOEXEC)
    try:
        getattr(sock, op)(f"/proc/self/fd/{fd}/{os.path.basename(path)}")
    finally:
        os.close(fd)


def connect(path: str) -> socket.socket:
    """A daemon's connection to a running shim (re-adoption after a daemon restart)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    try:
        _at(sock, "connect", path)
    except BaseException:
        sock.close()
        raise
    return sock


class Spares:
    """One shim forked ahead of time, waiting for its container: forking and scheduling a
    fresh process costs ~2 ms that a start would otherwise wait for."""

    def __init__(self, launcher: Any, on_fork: Callable[[int], None]) -> None:
        self.launcher = launcher
        self.on_fork = on_fork
        self.spare: tuple[int, socket.socket] | None = None

    def take(self, spec: dict[str, Any], cfg: dict[str, Any], report_fd: int) -> int:
        """Hand ``spec`` to the spare (it reports on ``report_fd``); returns its pid."""
        from ..linux import syscalls
        message = json.dumps({"spec": spec, "shim": cfg}).encode()
        for _ in range(2):  # a spare killed while it waited is replaced once
            self.refill()
            assert self.spare is not None
            (pid, ctrl), self.spare = self.spare, None
            try:
                syscalls.foreground(pid)  # it may still be getting ready on idle CPU
                socket.send_fds(ctrl, [message], [report_fd])
                return pid
            except OSError:
                continue
            finally:
                ctrl.close()
        raise OSError("could not hand the container to a shim")

    def refill(self) -> None:
        if self.spare is None:
            self.spare = self.fork()

    def fork(self) -> tuple[int, socket.socket]:
        """A new spare: its pid and our end of its socket (``{"spec", "shim"}`` goes there,
        with the report socket or without one: then the spare reports on this socket)."""
        from ..linux import syscalls
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = syscalls.clone(0)  # a fork without CPython's at-fork hooks (the launcher has
        if pid == 0:             # one thread): they cost a spare ~150 copy-on-write faults
            try:
                mine.close()
                os.setsid()
                _detach_fds(theirs.fileno())
                _serve_one(self.launcher, theirs)
            finally:
                os._exit(0)
        theirs.close()
        self.on_fork(pid)
        return pid, mine


def _serve_one(launcher: Any, ctrl: socket.socket) -> None:
    """A spare's life: wait for a container (or the launcher's end), then be its shim."""
    from ..linux import syscalls
    from .spec import ContainerSpec
    _no_gc()
    idle = syscalls.background()  # got ready on CPU nobody else wants (a taker raises us)
    embryo = _embryo(launcher)
    _rehearse()
    if idle:
        syscalls.foreground()
    if embryo is not None:
        _announce(ctrl, embryo)
    try:
        data, fds, _flags, _addr = socket.recv_fds(ctrl, 1 << 20, 4)
    except OSError:  # ECONNRESET: the holder went with our announcement unread
        data, fds = b"", []
    if not data:
        if embryo is not None:
            launcher.discard(embryo)
        return  # the launcher (or the daemon holding us) is gone: nothing to run
    for fd in fds:
        os.set_inheritable(fd, False)
    msg = json.loads(data)
    hatched = fds if msg.get("hatched") else None  # else a report socket, if any
    report = ctrl
    if fds and hatched is None:
        ctrl.close()
        report = socket.socket(fileno=fds[0])
    try:
        Shim(launcher, ContainerSpec.from_dict(msg["spec"]), msg["shim"], report, embryo,
             hatched).run()
    except BaseException:  # noqa: BLE001 — the shim's last words, then _exit
        _crash_report(msg["shim"]["dir"])


def _announce(ctrl: socket.socket, embryo: Any) -> None:
    """Once our embryo is in its cgroup, give a copy of its socket to whoever holds us (the
    daemon's runtime): it may then hand the embryo its container itself and us only what we
    supervise (``Runtime._hatch``), one process hop less on the start's path. A container
    that comes to us first (or the holder's end) goes on as before."""
    import select
    readable, _, _ = select.select([ctrl, embryo.sock], [], [])
    if ctrl not in readable and embryo.ready(raise_first=False):
        try:
            socket.send_fds(ctrl, [json.dumps({"embryo": embryo.pid}).encode()],
                            [embryo.sock.fileno()])
        except OSError:
            pass  # the holder is gone: the next receive says so


def _no_gc() -> None:
    """No garbage collection in a spare (nor its embryo): a collection would write the GC
    header of every object the fork shares with the launcher, copying most of its pages
    (~5–10 ms, measured) in the middle of a start. What a spare allocates is freed by
    reference counting; a long-running shim re-execs into a fresh interpreter anyway."""
    import gc
    gc.disable()


def _rehearse() -> None:
    """Run the spec's decoding once on a sample while we wait: its first pass in a fresh fork
    writes (reference counts, allocator pages) to ~200 pages shared copy-on-write with the
    launcher, ~0.5–1 ms of faults that a real start would otherwise take."""
    from ..linux.launcher import spec_caps
    from .spec import ContainerSpec, Mount
    sample = ContainerSpec("0" * 64, ["/l"], "/u", "/w", ["true"], mounts=[Mount("bind", "/a", "/b")])
    message = json.dumps({"spec": sample.to_dict(), "shim": {
        "dir": "/", "log_path": "/", "open_stdin": False}}).encode()
    decoded = ContainerSpec.from_dict(json.loads(message)["spec"])
    decoded.validate()
    spec_caps(decoded)


def warm(rounds: int = 64) -> None:
    """Run the pure part of a start here, in the launcher, before it forks anything: CPython
    3.11 rewrites a function's bytecode in place as it warms up (quickening, specialising), so
    code first run in a fork writes to pages it shares with the launcher — copy-on-write
    faults in every shim and init."""
    for _ in range(rounds):
        _rehearse()


def _embryo(launcher: Any) -> Any:
    """The next container's init, cloned while we wait (``linux.launcher.Embryo``), or None."""
    try:
        return launcher.embryo()
    except Exception:  # noqa: BLE001 — a start without one only takes longer
        return None


def _crash_report(directory: str) -> None:
    """A shim bug leaves its traceback in ``<dir>/shim-error.log`` (its stderr is /dev/null)."""
    import traceback
    with open(os.path.join(directory, "shim-error.log"), "a") as f:
        traceback.print_exc(file=f)


def _detach_fds(keep: int) -> None:
    """Drop every inherited fd (the launcher's socket above all) and point stdio at /dev/null."""
    null = os.open(os.devnull, os.O_RDWR)
    for target in range(3):
        os.dup2(null, target)
    os.closerange(3, keep)
    os.closerange(keep + 1, 1 << 16)


class Shim:
    """The shim's whole life: start the init, pump its output, report its exit, then exit."""

    log_delivery: dict[str, Any] | None = None
    """A log driver that delivers (syslog, gelf, fluentd): its settings (or, after the
    hand-off, its state), until the first line makes ``delivery``."""
    delivery: Any = None
    """That driver's ``logdrivers.Delivery``, made for the first line: importing (compiling)
    the module costs ~8 ms here, which the start's path does not pay."""

    def __init__(self, launcher: Any, spec: ContainerSpec | None, cfg: dict[str, Any],
                 report: socket.socket | None, embryo: Any = None,
                 hatched: list[int] | None = None) -> None:
        self.launcher = launcher
        self.embryo = embryo
        self.hatched = hatched
        """The daemon gave our embryo its container (``_announce``): our ends of its stdio —
        stdin's writer when stdin is open, stdout's and stderr's readers — or of the socket
        a tty's master comes through."""
        self.spec = spec
        self.dir = cfg["dir"]
        self.log = cfg["log_fd"] if "log_fd" in cfg else os.open(
            cfg["log_path"], os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
        rotation = spec.log_rotation if spec is not None else cfg.get("log_rotation")
        self.rotating: Any = None
        """``--log-opt max-size``: the writer that rotates (``logfile.RotatingLog``)."""
        if rotation:
            from .logfile import RotatingLog
            self.rotating = RotatingLog(self.log, cfg["log_path"], rotation)
        self.report = report
        self.running: Any = None          # the launcher's handle (forked mode only)
        self.listener: socket.socket | None = None
        self.pid = 0
        self.cid = spec.id if spec is not None else cfg["id"]
        self.cgroup_parent = spec.cgroup_parent if spec is not None else cfg["cgroup_parent"]
        self.sel = selectors.DefaultSelector()
        self.log_delivery = spec.log_delivery if spec is not None else cfg.get("log_delivery")
        self.clients: list[socket.socket] = []
        self.outputs: dict[int, str] = {}      # fd → "stdout" | "stderr"
        self.partial: dict[str, bytes] = {}
        self.stdin: int | None = None
        self.console: int | None = None
        self.console_w: int | None = None     # a dup of the console for buffered input
        self.pending_in = bytearray()
        self.input_watched = False
        self.close_in_after = False
        self.pidfd: int | None = None
        self.open_stdin = bool(cfg.get("open_stdin"))
        self.root_sock: socket.socket | None = None
        self.held: list[int] = []
        """The init's root mount (``linux.child._hand_root``) and its mount, IPC and network
        namespaces: closed once the exit is reported. Whoever drops the last reference tears
        them down — the overlay syncs its upper file system, every mount of the namespace is
        unmounted, each file system behind them shut down (1.5–2 ms here, more under load).
        Held here, that is not the exiting init's work, which the exit's waiters wait for."""

    def _deliver(self, name: str, entries: list[bytes]) -> None:
        if self.delivery is None:
            from .logdrivers import Delivery
            assert self.log_delivery is not None
            self.delivery = Delivery.resume(self.log_delivery, self.dir, self.sel)
        self.delivery.send(name, entries)

    def run(self) -> None:
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        mark(self.cid, "shim.got-spec")
        try:
            self.running = running = self._start()
        except Exception as exc:  # noqa: BLE001 — every failure goes back to the daemon, typed
            from ..linux.launcher import _error as launcher_error
            self._send_report(launcher_error(exc))
            return
        mark(self.cid, "shim.handed-over")
        if running.exec_pipe is not None:  # the daemon waits for the exec itself (early start)
            delivered = self._send_report({"ok": True, "pid": running.pid, "exec_pipe": True},
                                          [running.exec_pipe])
            os.close(running.exec_pipe)
        else:
            delivered = self._send_report({"ok": True, "pid": running.pid})
        if running.console_sock is not None:
            self._take_console(running.console_sock)
        if not delivered:
            os.kill(running.pid, signal.SIGKILL)  # the daemon gave up: run nothing unknown
        mark(self.cid, "shim.reported")
        self.pid, self.pidfd = running.pid, running.pidfd
        self.sel.register(running.pidfd, selectors.EVENT_READ, "exit")
        if running.root_sock is not None:
            self.root_sock = running.root_sock
            self.sel.register(running.root_sock, selectors.EVENT_READ, "root")
        else:  # no embryo: the init has exec'd already, in its namespaces for good
            self.held = _namespaces(running.pid)
        exited = self._loop(time.monotonic() + LISTEN_AFTER)
        if not exited:
            if self._adoptable():
                exited = self._loop(time.monotonic() + HANDOFF_AFTER)
            else:  # removed meanwhile (a failed start's --rm): its init ends, we clean up
                os.kill(running.pid, signal.SIGKILL)
                exited = self._loop()
        if exited:
            mark(self.cid, "shim.init-exited")
            self._finish()
            mark(self.cid, "shim.finished")
        else:
            self._handoff()

    def _adoptable(self) -> bool:
        """Only a restarted daemon needs these (see LISTEN_AFTER). ``shim.pid`` appears whole
        (written aside, then renamed): a reader never finds it empty. False: the container's
        directory is gone — the daemon removed the container (a start that failed with
        ``--rm``: the init may take longer than LISTEN_AFTER to give up), nobody will adopt."""
        path = os.path.join(self.dir, "shim.pid")
        try:
            with open(path + ".tmp", "w") as f:
                f.write(str(os.getpid()))
            os.replace(path + ".tmp", path)
            self.listener = self._listen()
        except FileNotFoundError:
            if os.path.isdir(self.dir):
                raise
            return False
        self.sel.register(self.listener, selectors.EVENT_READ, "listen")
        return True

    def _listen(self) -> socket.socket:
        path = os.path.join(self.dir, "shim.sock")
        if os.path.exists(path):
            os.unlink(path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            _at(listener, "bind", path)
        except BaseException:
            listener.close()
            raise
        listener.listen(8)
        return listener

    def _start(self) -> Any:
        assert self.spec is not None
        if self.hatched is not None:
            return self._take_hatched(self.hatched)
        stdio: list[int] = []
        theirs: list[int] = []
        if not self.spec.tty:
            if self.open_stdin:
                r, self.stdin = os.pipe2(os.O_CLOEXEC)
                os.set_blocking(self.stdin, False)
            else:
                r = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
            stdio.append(r)
            for name in ("stdout", "stderr"):
                out_r, out_w = os.pipe2(os.O_CLOEXEC)
                stdio.append(out_w)
                self._output(out_r, name)
            theirs = stdio
        try:
            embryo, self.embryo = self.embryo, None
            running = self.launcher.start(self.spec, stdio or [0, 1, 2], embryo, early=True,
                                          network_wired=self._await_network
                                          if self.spec.netns_pin else None)
        finally:
            for fd in theirs:
                os.close(fd)
        if running.console is not None:
            self._use_console(running.console)
        return running

    def _await_network(self) -> None:
        """A remapped init's network namespace is pinned (``spec.netns_pin``): the daemon wires
        it now — ``NETNS_PINNED`` on the report socket, ``GATE_GO`` back once its endpoints
        and /etc files are there (anything else: the start's end; the daemon reports its
        error)."""
        from ..errors import DockyardError
        from ..linux.child import GATE_GO, GATE_TIMEOUT
        assert self.report is not None
        self.report.send(NETNS_PINNED)
        self.report.settimeout(GATE_TIMEOUT)
        try:
            said = self.report.recv(16)
        except OSError:
            said = b""
        finally:
            self.report.settimeout(None)
        if said != GATE_GO:
            raise DockyardError("the container's network was not set up")

    def _take_hatched(self, fds: list[int]) -> Any:
        """Supervise the init the daemon hatched from our embryo (see ``hatched``)."""
        from ..linux import cgroups
        from ..linux.launcher import Running
        assert self.spec is not None
        embryo, self.embryo = self.embryo, None
        if embryo is None:
            raise OSError("no embryo here to have been given a container")
        console_sock = None
        if self.spec.tty:
            console_sock = socket.socket(fileno=fds[0])
        else:
            if self.open_stdin:
                self.stdin = fds.pop(0)
                os.set_blocking(self.stdin, False)
            for fd, name in zip(fds, ("stdout", "stderr"), strict=True):
                self._output(fd, name)
        cg = cgroups.CgroupV1(self.cid, embryo.cgroup.hier, self.cgroup_parent)
        return Running(self.cid, embryo.pid, embryo.pidfd, cg, console_sock=console_sock,
                       root_sock=embryo.sock)

    def _use_console(self, master: int) -> None:
        self.console = master
        self._output(master, "stdout")
        self.console_w = os.dup(master)

    def _take_console(self, sock: socket.socket) -> None:
        """An early start's pty master, sent by the init before it execs (EOF if it failed)."""
        from ..linux.launcher import _receive_console
        try:
            master = _receive_console(sock)
        finally:
            sock.close()
        if master is not None:
            self._use_console(master)

    def _output(self, fd: int, name: str) -> None:
        os.set_blocking(fd, False)
        self.outputs[fd] = name
        self.sel.register(fd, selectors.EVENT_READ, "out")

    def _send_report(self, reply: dict[str, Any], fds: list[int] | None = None) -> bool:
        """The start's outcome; after a success the same socket is the daemon's connection."""
        assert self.report is not None
        try:
            socket.send_fds(self.report, [json.dumps(reply).encode()], fds or [])
            delivered = True
        except OSError:
            delivered = False
        if reply["ok"] and delivered:
            self._add_client(self.report)
        else:
            self.report.close()
        return delivered

    def _add_client(self, sock: socket.socket) -> None:
        self.clients.append(sock)
        self.sel.register(sock, selectors.EVENT_READ, "client")

    # ---- the loop ------------------------------------------------------------------------

    def _loop(self, deadline: float | None = None) -> bool:
        """Pump until the init exits (True) or ``deadline`` passes (False)."""
        while True:
            timeout = None if deadline is None else deadline - time.monotonic()
            if timeout is not None and timeout <= 0:
                return False
            for key, _ in self.sel.select(timeout):
                if key.data == "exit":
                    self.sel.unregister(key.fd)
                    return True
                if key.data == "out":
                    self._read_output(key.fd)
                elif key.data == "in":
                    self._flush_stdin()
                elif key.data == "listen":
                    self._add_client(key.fileobj.accept()[0])  # type: ignore[union-attr]
                elif key.data == "root":
                    self._take_root()
                elif key.data == "log-sink":
                    self.delivery.writable()
                else:
                    self._request(key.fileobj)  # type: ignore[arg-type]

    def _take_root(self, wait: bool = True) -> None:
        """The init's root mount (or EOF: it failed before mounting it). Without ``wait``, a
        mount not sent yet is let go: the init's exit unmounts it then."""
        assert self.root_sock is not None
        sock, self.root_sock = self.root_sock, None
        self.sel.unregister(sock)
        sock.setblocking(wait)
        try:
            _data, fds, _flags, _addr = socket.recv_fds(sock, 16, 1)
        except OSError:
            fds = []
        finally:
            sock.close()
        if fds:
            os.set_inheritable(fds[0], False)
            self.held = [fds[0], *_namespaces(self.pid)]

    def _read_output(self, fd: int) -> bool:
        try:
            data = os.read(fd, PACKET - 1)
        except BlockingIOError:
            return True
        except OSError:
            data = b""  # EIO: the pty's last slave closed
        name = self.outputs[fd]
        if not data:
            self.sel.unregister(fd)
            del self.outputs[fd]
            if fd != self.console:
                os.close(fd)
            self._log(name, b"", final=True)
            return False
        self._log(name, data)
        self._broadcast((b"1" if name == "stdout" else b"2") + data)
        return True

    def _log(self, name: str, data: bytes, final: bool = False) -> None:
        """Append whole lines as json-file entries; a trailing partial line waits for more.
        A line of 16 KiB or more goes in 16 KiB pieces, as dockerd's (``_pieces``)."""
        data = self.partial.get(name, b"") + data
        *lines, rest = data.split(b"\n")
        if len(data) < _PARTIAL_MAX:  # no line to cut: the usual case
            entries = [line + b"\n" for line in lines]
        else:
            entries, rest = _pieces(lines, rest)
        if rest and final:
            entries.append(rest)
            rest = b""
        self.partial[name] = rest
        if entries and self.rotating is not None:
            self.rotating.write(name, entries, log_time())
        elif entries:
            now = log_time()
            text = "".join(json.dumps({"log": e.decode("utf-8", "replace"), "stream": name,
                                       "time": now}, separators=(",", ":")) + "\n"
                           for e in entries)
            os.write(self.log, text.encode())
        if entries and self.log_delivery:
            self._deliver(name, entries)

    def _broadcast(self, packet: bytes) -> None:
        for client in list(self.clients):
            try:
                client.send(packet)
            except OSError:
                self._drop(client)

    def _drop(self, client: socket.socket) -> None:
        if client in self.clients:
            self.clients.remove(client)
            self.sel.unregister(client)
            client.close()

    def _request(self, client: socket.socket) -> None:
        try:
            data = client.recv(2 * PACKET)
        except OSError:
            data = b""
        if not data:
            self._drop(client)
            return
        kind, body = data[:1], data[1:]
        if kind == b"0":
            self._write_stdin(body)
        elif kind == b"c":
            self._close_stdin()
        elif kind == b"r" and self.console is not None:
            rows, cols = (int(x) for x in body.split())
            fcntl.ioctl(self.console, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        elif kind == b"k":
            self._signal(int(body))

    # Input is buffered and written without blocking: a container that is not reading its
    # stdin must never stop the shim from pumping its output (the two would deadlock).

    def _input_fd(self) -> int | None:
        return self.console_w if self.console_w is not None else self.stdin

    def _write_stdin(self, data: bytes) -> None:
        if self._input_fd() is not None:
            self.pending_in += data
            self._flush_stdin()

    def _flush_stdin(self) -> None:
        fd = self._input_fd()
        if fd is None:
            return
        while self.pending_in:
            try:
                del self.pending_in[:os.write(fd, self.pending_in)]
            except BlockingIOError:
                break
            except OSError:  # the reader is gone
                self.pending_in.clear()
                self.close_in_after = True
        self._watch_input(fd, bool(self.pending_in))
        if not self.pending_in and self.close_in_after:
            self._close_stdin()

    def _watch_input(self, fd: int, wanted: bool) -> None:
        if wanted != self.input_watched:
            if wanted:
                self.sel.register(fd, selectors.EVENT_WRITE, "in")
            else:
                self.sel.unregister(fd)
            self.input_watched = wanted

    def _close_stdin(self) -> None:
        """EOF for the container's stdin (pipes only: a terminal has no EOF to give)."""
        if self.stdin is None:
            return
        if self.pending_in:
            self.close_in_after = True
            return
        self._watch_input(self.stdin, False)
        os.close(self.stdin)
        self.stdin = None

    def _signal(self, signo: int) -> None:
        if self.pidfd is not None:
            try:
                signal.pidfd_send_signal(self.pidfd, signo)
            except ProcessLookupError:
                pass

    # ---- the end -------------------------------------------------------------------------

    def _drain(self, timeout: float = 1.0) -> None:
        """Read what the container wrote before it died (its pid namespace is gone, so every
        writer closes soon)."""
        deadline = time.monotonic() + timeout
        while self.outputs and time.monotonic() < deadline:
            ready = self.sel.select(max(0.0, deadline - time.monotonic()))
            for key, _ in ready:
                if key.data == "out":
                    self._read_output(key.fd)
                elif key.data == "client":
                    self._request(key.fileobj)  # type: ignore[arg-type]
                elif key.data == "log-sink":
                    self.delivery.writable()
        for fd, name in list(self.outputs.items()):
            self._log(name, b"", final=True)

    def _finish(self) -> None:
        from ..linux.launcher import Launcher
        self._drain()
        running = self.running or self._handle()
        self.pidfd = None
        event = Launcher.collect(running)
        status = {"exit_code": event["exit_code"], "oom_killed": event["oom_killed"],
                  "finished_at": time.time_ns()}
        try:
            self._write_exit(status)
        except FileNotFoundError:  # the directory went (a failed start's ``run --rm``): the
            pass                   # cgroup must go all the same (``release`` below)
        mark(self.cid, "shim.exit-sending")
        self._broadcast(b"x" + json.dumps(status).encode())
        Launcher.release(running)
        if self.listener is not None:
            self.listener.close()
        for fd in (self.console, self.console_w):
            if fd is not None:
                os.close(fd)
        if self.root_sock is not None:
            self._take_root()  # the init is gone: its mount is there, or EOF
        if self.held:
            for fd in self.held:  # the init's mounts go now: after the news
                os.close(fd)
            mark(self.cid, "shim.released")
        if self.rotating is not None:
            self.rotating.settle()
        if self.delivery is not None:
            self.delivery.close()  # what a stream still holds: after the news

    def _write_exit(self, status: dict[str, Any]) -> None:
        tmp = os.path.join(self.dir, "exit.json.tmp")
        out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            os.write(out, json.dumps(status).encode())  # no file object: fewer faults
        finally:
            os.close(out)
        os.replace(tmp, os.path.join(self.dir, "exit.json"))
        if self.listener is not None:  # before the news: a waiter sees them gone
            os.unlink(os.path.join(self.dir, "shim.sock"))
            os.unlink(os.path.join(self.dir, "shim.pid"))

    def _handle(self) -> Any:
        """The launcher's view of our init, rebuilt after the hand-off (imports only now)."""
        from ..linux import cgroups
        from ..linux.launcher import Running
        cg = cgroups.for_container(self.cid, parent=self.cgroup_parent) \
            if os.geteuid() == 0 else None
        assert self.pidfd is not None
        return Running(self.cid, self.pid, self.pidfd, cg)

    # ---- the hand-off to a bare interpreter --------------------------------------------------

    def _handoff(self) -> None:
        """Re-exec as ``python -S`` importing only this module; every fd survives the exec."""
        assert self.listener is not None and self.pidfd is not None
        if self.root_sock is not None:
            self._take_root(wait=False)
        state = {"dir": self.dir, "log_fd": self.log, "id": self.cid,
                 "cgroup_parent": self.cgroup_parent, "pid": self.pid, "pidfd": self.pidfd,
                 "listener": self.listener.fileno(), "stdin": self.stdin,
                 "console": self.console, "console_w": self.console_w,
                 "pending_in": self.pending_in.decode("latin-1"),
                 "close_in_after": self.close_in_after,
                 "clients": [c.fileno() for c in self.clients],
                 "outputs": {str(fd): name for fd, name in self.outputs.items()},
                 "partial": {k: v.decode("latin-1") for k, v in self.partial.items()},
                 "held": self.held}
        if self.rotating is not None:
            state.update(log_path=self.rotating.path, log_rotation=[
                self.rotating.max_size, self.rotating.max_files, self.rotating.compress,
                self.rotating.local])
        if self.log_delivery:
            state["log_delivery"] = self.delivery.state() if self.delivery is not None \
                else self.log_delivery
        fds = [self.log, self.pidfd, self.listener.fileno(), *state["clients"],
               *self.outputs, *self.held,
               *(fd for fd in (self.stdin, self.console, self.console_w) if fd is not None)]
        for fd in fds:
            os.set_inheritable(fd, True)
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        boot = ("import sys; sys.path.insert(0, sys.argv[1]); "
                "from dockyard.containers.shim import resume; resume(int(sys.argv[2]))")
        carrier = os.memfd_create("shim-state", 0)  # the state can be large (buffered stdin)
        data = json.dumps(state).encode()
        while data:
            data = data[os.write(carrier, data):]
        os.lseek(carrier, 0, os.SEEK_SET)
        import sys
        os.execv(sys.executable, [sys.executable, "-S", "-c", boot, root, str(carrier)])


def _pieces(lines: list[bytes], rest: bytes) -> tuple[list[bytes], bytes]:
    """dockerd's copier holds 16 KiB: a line that fills it is logged in 16 KiB pieces (no
    ``\n``), its end with the ``\n`` (alone when the line was a multiple of 16 KiB); an
    unfinished line's full pieces go now, the rest waits."""
    entries = []
    for line in lines:
        while len(line) >= _PARTIAL_MAX:
            entries.append(line[:_PARTIAL_MAX])
            line = line[_PARTIAL_MAX:]
        entries.append(line + b"\n")
    while len(rest) >= _PARTIAL_MAX:
        entries.append(rest[:_PARTIAL_MAX])
        rest = rest[_PARTIAL_MAX:]
    return entries, rest


def _namespaces(pid: int) -> list[int]:
    """The init's mount, IPC and network namespaces (see ``Shim.held``). One we cannot open
    (the init is gone already) is left to the init's exit, as before."""
    held = []
    for ns in ("mnt", "ipc", "net"):
        try:
            held.append(os.open(f"/proc/{pid}/ns/{ns}", os.O_RDONLY | os.O_CLOEXEC))
        except OSError:
            pass
    return held


def resume(carrier: int) -> None:
    """The shim after its hand-off: same process, same fds, a fraction of the memory."""
    with open(carrier, "rb") as f:
        state = json.loads(f.read())
    try:
        shim = Shim(None, None, state, None)
        shim.pid, shim.pidfd = state["pid"], state["pidfd"]
        shim.stdin, shim.console = state["stdin"], state["console"]
        shim.console_w, shim.close_in_after = state["console_w"], state["close_in_after"]
        shim.held = state["held"]
        shim.pending_in = bytearray(state["pending_in"].encode("latin-1"))
        shim.partial = {k: v.encode("latin-1") for k, v in state["partial"].items()}
        for fd in [shim.log, shim.pidfd, state["listener"], *state["clients"],
                   *(int(x) for x in state["outputs"]), *shim.held]:
            os.set_inheritable(fd, False)
        shim.listener = socket.socket(fileno=state["listener"])
        shim.sel.register(shim.listener, selectors.EVENT_READ, "listen")
        for fd in state["clients"]:
            shim._add_client(socket.socket(fileno=fd))
        for fd, name in state["outputs"].items():
            shim._output(int(fd), name)
        shim.sel.register(shim.pidfd, selectors.EVENT_READ, "exit")
        shim._flush_stdin()
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        shim._loop()
        shim._finish()
    except BaseException:  # noqa: BLE001 — the shim's last words
        _crash_report(state["dir"])
    finally:
        os._exit(0)
