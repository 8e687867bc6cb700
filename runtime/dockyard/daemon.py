"""The daemon process: lock the data root, open the engine, serve the Engine API, shut down clean.

Lifecycle::

    create the data root (mode 0710, rootless 0700; tightened if wider)
    lock <data-root>/dockyard.lock (flock; holds our pid)   -- a second daemon stops here
    the data root on a shared mount (root daemons)           -- linux/daemonroot.py
    write --pidfile                                          -- refused if a live daemon owns it
    bind every -H address (unix sockets mode 0660)           -- before the engine opens: fail fast
    open the engine, serve until SIGTERM/SIGINT
    stop listening, close connections, close the engine, remove sockets, pidfile,
    the data root's own bind (if the start made it), lock

Heavy modules (the store, sqlite) are imported only once the lock is held, so the refusal of a
second daemon and ``--help`` are instant.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import grp
import logging
import os
import signal
import socket
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import DaemonConfig
from .errors import Conflict, InvalidArgument

log = logging.getLogger("dockyard.daemon")

SOCKET_MODE = 0o660
PRIVATE_DATA_ROOT_MODE = 0o700  # a rootless data root: the user's images, containers, volumes
ROOT_DATA_ROOT_MODE = 0o710     # dockerd's /var/lib/docker: no other user lists or enters it
DRAIN_SECONDS = 10
SOCKET_GROUP = "docker"
"""As dockerd: members of the ``docker`` group may use the socket, when that group exists."""


class DaemonRunning(Conflict):
    """Another daemon already owns the data root, the pidfile or the socket."""


@dataclass
class Listener:
    """One bound ``-H`` address; ``path`` is set for unix sockets (removed at shutdown)."""

    address: str
    sock: socket.socket
    path: Path | None = None


def parse_host(host: str) -> tuple[str, str]:
    """``unix:///p`` → ("unix", "/p"); ``tcp://127.0.0.1:2375`` → ("tcp", "127.0.0.1:2375")."""
    if host.startswith("unix://"):
        path = host[len("unix://"):]
        if not path.startswith("/"):
            raise InvalidArgument(f"invalid host {host!r}: a unix socket path must be absolute")
        return "unix", path
    if host.startswith("tcp://"):
        hostport = host[len("tcp://"):].rstrip("/")
        if not hostport.rpartition(":")[2].isdigit():
            raise InvalidArgument(f"invalid host {host!r}: expected tcp://ADDRESS:PORT")
        return "tcp", hostport
    if host.startswith("/"):
        return "unix", host
    raise InvalidArgument(f"invalid host {host!r}: use unix:///path/to.sock or tcp://ADDRESS:PORT")


