"""``--log-opt max-size/max-file/compress`` through the daemon: the shim rotates the json-file
log (and the ``local`` driver's, with its defaults), ``logs`` reads the rotated files first,
``logs -f`` follows across rotations, a re-adopted container goes on rotating, a bad value
fails the start as dockerd 20.10's. The expected lines are dockerd's (see
tests/unit/containers/test_log_rotation.py, where they were recorded)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from dockyard.containers.create import log_rotation
from dockyard.containers.logfile import RotatingLog, wait_for_gzip
from dockyard.containers.logs import LogOptions, LogReader
from dockyard.containers.shim import log_time
from dockyard.testing.daemon import DaemonProcess

HUNDRED = ["sh", "-c", 'i=1; while [ $i -le 100 ]; do echo "line $i"; i=$((i+1)); done']


def _slow(count: int, pause_us: int) -> list[str]:
    return ["sh", "-c", (f'i=1; while [ $i -le {count} ]; do echo "line $i"; i=$((i+1)); '
                         f"usleep {pause_us}; done")]


def _run(client: Any, command: list[str], **log: Any) -> Any:
    config = docker.types.LogConfig(type=log.pop("driver", "json-file"), config=log)
    return client.containers.run("busybox", command, detach=True, log_config=config,
                                 network_mode="none")


def _lines(data: bytes) -> list[int]:
    return [int(line.split()[-1]) for line in data.decode().splitlines()]


def _files(root: Path, cid: str) -> list[str]:
    """The log's files once the last rotated one is gzipped (the shim's last act)."""
    wait_for_gzip(str(root / "containers" / cid / f"{cid}-json.log.1"))
    return sorted(n.removeprefix(cid) for n in os.listdir(root / "containers" / cid)
                  if n.startswith(f"{cid}-json.log"))


def _kept(tmp_path: Path, options: dict[str, str], count: int) -> list[int]:
    """The lines a rotating log of ``options`` keeps of ``line 1`` … ``line count``."""
    path = str(tmp_path / "model-json.log")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    writer = RotatingLog(fd, path, log_rotation({"Config": options}))
    for i in range(1, count + 1):
        writer.write("stdout", [f"line {i}\n".encode()], log_time())
    os.close(fd)
    reader = LogReader(path, LogOptions(), int(options.get("max-file", "1")))
    return _lines(b"".join(data for _, data in reader.initial()))


def test_logs_show_what_the_rotated_files_hold(client: Any, dockyard_daemon: Any) -> None:
    c = _run(client, HUNDRED, **{"max-size": "1k", "max-file": "3"})
    assert c.wait()["StatusCode"] == 0
    assert _lines(c.logs()) == list(range(66, 101))  # dockerd 20.10's answer
    assert _lines(c.logs(tail=5)) == list(range(96, 101))
    assert _files(dockyard_daemon.root, c.id) == ["-json.log", "-json.log.1", "-json.log.2"]
    c.reload()
    assert c.attrs["LogPath"].endswith(f"{c.id}-json.log")


def test_compressed_and_single_file_logs(client: Any, dockyard_daemon: Any) -> None:
    c = _run(client, HUNDRED, **{"max-size": "1k", "max-file": "3", "compress": "true"})
    c.wait()
    assert _files(dockyard_daemon.root, c.id) == ["-json.log", "-json.log.1.gz", "-json.log.2.gz"]
    assert _lines(c.logs()) == list(range(66, 101))
    c = _run(client, HUNDRED, **{"max-size": "1k"})
    c.wait()
    assert _files(dockyard_daemon.root, c.id) == ["-json.log", "-json.log.1"]
    assert _lines(c.logs()) == list(range(92, 101))


def test_local_driver_rotates_with_its_defaults_or_options(client: Any) -> None:
    c = _run(client, HUNDRED, driver="local", **{"max-size": "1k", "max-file": "3"})
    c.wait()
    assert _lines(c.logs()) == list(range(30, 101))  # dockerd 20.10's answer
    c = _run(client, HUNDRED, driver="local")
    c.wait()
    assert _lines(c.logs()) == list(range(1, 101))


def test_follow_goes_on_across_rotations(client: Any) -> None:
    """Every line once, in order (max-file large enough that no file is dropped however far
    the follower lags)."""
    c = _run(client, ["sh", "-c", "sleep 0.3; " + _slow(300, 1000)[2]],
             **{"max-size": "1k", "max-file": "60", "compress": "true"})
    assert _lines(b"".join(c.logs(stream=True, follow=True))) == list(range(1, 301))


def test_bad_values_fail_the_start_as_dockerd(client: Any) -> None:
    """dockerd 20.10 creates the container, then its start fails: a 500 in the logger's
    words, exit code 128, the error in the state, still "created"."""
    config = docker.types.LogConfig(type="json-file", config={"max-size": "abc"})
    c = client.containers.create("busybox", ["true"], log_config=config, network_mode="none")
    with pytest.raises(docker.errors.APIError) as info:
        c.start()
    assert info.value.status_code == 500
    assert info.value.explanation == "failed to initialize logging driver: invalid size: 'abc'"
    c.reload()
    state = c.attrs["State"]
    assert (state["Status"], state["ExitCode"], state["Error"]) == (
        "created", 128, "failed to initialize logging driver: invalid size: 'abc'")


def test_long_lines_are_16k_pieces(client: Any) -> None:
    c = client.containers.run("busybox", ["sh", "-c", "head -c 40000 /dev/zero | tr '\\0' a; echo"],
                              detach=True, network_mode="none")
    c.wait()
    assert c.logs() == b"a" * 40000 + b"\n"
    assert c.logs(tail=1) == b"a" * 7232 + b"\n"  # dockerd's last piece
    assert c.logs(tail=2) == b"a" * (16384 + 7232) + b"\n"


# ---- a daemon of its own: restarted while a container rotates ---------------------------------


def test_a_readopted_container_keeps_rotating(busybox_daemon: DaemonProcess, tmp_path: Path) -> None:
    """The shim owns the writer (and hands it over when it re-executes itself at 0.5 s): a
    daemon restarted mid-run finds the log rotated on, as a rotating log of the same options
    keeps it."""
    options = {"max-size": "1k", "max-file": "3"}
    client = busybox_daemon.client()
    try:
        c = _run(client, ["sh", "-c", "sleep 0.8; " + _slow(150, 2000)[2]], **options)
        busybox_daemon.restart()
        client.close()
        client = busybox_daemon.client()
        c = client.containers.get(c.id)
        assert c.wait()["StatusCode"] == 0
        assert _lines(c.logs()) == _kept(tmp_path, options, 150)
        assert _files(busybox_daemon.root, c.id) == ["-json.log", "-json.log.1", "-json.log.2"]
    finally:
        for item in client.api.containers(all=True):
            client.api.remove_container(item["Id"], force=True)
        client.close()
