"""Run a container and collect what it printed (shared by the runtime's integration tests;
a module of its own so tests import it by a name no other conftest.py shadows)."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from dockyard.containers.runtime import ExitStatus, Runtime
from dockyard.containers.spec import ContainerSpec


@dataclass
class Result:
    status: ExitStatus
    out: str
    err: str

    @property
    def code(self) -> int:
        return self.status.exit_code


def _drain(fd: int, sink: list[bytes]) -> None:
    while chunk := os.read(fd, 65536):
        sink.append(chunk)
    os.close(fd)


def collect(rt: Runtime, spec: ContainerSpec, timeout: float = 20) -> Result:
    """Start ``spec``, read its output to EOF, return exit status and output."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    sinks: tuple[list[bytes], list[bytes]] = ([], [])
    readers = [threading.Thread(target=_drain, args=(fd, sink))
               for fd, sink in ((out_r, sinks[0]), (err_r, sinks[1]))]
    for t in readers:
        t.start()
    try:
        container = rt.start(spec, stdout=out_w, stderr=err_w)
    finally:
        os.close(out_w)
        os.close(err_w)
        for t in readers:
            t.join(timeout)
    status = container.cleanup(timeout)
    return Result(status, b"".join(sinks[0]).decode(), b"".join(sinks[1]).decode())


def through_a_shim(rt: Runtime, spec: ContainerSpec, directory: Path) -> str:
    """The output of ``spec`` started as the daemon starts containers: by a spare shim (whose
    embryo takes the specs it can), its log in ``directory``."""
    log = directory / f"{spec.id}.log"
    _pid, sock = rt.start_shim(spec, str(directory), str(log))
    with sock:
        while (packet := sock.recv(65536)) and packet[:1] != b"x":
            pass
    return "".join(json.loads(line)["log"] for line in log.read_text().splitlines())