class DataRootLock:
    """An exclusive flock on ``<data-root>/dockyard.lock``; released by the kernel if we die."""

    def __init__(self, data_root: Path) -> None:
        self.path = data_root / "dockyard.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise DaemonRunning(
                f"a dockyard daemon (pid {owner}) is already running on data root "
                f"{self.path.parent}; stop it first or use another --data-root"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    @staticmethod
    def held(data_root: Path) -> bool:
        """Whether a live daemon holds ``data_root`` (or is opening it) right now."""
        try:
            fd = os.open(data_root / "dockyard.lock", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False


def prepare_data_root(path: Path, rootless: bool, remapped: Any = None) -> None:
    """Create the data root: a root daemon's 0710 (root's, as dockerd's /var/lib/docker: other
    users can neither list it nor reach the containers' files and volumes below it), a
    rootless one the user's alone (0700). A wider one, made by an older dockyard or by hand,
    is tightened on every start, as dockerd chmods its root dir when it starts; a narrower one
    is left as it is. ``remapped`` (``--userns-remap``): the data root and the engine's
    ``<uid>.<gid>`` directory in it are 0710 ``root:<remapped gid>``, as dockerd 20.10 makes
    them, so the containers' root (whose group that is) can reach its root file system."""
    wanted = PRIVATE_DATA_ROOT_MODE if rootless else ROOT_DATA_ROOT_MODE
    path.mkdir(wanted, parents=True, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & ~wanted:
        os.chmod(path, wanted)
        log.info("data root %s: mode %04o tightened to %04o", path, mode, wanted)
    if remapped is not None:
        _check_reachable(path, remapped.uid, remapped.gid)
        engine_root = path / remapped.dir_name
        engine_root.mkdir(ROOT_DATA_ROOT_MODE, exist_ok=True)
        for directory in (path, engine_root):
            os.chown(directory, 0, remapped.gid)
            os.chmod(directory, ROOT_DATA_ROOT_MODE)


def _check_reachable(path: Path, uid: int, gid: int) -> None:
    """dockerd's check that the remapped root can search every directory above the data root
    (its containers' root file systems are below it), in dockerd's words."""
    for parent in path.resolve().parents:
        st = parent.stat()
        if not (st.st_mode & stat.S_IXOTH or (st.st_uid == uid and st.st_mode & stat.S_IXUSR)
                or (st.st_gid == gid and st.st_mode & stat.S_IXGRP)):
            raise InvalidArgument(f"a subdirectory in your graphroot path ({path}) restricts access to "
                                  "the remapped root uid/gid; please fix by allowing 'o+x' "
                                  "permissions on existing directories")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_pidfile(path: Path) -> None:
    """Write our pid atomically, refusing if the file names a live process (as dockerd)."""
    try:
        old = int(path.read_text().strip() or "0")
    except (FileNotFoundError, ValueError):
        old = 0
    if old and old != os.getpid() and _pid_alive(old):
        raise DaemonRunning(
            f"pid file found, ensure dockyard is not running or delete {path} (pid {old})"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"{os.getpid()}\n")
    os.replace(tmp, path)


def remove_pidfile(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError, ValueError):
        if int(path.read_text().strip()) == os.getpid():
            path.unlink()


def bind_unix(path: str) -> socket.socket:
    """Bind a unix socket with mode 0660, replacing a stale socket file but never a live one."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() or target.is_symlink():
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except OSError:
            target.unlink()
        else:
            raise DaemonRunning(f"another daemon is already listening on {path}")
        finally:
            probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o117)  # the socket never exists with wider permissions
    try:
        sock.bind(path)
    finally:
        os.umask(old_umask)
    os.chmod(path, SOCKET_MODE)
    with contextlib.suppress(KeyError, PermissionError):
        os.chown(path, -1, grp.getgrnam(SOCKET_GROUP).gr_gid)
    sock.listen(128)
    sock.setblocking(False)
    return sock


def bind_tcp(hostport: str) -> list[socket.socket]:
    from tornado.netutil import bind_sockets

    address, _, port = hostport.rpartition(":")
    try:
        return bind_sockets(int(port), address.strip("[]") or "127.0.0.1")
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise DaemonRunning(f"address already in use: tcp://{hostport}") from None
        raise


def bind_hosts(hosts: list[str]) -> list[Listener]:
    listeners: list[Listener] = []
    try:
        for host in hosts:
            kind, where = parse_host(host)
            if kind == "unix":
                listeners.append(Listener(host, bind_unix(where), Path(where)))
            else:
                listeners.extend(Listener(host, s) for s in bind_tcp(where))
    except BaseException:
        close_listeners(listeners)
        raise
    return listeners


def close_listeners(listeners: list[Listener]) -> None:
    for listener in listeners:
        listener.sock.close()
        if listener.path is not None:
            with contextlib.suppress(FileNotFoundError):
                listener.path.unlink()


@dataclass
class Daemon:
    """One daemon process; ``run()`` blocks until a signal asks it to stop."""

    config: DaemonConfig
    listeners: list[Listener] = field(default_factory=list)
    engine: Any = None

    def run(self) -> None:
        if self.config.userns_remap and self.config.remapped is None:
            from .linux import remap
            self.config.remapped = remap.resolve(self.config.userns_remap)
            if self.config.remapped is not None:
                log.info("User namespaces: ID ranges will be mapped to subuid/subgid ranges of: %s",
                         self.config.remapped.user)
        prepare_data_root(Path(self.config.data_root), self.config.rootless, self.config.remapped)
        lock = DataRootLock(Path(self.config.data_root))
        lock.acquire()
        try:
            self._share_data_root()
            if self.config.pidfile is not None:
                write_pidfile(Path(self.config.pidfile))
            self.listeners = bind_hosts(list(self.config.hosts))
            asyncio.run(self._serve())
        finally:
            close_listeners(self.listeners)
            if self.config.pidfile is not None:
                remove_pidfile(Path(self.config.pidfile))
            self._release_data_root()
            lock.release()

    def _share_data_root(self) -> None:
        """The data root on a shared mount (``linux.daemonroot``; a rootless daemon cannot
        mount, see there); a failure is dockerd's warning, not a failed start."""
        if self.config.rootless:
            return
        from .linux import daemonroot
        try:
            daemonroot.share(self.config.data_root)
        except OSError as exc:
            log.warning("Error while setting daemon root propagation, this is not generally "
                        "critical but may cause some functionality to not work or fallback to "
                        "less desirable behavior (dir %s): %s", self.config.data_root, exc)

    def _release_data_root(self) -> None:
        if self.config.rootless:
            return
        from .linux import daemonroot
        try:
            daemonroot.release(self.config.data_root)
        except OSError as exc:
            log.warning("error unmounting daemon root %s: %s", self.config.data_root, exc)

    async def _serve(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        from .api.app import make_app
        from .api.wire import Server
        from .engine import Engine

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGHUP, log.info, "SIGHUP: nothing to reload")
        self.engine = Engine(self.config)
        executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="engine")
        server = Server(make_app(self.engine, executor))
        try:
            await server.listen([listener.sock for listener in self.listeners])
            for listener in self.listeners:
                log.info("API listen on %s", listener.path or listener.sock.getsockname())
            log.info("Daemon has completed initialization (pid %d, data root %s)",
                     os.getpid(), self.config.data_root)
            await stop.wait()
            log.info("Processing signal, shutting down")
        finally:
            await self._drain(server, executor)
            self.engine.close()
            log.info("Daemon shutdown complete")


    @staticmethod
    async def _drain(server: Any, executor: Any) -> None:
        """Stop accepting, close connections (aborting uploads), let engine calls finish."""
        server.stop()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(server.close_all_connections(), timeout=5)
        loop = asyncio.get_running_loop()
        waiting = loop.run_in_executor(None, lambda: executor.shutdown(wait=True, cancel_futures=True))
        try:
            await asyncio.wait_for(asyncio.shield(waiting), timeout=DRAIN_SECONDS)
        except TimeoutError:
            log.warning("engine calls still running after %ss; closing anyway", DRAIN_SECONDS)


def setup_logging(level: str) -> None:
    levels = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
              "warning": logging.WARNING, "error": logging.ERROR, "fatal": logging.CRITICAL}
    if level not in levels:
        raise InvalidArgument(f"unable to parse logging level: {level}")
    logging.basicConfig(level=levels[level], format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if level != "debug":
        logging.getLogger("tornado.access").setLevel(logging.WARNING)


def run_daemon(config: DaemonConfig) -> None:
    setup_logging(config.log_level)
    Daemon(config).run()
