"""The magics in a real kernel run by an UNPRIVILEGED user (made by this test), with no
DOCKYARD_HOST: the first magic starts the user's bundled rootless daemon (default paths:
``~/.local/share/dockyard``, the socket under ``$XDG_RUNTIME_DIR`` or the ``/tmp/dockyard-<uid>``
fallback); a busybox image made in the kernel is loaded into it; ``-v .:/data`` resolves to the
notebook's directory and what the container writes there belongs to the user, not root; a
second kernel of the user reuses that daemon; and the daemon stops leaving nothing mounted or
running. Twice: with subordinate ids (newuidmap) and with the single-id map. And once under a
real Jupyter server the user runs: the server extension starts that daemon, the server's
kernels share it, and the server's shutdown stops it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest
import requests
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_procs import JupyterServer, free_port, stop_server
from jupyter_procs import _wait_up as wait_up

from dockyard.testing.rootless import UnprivilegedUser

pytestmark = [pytest.mark.root, pytest.mark.slow]

# Run as the user: execute each notebook given on the command line in a kernel of its own, in
# the notebook's directory (as Jupyter does), and write it back with its outputs.
DRIVER = """
import sys
from pathlib import Path
import nbformat
from nbclient import NotebookClient
for name in sys.argv[1:]:
    path = Path(name)
    nb = nbformat.read(path, as_version=4)
    try:
        NotebookClient(nb, timeout=60, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        nbformat.write(nb, path)
"""

FIRST = (
    "%load_ext dockyard_jupyter\n%docker version",
    ("from pathlib import Path\nfrom dockyard.testing.busybox import build_busybox_archive\n"
     "archive = build_busybox_archive(Path.home() / 'busybox', 'busybox:latest')\n"
     "%docker load -i {archive}"),
    ("%docker run --rm -v .:/data busybox sh -c "
     "'echo hi > /data/out.txt; mkdir /data/d; touch /data/d/f; cat /data/out.txt; exit 3'"),
    "print('exit code', _exit_code)",
    "%docker run --rm -v .:/data busybox sh -c 'id -u; stat -c %u:%g /data/out.txt'",
    "print('exit code', _exit_code)",
)
SECOND = (
    "%load_ext dockyard_jupyter",
    "%docker run --rm -v .:/data busybox cat /data/out.txt",
    "print('exit code', _exit_code)",
)


@dataclass
class UserSetup:
    user: UnprivilegedUser
    mode: str        # "subids" | "single"
    folder: Path     # the notebook's directory, the user's
    socket: Path

    @property
    def data_root(self) -> Path:
        return self.user.home / ".local/share/dockyard"

    def daemon_pid(self) -> int:
        return int((self.data_root / "dockyard.pid").read_text())

    def execute(self, *notebooks: tuple[str, tuple[str, ...]]) -> list[Any]:
        paths = []
        for name, sources in notebooks:
            nb = nbformat.v4.new_notebook()  # type: ignore[no-untyped-call]
            nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]  # type: ignore[no-untyped-call]
            nbformat.write(nb, self.folder / name)  # type: ignore[no-untyped-call]
            os.chown(self.folder / name, self.user.uid, self.user.gid)
            paths.append(str(self.folder / name))
        done = self.user.run([self.user.python, "-c", DRIVER, *paths], timeout=120)
        executed = [nbformat.read(path, as_version=4) for path in paths]  # type: ignore[no-untyped-call]
        assert done.returncode == 0, done.stderr[-3000:] + self.log()
        return executed

    def log(self) -> str:
        log = self.data_root / "daemon.log"
        return log.read_text(errors="replace")[-3000:] if log.exists() else "(no daemon log)"


@pytest.fixture(params=["subids", "single"])
def setup(request: pytest.FixtureRequest) -> Iterator[UserSetup]:
    if os.geteuid() != 0:
        pytest.skip("creating a test user needs root")
    mode = request.param
    if mode == "subids" and not shutil.which("newuidmap"):
        pytest.fail("newuidmap is missing: install the uidmap package (.ci/install does)")
    # subids: $XDG_RUNTIME_DIR set; single: unset, the socket falls back to /tmp/dockyard-<uid>
    user = UnprivilegedUser.create(subids=mode == "subids", runtime_dir=mode == "subids", prefix="dyk")
    daemon: int | None = None
    try:
        sock = user.daemon_socket()
        folder = user.home / "notebooks"
        made = user.run(["mkdir", "-m", "0755", str(folder)])
        assert made.returncode == 0, made.stderr
        yield (found := UserSetup(user, mode, folder, sock))
        with contextlib.suppress(OSError, ValueError):
            daemon = found.daemon_pid()
    finally:
        try:
            if daemon is not None:
                stop(daemon)
        finally:
            user.cleanup()


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def stop(pid: int, timeout: float = 20.0) -> None:
    """SIGTERM the daemon this test's kernel started (by pid), SIGKILL if it lingers."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        raise AssertionError(f"daemon {pid} ignored SIGTERM")


def text(cell: Any, kind: str) -> str:
    parts = []
    for out in cell.outputs:
        if out["output_type"] == "stream" and out["name"] == kind:
            parts.append(out["text"])
        elif out["output_type"] == "error" and kind == "stderr":
            parts.append(f"{out['ename']}: {out['evalue']}")
        elif out["output_type"] == "execute_result" and kind == "result":
            parts.append(out["data"]["text/plain"])
    return "".join(parts)


def daemons_of(user: UnprivilegedUser) -> list[int]:
    found = []
    for pid in user.pids():
        with contextlib.suppress(OSError):
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if b"dockyard.cli.main" in argv and b"daemon" in argv and alive(pid):
                found.append(pid)
    return found


def mounts_under(*places: Path) -> list[str]:
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        return [line for line in f if any(f" {p}" in line for p in places)]


def test_rootless_kernel_bind_mount_and_shared_daemon(setup: UserSetup) -> None:
    user, folder = setup.user, setup.folder
    assert not setup.socket.exists() and not daemons_of(user)
    (first,) = setup.execute(("first.ipynb", FIRST))
    assert "ApiVersion: 1.45" in text(first.cells[0], "result"), first.cells[0].outputs
    assert "Loaded image: busybox:latest" in text(first.cells[1], "stdout"), first.cells[1].outputs

    run = first.cells[2]
    assert text(run, "stdout") == "hi\n", run.outputs
    assert "exited with status 3" in text(run, "stderr") and text(run, "result") == "3"
    assert text(first.cells[3], "stdout") == "exit code 3\n"
    for path in (folder / "out.txt", folder / "d", folder / "d" / "f"):
        st = path.lstat()
        assert (st.st_uid, st.st_gid) == (user.uid, user.gid), (path, st.st_uid, st.st_gid)
    assert (folder / "out.txt").read_text() == "hi\n" and (folder / "d").is_dir()
    # inside, the user's files are root's: the container's root is the user
    assert text(first.cells[4], "stdout").split() == ["0", "0:0"], first.cells[4].outputs
    assert text(first.cells[5], "stdout") == "exit code 0\n"

    # the daemon outlived the kernel that started it, on the user's default socket
    pid = setup.daemon_pid()
    assert daemons_of(user) == [pid] and os.readlink(f"/proc/{pid}/cwd") == "/"
    assert setup.socket.is_socket() and setup.socket.stat().st_uid == user.uid
    assert setup.data_root.stat().st_uid == user.uid

    (second,) = setup.execute(("second.ipynb", SECOND))
    assert text(second.cells[1], "stdout") == "hi\n", second.cells[1].outputs
    assert text(second.cells[2], "stdout") == "exit code 0\n"
    assert setup.daemon_pid() == pid and daemons_of(user) == [pid]   # reused, not restarted
    assert (setup.data_root / "daemon.log").read_text().count("API listen on") == 1, setup.log()

    stop(pid)
    time.sleep(0.2)
    assert not daemons_of(user) and not setup.socket.exists()
    assert mounts_under(user.home, setup.socket.parent) == []
    assert not list((setup.data_root / "containers").glob("[0-9a-f]*"))


def start_user_server(setup: UserSetup, root: Path) -> JupyterServer:
    """A Jupyter server with the extension, run by the user in the notebook folder; its log in
    ``root`` (removed by ``stop_server``)."""
    user, port, token = setup.user, free_port(), secrets.token_hex(16)
    root.mkdir()
    with open(root / "server.log", "wb") as out:
        proc = user.popen([user.python, "-m", "jupyter_server", "--no-browser", f"--port={port}",
                           "--ip=127.0.0.1", f"--IdentityProvider.token={token}",
                           f"--ServerApp.root_dir={setup.folder}",
                           "--ServerApp.jpserver_extensions={'dockyard_jupyter': True}"],
                          stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    server = JupyterServer(f"http://127.0.0.1:{port}", token, proc, root)
    try:
        wait_up(server, 60)
    except BaseException:
        stop_server(server)
        raise
    return server


def start_kernel(server: JupyterServer, user: UnprivilegedUser) -> BlockingKernelClient:
    """A kernel the server starts (as the user, in the folder), reached through its
    connection file."""
    made = requests.post(server.url + "/api/kernels", json={"name": "python3", "path": ""},
                         headers={"Authorization": f"token {server.token}"}, timeout=30)
    made.raise_for_status()
    connection = user.home / f".local/share/jupyter/runtime/kernel-{made.json()['id']}.json"
    wait_for(connection.exists)
    kc = BlockingKernelClient(connection_file=str(connection))
    kc.load_connection_file()
    kc.start_channels(hb=False)   # a heartbeat late under load would read as a dead kernel
    kc.wait_for_ready(timeout=60)
    return kc


def wait_for(predicate: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)
    return value


def run_cell(kc: BlockingKernelClient, code: str) -> tuple[str, str]:
    """stdout and stderr (errors included) of one cell."""
    out: dict[str, str] = {"stdout": "", "stderr": ""}

    def hook(msg: dict[str, Any]) -> None:
        content = msg["content"]
        if msg["msg_type"] == "stream":
            out[content["name"]] += content["text"]
        elif msg["msg_type"] == "error":
            out["stderr"] += f"{content['ename']}: {content['evalue']}"

    kc.execute_interactive(code, timeout=60, output_hook=hook)
    return out["stdout"], out["stderr"]


@pytest.mark.parametrize("setup", ["single"], indirect=True)
def test_rootless_server_starts_the_daemon_its_kernels_share(setup: UserSetup,
                                                             tmp_path: Path) -> None:
    user, folder = setup.user, setup.folder
    server = start_user_server(setup, tmp_path / "server")
    kernels: list[BlockingKernelClient] = []
    try:
        status = server.get("/dockyard/status").json()
        assert status["host"] == f"unix://{setup.socket}" and status["reachable"], status
        pid = status["daemon"]["pid"]
        assert status["daemon"]["managed"] and daemons_of(user) == [pid]
        kernels = [start_kernel(server, user), start_kernel(server, user)]
        out, err = run_cell(kernels[0], f"%load_ext dockyard_jupyter\n{FIRST[1]}")
        assert "Loaded image: busybox:latest" in out, err
        out, err = run_cell(kernels[0], "%docker run --rm -v .:/data busybox sh -c "
                                        "'echo served > /data/srv.txt; cat /data/srv.txt'")
        assert out == "served\n", err
        st = (folder / "srv.txt").stat()
        assert (st.st_uid, st.st_gid) == (user.uid, user.gid)
        out, err = run_cell(kernels[1], "%load_ext dockyard_jupyter\n"
                                        "%docker run --rm -v .:/data busybox cat /data/srv.txt")
        assert out == "served\n", err
        assert daemons_of(user) == [pid] and setup.daemon_pid() == pid   # one daemon for all
    finally:
        for kc in kernels:
            kc.stop_channels()
        stop_server(server)
    assert server.process.returncode == 0
    wait_for(lambda: not daemons_of(user))                   # the server's shutdown stopped it
    assert not setup.socket.exists() and mounts_under(user.home, setup.socket.parent) == []
