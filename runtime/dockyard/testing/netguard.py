"""Keep a test run's name lookups on this machine: tests reach loopback and the namespaces
they make, nothing else — and a lookup of a name such as ``registry-1.docker.io`` (a pull of
a Docker Hub image) is already a DNS query leaving it.

:func:`install` wraps ``socket.getaddrinfo`` and ``gethostbyname(_ex)``: an IP literal,
``localhost`` (``*.localhost``) or a name in /etc/hosts goes on as usual; any other name is
refused as an unknown name (``gaierror`` EAI_NONAME, what an offline lookup gives) without a
query, and recorded as a line ``<unix time>\\t<name>\\t<pid> <program>`` in the log file.
The pytest plugin installs it in the test process and, through :func:`sitecustomize_dir` on
``PYTHONPATH``, in every Python process a test starts (daemons, launchers), then names each
recorded lookup with the test that ran at that moment. Programs that are not Python (dockerd,
the docker CLI, skopeo) are not covered.

Stdlib only: a ``sitecustomize`` loads this file by path, before any package is importable.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

LOG_ENV = "DOCKYARD_TEST_NETLOG"
_MARK = "_dockyard_netguard_log"  # set on the installed wrapper: its log file


def _hosts_names(path: str = "/etc/hosts") -> frozenset[str]:
    names = set[str]()
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                names.update(n.lower() for n in line.split("#", 1)[0].split()[1:])
    except OSError:
        pass
    return frozenset(names)


def is_local(host: Any) -> bool:
    """Whether resolving ``host`` stays on this machine (no DNS query)."""
    if host is None:
        return True
    name = (host.decode() if isinstance(host, bytes) else str(host)).strip().lower().rstrip(".")
    if name in ("", "localhost") or name.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(name.strip("[]").split("%", 1)[0])
        return True
    except ValueError:
        return name in _hosts_names()


def install(log: str) -> None:
    """Refuse and record lookups of names beyond this machine in this process (again: the
    log file changes)."""
    current = socket.getaddrinfo
    if hasattr(current, _MARK):
        setattr(current, _MARK, log)
        return

    def record(host: Any) -> None:
        try:
            with open(getattr(socket.getaddrinfo, _MARK), "a", encoding="utf-8") as f:
                f.write(f"{time.time():.3f}\t{host!r}\t{os.getpid()} {' '.join(sys.argv)[:120]}\n")
        except OSError:
            pass

    def guarded(real: Any) -> Any:
        def call(host: Any, *args: Any, **kwargs: Any) -> Any:
            if not is_local(host):
                record(host)
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known "
                                      "(a test run looks up no name beyond this machine)")
            return real(host, *args, **kwargs)
        return call

    wrapper = guarded(current)
    setattr(wrapper, _MARK, log)
    socket.getaddrinfo = wrapper
    socket.gethostbyname = guarded(socket.gethostbyname)
    socket.gethostbyname_ex = guarded(socket.gethostbyname_ex)


def read(log: str) -> list[tuple[float, str, str]]:
    """The recorded lookups: (unix time, name, process)."""
    out = []
    try:
        lines = Path(log).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    for line in lines:
        stamp, _, rest = line.partition("\t")
        name, _, process = rest.partition("\t")
        try:
            out.append((float(stamp), name, process))
        except ValueError:
            continue
    return out


_MARKER = ".dockyard-netguard"  # in each directory sitecustomize_dir writes: never chained to
_SITECUSTOMIZE = '''\
"""dockyard's test-run network guard (dockyard/testing/netguard.py), then the first
sitecustomize on sys.path that is not one of these."""
import importlib.machinery, importlib.util, os, sys
if os.environ.get({env!r}):
    _spec = importlib.util.spec_from_file_location("_dockyard_netguard", {source!r})
    _guard = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_guard)
    _guard.install(os.environ[{env!r}])
_next = importlib.machinery.PathFinder.find_spec(
    "sitecustomize", [p for p in sys.path if not os.path.exists(os.path.join(p or ".", {marker!r}))])
if _next is not None and _next.loader is not None:
    _next.loader.exec_module(importlib.util.module_from_spec(_next))
'''


def sitecustomize_dir(directory: Path) -> Path:
    """``directory`` with a ``sitecustomize.py`` that installs the guard in a Python process
    started with it on ``PYTHONPATH`` (while :data:`LOG_ENV` names the log)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / _MARKER).touch()
    (directory / "sitecustomize.py").write_text(
        _SITECUSTOMIZE.format(env=LOG_ENV, source=os.path.abspath(__file__), marker=_MARKER),
        encoding="utf-8")
    return directory


__all__ = ["LOG_ENV", "install", "is_local", "read", "sitecustomize_dir"]
