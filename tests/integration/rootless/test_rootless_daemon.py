"""The rootless daemon end to end: an unprivileged user this test creates runs ``dockyard
daemon`` with its default paths (``~/.local/share/dockyard``; the socket under
``$XDG_RUNTIME_DIR``, or the ``/tmp/dockyard-<uid>`` fallback), and the real docker CLI (run as
that user, ``DOCKER_HOST=unix://…``) and docker-py drive it: run, logs, exec, networks,
published ports, volumes, binds, ``--user``, cp, build, pull (from a loopback registry),
import, a daemon restart around a running container, and nothing left behind. Twice: with
subordinate ids (newuidmap) and with the single-id map. Where the kernel forbids something,
the error names what is missing.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import tarfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dockyard.testing import nsjoin
from dockyard.testing.busybox import (
    BUSYBOX,
    build_busybox_archive,
    make_image,
    write_archive,
)
from dockyard.testing.daemon import ping_unix
from dockyard.testing.registry import RegistryProcess, free_port, push_image
from dockyard.testing.rootless import UnprivilegedUser

DOCKER = shutil.which("docker")


@dataclass
class Rootless:
    """One rootless daemon of one test user, and how to reach it."""

    user: UnprivilegedUser
    mode: str  # "subids" | "single"
    socket: Path
    data_root: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = self.user.popen([self.user.python, "-m", "dockyard.cli.main", "daemon"],
                                        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not ping_unix(self.socket):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"rootless daemon did not come up: {self.log.read_text()[-3000:]}")
            time.sleep(0.05)

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.proc = None
        return code

    def docker(self, *args: str, stdin: Any = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """The docker CLI, run as the user."""
        assert DOCKER is not None
        return self.user.run([DOCKER, *args], env={"DOCKER_HOST": self.host}, stdin=stdin,
                             timeout=timeout)

    def ok(self, *args: str, timeout: float = 60) -> str:
        done = self.docker(*args, timeout=timeout)
        assert done.returncode == 0, f"docker {' '.join(args)}: {done.stderr}\n{self.log.read_text()[-2000:]}"
        return done.stdout

    def client(self) -> Any:
        import docker

        return docker.DockerClient(base_url=self.host, version="auto")


@pytest.fixture(scope="module", params=["subids", "single"])
def rootless(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rootless]:
    if os.geteuid() != 0:
        pytest.skip("creating a test user needs root")
    if DOCKER is None:
        pytest.skip("the docker CLI is not installed")
    mode = request.param
    if mode == "subids" and not shutil.which("newuidmap"):
        pytest.fail("newuidmap is missing: install the uidmap package (.ci/install does)")
    # subids: $XDG_RUNTIME_DIR set; single: unset, the daemon falls back to /tmp/dockyard-<uid>
    user = UnprivilegedUser.create(subids=mode == "subids", runtime_dir=mode == "subids", prefix="dyd")
    try:
        daemon = Rootless(user, mode, user.daemon_socket(), user.home / ".local/share/dockyard",
                          tmp_path_factory.mktemp("rootless-log") / "daemon.log")
        daemon.start()
        archive = build_busybox_archive(tmp_path_factory.mktemp("rootless-busybox"))
        with open(archive, "rb") as f:
            done = daemon.docker("load", stdin=f)
        assert done.returncode == 0, done.stderr
        yield daemon
    finally:
        with contextlib.suppress(Exception):
            if daemon.proc is not None:
                for line in daemon.ok("ps", "-aq").split():
                    daemon.docker("rm", "-f", line)
            daemon.stop()
        user.cleanup()


@pytest.fixture(autouse=True)
def _no_leftover_containers(rootless: Rootless) -> Iterator[None]:
    """A failed test's containers must not fail the next ones."""
    yield
    if rootless.proc is not None:
        client = rootless.client()
        try:
            for container in client.containers.list(all=True):
                container.remove(force=True)
        finally:
            client.close()


def _layer_owners(image: Any, names: set[str]) -> dict[str, tuple[int, int]]:
    """Owners of ``names`` in an image's layers, as ``docker save`` carries them."""
    owners = {}
    with tarfile.open(fileobj=io.BytesIO(b"".join(image.save()))) as outer:
        for member in outer.getmembers():
            if not member.isfile() or not member.name.startswith("blobs/"):
                continue
            data = outer.extractfile(member).read()  # type: ignore[union-attr]
            with contextlib.suppress(tarfile.TarError), tarfile.open(fileobj=io.BytesIO(data)) as layer:
                for entry in layer.getmembers():
                    if entry.name in names:
                        owners[entry.name] = (entry.uid, entry.gid)
    return owners


def _wait_for(predicate: Any, timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)
    return value


def _get(url: str) -> str:
    def fetch() -> str | None:
        try:
            with urllib.request.urlopen(url, timeout=3) as resp:
                return str(resp.read().decode())
        except OSError:
            return None
    return str(_wait_for(fetch))


# cap_net_raw+ep as a version 2 security.capability xattr (what setcap writes outside a userns)
NET_RAW_CAPS = bytes.fromhex("01000002" "00200000" "00000000" "00000000" "00000000")


def _tar_add(tar: tarfile.TarFile, name: str, kind: bytes, owner: tuple[int, int], mode: int,
             data: bytes = b"", link: str = "", xattrs: dict[str, bytes] | None = None) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = kind, mode, 1704067200
    info.uid, info.gid = owner
    info.linkname = link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    info.pax_headers = {f"SCHILY.xattr.{k}": v.decode("utf-8", "surrogateescape")
                        for k, v in (xattrs or {}).items()}
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def _owned_layer(path: Path, note: bytes = b"") -> Path:
    """A layer tar with owners other than root: a directory, files, a symlink and a hardlink of
    1000:1000, a setgid file of group 42, a setuid file of 1000, an owner no subordinate range
    reaches (200000) and a busybox with file capabilities; ``note`` (in /owned/note) makes it
    a layer of its own, unpacked again whatever an earlier test left."""
    add = _tar_add
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        add(tar, "owned", tarfile.DIRTYPE, (1000, 1000), 0o750)
        add(tar, "owned/file", tarfile.REGTYPE, (1000, 1000), 0o640, b"mine\n")
        add(tar, "owned/link", tarfile.SYMTYPE, (1000, 1000), 0o777, link="file")
        add(tar, "owned/hard", tarfile.LNKTYPE, (1000, 1000), 0o640, link="owned/file")
        add(tar, "owned/gidonly", tarfile.REGTYPE, (0, 42), 0o2755, b"#!/bin/sh\n")
        add(tar, "owned/suid", tarfile.REGTYPE, (1000, 1000), 0o4755, b"#!/bin/sh\n")
        add(tar, "owned/far", tarfile.REGTYPE, (200000, 200000), 0o644, b"far\n")
        add(tar, "owned/root", tarfile.REGTYPE, (0, 0), 0o644, b"root\n")
        add(tar, "owned/busybox", tarfile.REGTYPE, (0, 0), 0o755, BUSYBOX.read_bytes(),
            xattrs={"security.capability": NET_RAW_CAPS})
        if note:
            add(tar, "owned/note", tarfile.REGTYPE, (0, 0), 0o644, note)
    return path


OWNED = ["/owned", "/owned/file", "/owned/link", "/owned/hard", "/owned/gidonly", "/owned/suid",
         "/owned/far", "/owned/root", "/owned/busybox"]


def _host_uid(rootless: Rootless, uid: int) -> int:
    """Container id N (N > 0) is subordinate id start + N - 1 on the host."""
    start = int(next(line for line in Path("/etc/subuid").read_text().splitlines()
                     if line.startswith(rootless.user.name + ":")).split(":")[1])
    return start + uid - 1


def _stat_lines(rootless: Rootless, image: str, paths: list[str]) -> list[str]:
    return rootless.ok("run", "--rm", image, "stat", "-c", "%n %u:%g %a", *paths).splitlines()


def _unmapped_warning(rootless: Rootless) -> bool:
    return "owned by ids outside the rootless user namespace" in rootless.log.read_text()


# ---- the tests (in this order for each mode; the last one stops the daemon) ----------------------


def test_default_paths_and_socket(rootless: Rootless) -> None:
    st = rootless.socket.stat()
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660
    assert st.st_uid == rootless.user.uid
    assert rootless.data_root.stat().st_uid == rootless.user.uid
    assert stat.S_IMODE(rootless.data_root.stat().st_mode) == 0o700  # as dockerd's: private
    info = json.loads(rootless.ok("info", "--format", "{{json .}}"))
    assert info["DockerRootDir"] == str(rootless.data_root)
    assert "name=rootless" in info["SecurityOptions"]
    assert not [p for p in rootless.data_root.rglob("*") if p.lstat().st_uid == 0]


def test_run_rm_output_and_exit_code(rootless: Rootless) -> None:
    done = rootless.docker("run", "--rm", "busybox", "sh", "-c",
                           "id -u; wc -l < /proc/self/uid_map; echo oops >&2; exit 3")
    assert done.returncode == 3, done.stderr
    assert done.stdout.split() == ["0", "2" if rootless.mode == "subids" else "1"]
    assert "oops" in done.stderr
    assert rootless.ok("ps", "-aq") == ""


def test_detached_logs_exec_stop_rm(rootless: Rootless) -> None:
    cid = rootless.ok("run", "-d", "--name", "rl-detached", "busybox", "sh", "-c",
                      "echo up; trap 'echo bye; exit 0' TERM; while :; do sleep 0.1; done").strip()
    _wait_for(lambda: "up" in rootless.ok("logs", cid))
    assert rootless.ok("exec", "rl-detached", "sh", "-c", "echo $((6*7)); id -u").split() == ["42", "0"]
    as_nobody = rootless.docker("exec", "-u", "nobody", "rl-detached", "id", "-u")
    if rootless.mode == "subids":
        assert as_nobody.stdout.strip() == "65534", as_nobody.stderr
    else:
        assert as_nobody.returncode != 0  # the CLI prints an exec's start error on stdout
        assert "not mapped in the rootless user namespace" in as_nobody.stdout + as_nobody.stderr
    rootless.ok("stop", "-t", "5", "rl-detached")
    assert rootless.ok("logs", "rl-detached").split() == ["up", "bye"]
    assert rootless.ok("inspect", "-f", "{{.State.ExitCode}}", cid).strip() == "0"
    rootless.ok("rm", "rl-detached")


def test_networks_none_host_default_and_bridge_refused(rootless: Rootless) -> None:
    probe = "ip -o link | cut -d: -f2 | tr -d ' '; ip -o link show lo | grep -c ',UP'"
    assert rootless.ok("run", "--rm", "--network", "none", "busybox", "sh", "-c", probe).split() == ["lo", "1"]
    assert rootless.ok("run", "--rm", "busybox", "sh", "-c", probe).split() == ["lo", "1"]  # the default
    assert rootless.ok("run", "--rm", "--network", "host", "busybox", "hostname").strip() == socket.gethostname()
    client = rootless.client()
    try:
        made = client.containers.create("busybox", "true")
        # kept as sent, as dockerd keeps it; for a rootless daemon "default" is none
        assert made.attrs["HostConfig"]["NetworkMode"] == "default"
        assert list(made.attrs["NetworkSettings"]["Networks"]) == ["none"]
        assert client.api.containers(all=True, filters={"id": made.id})[0]["HostConfig"]["NetworkMode"] == "default"
        made.remove()
    finally:
        client.close()
    bridge = rootless.docker("run", "--rm", "--network", "bridge", "busybox", "true")
    assert bridge.returncode == 125 and "CAP_NET_ADMIN" in bridge.stderr
    created = rootless.docker("network", "create", "rl-net")
    assert created.returncode != 0 and "CAP_NET_ADMIN" in created.stderr
    assert rootless.ok("ps", "-aq") == ""


def test_published_port_through_the_proxy(rootless: Rootless) -> None:
    port = free_port()
    rootless.ok("run", "-d", "--name", "rl-web", "-p", f"127.0.0.1:{port}:80", "busybox", "sh", "-c",
                "echo served > /tmp/i; exec httpd -f -p 80 -h /tmp")
    assert _get(f"http://127.0.0.1:{port}/i") == "served\n"
    assert rootless.ok("port", "rl-web").strip() == f"80/tcp -> 127.0.0.1:{port}"
    # inside, the container's own loopback works too
    assert rootless.ok("exec", "rl-web", "wget", "-q", "-O-", "http://127.0.0.1/i") == "served\n"
    rootless.ok("rm", "-f", "rl-web")
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/i", timeout=2)


def test_named_volume_and_bind_mount(rootless: Rootless) -> None:
    bind = rootless.user.home / "bind"
    done = rootless.user.run(["sh", "-c", f"mkdir {bind} && echo from-host > {bind}/in"])
    assert done.returncode == 0, done.stderr
    rootless.ok("volume", "create", "rl-vol")
    out = rootless.ok("run", "--rm", "-v", "rl-vol:/data", "-v", f"{bind}:/b", "busybox", "sh", "-c",
                      "cat /b/in; echo kept > /data/v; echo from-ctr > /b/out")
    assert out == "from-host\n"
    assert rootless.ok("run", "--rm", "-v", "rl-vol:/data:ro", "busybox", "cat", "/data/v") == "kept\n"
    assert (bind / "out").read_text() == "from-ctr\n" and (bind / "out").stat().st_uid == rootless.user.uid
    mountpoint = rootless.ok("volume", "inspect", "-f", "{{.Mountpoint}}", "rl-vol").strip()
    assert mountpoint == str(rootless.data_root / "volumes/rl-vol/_data")
    rootless.ok("volume", "rm", "rl-vol")


def test_volume_copy_up_keeps_owners_and_reads_what_the_user_may_not(rootless: Rootless,
                                                                     tmp_path: Path) -> None:
    """A new named volume mounted where the image has content gets a copy of it (docker's
    copy-up) as the image has it: the owners the container sees (1000:1000 with subordinate
    ids), modes, a setuid bit, and a directory of mode 0 the daemon's user may not read —
    and where it may read everything (/pub), the owners still."""
    layer = tmp_path / "data.tar"
    with tarfile.open(layer, "w", format=tarfile.PAX_FORMAT) as tar:
        _tar_add(tar, "pub", tarfile.DIRTYPE, (1000, 1000), 0o755)
        _tar_add(tar, "pub/file", tarfile.REGTYPE, (1000, 1000), 0o644, b"public\n")
        _tar_add(tar, "data", tarfile.DIRTYPE, (1000, 1000), 0o750)
        _tar_add(tar, "data/file", tarfile.REGTYPE, (1000, 1000), 0o640, b"mine\n")
        _tar_add(tar, "data/suid", tarfile.REGTYPE, (1000, 1000), 0o4755, b"#!/bin/sh\n")
        _tar_add(tar, "data/locked", tarfile.DIRTYPE, (0, 0), 0o000)
        _tar_add(tar, "data/locked/inner", tarfile.REGTYPE, (0, 0), 0o644, b"inner\n")
    archive = write_archive(tmp_path / "rl-copyup.tar", [make_image("rl-copyup:latest", extra_layers=[layer])])
    with open(archive, "rb") as f:
        done = rootless.docker("load", stdin=f)
    assert done.returncode == 0, done.stdout + done.stderr
    done = rootless.docker("run", "--rm", "-v", "rl-cu:/data", "-v", "rl-cu-pub:/pub", "rl-copyup", "sh", "-c",
                           "stat -c '%n %u:%g %a' /data /data/file /data/suid /data/locked /data/locked/inner"
                           " /pub /pub/file && cat /data/locked/inner /pub/file")
    assert done.returncode == 0, done.stdout + done.stderr + rootless.log.read_text()[-2000:]
    owner = "1000:1000" if rootless.mode == "subids" else "0:0"
    assert done.stdout.splitlines() == [f"/data {owner} 750", f"/data/file {owner} 640", f"/data/suid {owner} 4755",
                                        "/data/locked 0:0 0", "/data/locked/inner 0:0 644", f"/pub {owner} 755",
                                        f"/pub/file {owner} 644", "inner", "public"]
    if rootless.mode == "subids":  # on the host, the volumes hold the subordinate ids
        for path in ("rl-cu/_data/file", "rl-cu-pub/_data/file"):
            assert (rootless.data_root / "volumes" / path).stat().st_uid == _host_uid(rootless, 1000)
    rootless.ok("volume", "rm", "rl-cu", "rl-cu-pub")
    # an anonymous volume below the 0750 directory: the image's path looked up as the owner too
    assert rootless.ok("run", "--rm", "-v", "/data/locked", "rl-copyup", "cat", "/data/locked/inner") == "inner\n"
    # a volume a container closed to the daemon's user mounts again (is it empty? asked as the owner)
    rootless.ok("run", "--rm", "-v", "rl-cu-shut:/v", "busybox", "chmod", "0", "/v")
    assert rootless.ok("run", "--rm", "-v", "rl-cu-shut:/v", "busybox", "stat", "-c", "%a", "/v") == "0\n"
    rootless.ok("volume", "rm", "rl-cu-shut")
    rootless.ok("rmi", "rl-copyup")


def test_volume_subpath(rootless: Rootless) -> None:
    """``volume-subpath``: the daemon's user resolves it (as the owner where a container closed
    a directory to it, with subordinate ids), the launcher mounts it in the user namespace; a
    link out of the volume is refused in dockerd 26's words."""
    closed = "chown 1000 /v/in && chmod 700 /v/in" if rootless.mode == "subids" else "true"
    rootless.ok("run", "--rm", "-v", "rl-sub:/v", "busybox", "sh", "-c",
                f"mkdir -p /v/in/sub && echo deep > /v/in/sub/f && ln -s /etc /v/out && {closed}")
    out = rootless.ok("run", "--rm", "--mount", "type=volume,src=rl-sub,dst=/d,volume-subpath=in/sub",
                      "busybox", "sh", "-c", "cat /d/f; echo more > /d/g; ls /d")
    assert out == "deep\nf\ng\n"
    escape = rootless.docker("run", "--rm", "--mount", "type=volume,src=rl-sub,dst=/d,volume-subpath=out",
                             "busybox", "cat", "/d/passwd")
    data = rootless.data_root / "volumes/rl-sub/_data"
    assert escape.returncode != 0 and "root:x:0:0" not in escape.stdout
    assert f"path concatenation escapes the base directory, base: {data}, subpath: out" in escape.stderr
    rootless.ok("volume", "rm", "rl-sub")


def test_user_flag(rootless: Rootless) -> None:
    done = rootless.docker("run", "--rm", "--user", "1000:1000", "busybox", "sh", "-c",
                           "id -u; id -g; touch /tmp/f && stat -c %u /tmp/f")
    if rootless.mode == "subids":
        assert done.stdout.split() == ["1000", "1000", "1000"], done.stderr
        assert rootless.ok("run", "--rm", "--user", "nobody", "busybox", "id", "-u").strip() == "65534"
    else:  # a single-id map has no 1000: the error says what to add
        assert done.returncode != 0
        assert "not mapped in the rootless user namespace" in done.stderr and "/etc/subuid" in done.stderr
    assert rootless.ok("ps", "-aq") == ""


def test_cp_both_ways_running_and_stopped(rootless: Rootless) -> None:
    home = rootless.user.home
    done = rootless.user.run(["sh", "-c", f"echo to-ctr > {home}/cp-in"])
    assert done.returncode == 0
    rootless.ok("run", "-d", "--name", "rl-cp", "busybox", "sleep", "60")
    rootless.ok("cp", f"{home}/cp-in", "rl-cp:/tmp/cp-in")
    assert rootless.ok("exec", "rl-cp", "cat", "/tmp/cp-in") == "to-ctr\n"
    rootless.ok("cp", "rl-cp:/etc/passwd", f"{home}/cp-out")
    assert (home / "cp-out").read_text().startswith("root:x:0:0:")
    assert (home / "cp-out").stat().st_uid == rootless.user.uid
    rootless.ok("rm", "-f", "rl-cp")
    rootless.ok("create", "--name", "rl-cp-stopped", "busybox", "sh", "-c", "echo made > /made")
    rootless.ok("cp", f"{home}/cp-in", "rl-cp-stopped:/cp-in")
    rootless.ok("start", "-a", "rl-cp-stopped")
    rootless.ok("cp", "rl-cp-stopped:/made", f"{home}/made")
    assert (home / "made").read_text() == "made\n"
    client = rootless.client()
    try:
        data = b"".join(client.containers.get("rl-cp-stopped").export())
        with tarfile.open(fileobj=io.BytesIO(data)) as exported:
            assert {"made", "cp-in"} <= set(exported.getnames())
            assert exported.getmember("made").uid == 0
    finally:
        client.close()
    assert sorted(rootless.ok("diff", "rl-cp-stopped").splitlines()) == ["A /cp-in", "A /made"]
    rootless.ok("rm", "rl-cp-stopped")


def test_the_create_makes_the_working_dir(rootless: Rootless, tmp_path: Path) -> None:
    """As dockerd's create (tests/interop/test_working_dir_create_dockerd.py): the working
    directory is there before any start, a parent of the image's copied up with its owner and
    mode (one the daemon's user may not search: made in the user namespace), the rest the
    container's root's."""
    layer = tmp_path / "workdir.tar"
    with tarfile.open(layer, "w", format=tarfile.PAX_FORMAT) as tar:
        _tar_add(tar, "owned", tarfile.DIRTYPE, (1000, 1000), 0o750)
    archive = write_archive(tmp_path / "rl-workdir.tar", [make_image("rl-workdir:latest", extra_layers=[layer])])
    with open(archive, "rb") as f:
        done = rootless.docker("load", stdin=f)
    assert done.returncode == 0, done.stdout + done.stderr
    rootless.ok("create", "--name", "rl-wd", "-w", "/owned/new/dir", "rl-workdir", "true")
    assert rootless.ok("diff", "rl-wd").splitlines() == ["C /owned", "A /owned/new", "A /owned/new/dir"]
    client = rootless.client()
    try:
        data = b"".join(client.containers.get("rl-wd").export())
    finally:
        client.close()
    with tarfile.open(fileobj=io.BytesIO(data)) as exported:
        found = {m.name: (m.uid, m.gid, oct(stat.S_IMODE(m.mode))) for m in exported if m.name.startswith("owned")}
    owner = 1000 if rootless.mode == "subids" else 0
    assert found == {"owned": (owner, owner, "0o750"), "owned/new": (0, 0, "0o755"),
                     "owned/new/dir": (0, 0, "0o755")}
    rootless.ok("rm", "rl-wd")
    rootless.ok("rmi", "rl-workdir")


def test_build_with_run_workdir_and_copy(rootless: Rootless) -> None:
    ctx = rootless.user.home / "ctx"
    subids = rootless.mode == "subids"
    dockerfile = "FROM busybox\nRUN echo built > /built\nWORKDIR /app/sub\nCOPY f.txt ./\n"
    if subids:
        dockerfile += ("RUN echo app:x:1234:1234::/app:/bin/sh >> /etc/passwd && chown 1234:1234 /built\n"
                       "COPY --chown=app f.txt /owned.txt\n")
    dockerfile += 'CMD ["sh", "-c", "cat /built f.txt; stat -c %u /built"]\n'
    done = rootless.user.run(["sh", "-c", f"mkdir {ctx} && echo copied > {ctx}/f.txt && cat > {ctx}/Dockerfile"],
                             input=dockerfile)
    assert done.returncode == 0, done.stderr
    build = rootless.docker("build", "-t", "rl-built", str(ctx), timeout=90)
    assert build.returncode == 0, build.stdout + build.stderr
    owner = "1234" if subids else "0"
    assert rootless.ok("run", "--rm", "rl-built").split() == ["built", "copied", owner]
    client = rootless.client()
    try:
        owners = _layer_owners(client.images.get("rl-built"), {"built", "app/sub/f.txt", "owned.txt"})
    finally:
        client.close()
    assert owners["app/sub/f.txt"] == (0, 0)  # the container's ids, not the host's
    assert owners["built"] == ((1234, 1234) if subids else (0, 0))
    if subids:
        assert owners["owned.txt"] == (1234, 1234)
    else:
        bad = rootless.user.run(["sh", "-c", f"cat > {ctx}/Dockerfile"],
                                input="FROM busybox\nCOPY --chown=1234 f.txt /\n")
        assert bad.returncode == 0
        failed = rootless.docker("build", "-t", "rl-unmapped", str(ctx))
        assert failed.returncode != 0 and "/etc/subuid" in failed.stdout + failed.stderr
    rootless.ok("rmi", "rl-built")


def test_layer_owners_from_an_image_archive(rootless: Rootless, tmp_path: Path) -> None:
    """A loaded layer's owners, as the container sees them: with subordinate ids, the tar's
    (applied inside the user namespace; the setuid/setgid bits and file capabilities a chown
    clears put back); with the single-id map, root, and the daemon's log says why."""
    image = make_image("rl-owned:latest", extra_layers=[_owned_layer(tmp_path / "owned.tar")])
    archive = write_archive(tmp_path / "rl-owned.tar", [image])
    with open(archive, "rb") as f:
        done = rootless.docker("load", stdin=f)
    assert done.returncode == 0, done.stdout + done.stderr + rootless.log.read_text()[-2000:]
    seen = _stat_lines(rootless, "rl-owned", OWNED)
    if rootless.mode == "subids":
        assert seen == ["/owned 1000:1000 750", "/owned/file 1000:1000 640", "/owned/link 1000:1000 777",
                        "/owned/hard 1000:1000 640", "/owned/gidonly 0:42 2755",
                        "/owned/suid 1000:1000 4755", "/owned/far 0:0 644", "/owned/root 0:0 644",
                        "/owned/busybox 0:0 755"]
        # file capabilities work for a non-root user of the container
        caps = rootless.ok("run", "--rm", "--user", "1000", "rl-owned", "/owned/busybox", "grep",
                           "CapEff", "/proc/self/status")
        assert caps.split() == ["CapEff:", "0000000000002000"]
    else:  # only 0 is mapped: every file is root's
        assert seen == ["/owned 0:0 750", "/owned/file 0:0 640", "/owned/link 0:0 777",
                        "/owned/hard 0:0 640", "/owned/gidonly 0:0 2755", "/owned/suid 0:0 4755",
                        "/owned/far 0:0 644", "/owned/root 0:0 644", "/owned/busybox 0:0 755"]
    assert _unmapped_warning(rootless)  # /owned/far in both modes: in the daemon's log,
    assert "owned by ids outside the rootless user namespace" in done.stdout  # and the client's
    [fs] = [p for p in rootless.data_root.glob("snapshots/*/fs") if (p / "owned/busybox").exists()]
    assert os.getxattr(fs / "owned/busybox", "security.capability")  # kept (v3, the user's root)
    assert (fs / "owned/far").stat().st_uid == rootless.user.uid
    if rootless.mode == "subids":
        assert (fs / "owned/file").stat().st_uid == _host_uid(rootless, 1000)
    rootless.ok("rmi", "rl-owned")


def test_pull_and_import_tell_the_client_of_owners_not_kept(rootless: Rootless, tmp_path: Path,
                                                            dockyard_registry: RegistryProcess) -> None:
    """``docker pull`` (from a registry on loopback) and ``docker import`` of a layer with an
    owner the map cannot hold (/owned/far, 200000): the docker CLI prints the warning naming
    the layer, as ``docker load`` does, and the files are owned as the map allows."""
    pulled = make_image("rl/owned:v1", extra_layers=[_owned_layer(tmp_path / "p.tar", b"pulled\n")])
    push_image(dockyard_registry.url, "rl/owned", pulled)
    name = f"{dockyard_registry.host}/rl/owned:v1"
    done = rootless.docker("pull", name, timeout=90)
    assert done.returncode == 0, done.stdout + done.stderr + rootless.log.read_text()[-2000:]
    owner = "1000:1000" if rootless.mode == "subids" else "0:0"
    warning = f"WARNING: layer {pulled.layers[-1].digest[:19]}: "
    assert warning in done.stdout and "owned by ids outside the rootless user namespace" in done.stdout
    assert done.stdout.index(warning) < done.stdout.index("Digest: sha256:")  # inside the stream
    assert _stat_lines(rootless, name, ["/owned/file", "/owned/far"]) == [
        f"/owned/file {owner} 640", "/owned/far 0:0 644"]

    layer = _owned_layer(tmp_path / "i.tar", b"imported\n")
    with open(layer, "rb") as f:
        done = rootless.docker("import", "-", "rl-imported", stdin=f)
    assert done.returncode == 0, done.stdout + done.stderr + rootless.log.read_text()[-2000:]
    diff_id = "sha256:" + hashlib.sha256(layer.read_bytes()).hexdigest()
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"WARNING: layer {diff_id[:19]}: ") and len(lines) == 2, done.stdout
    assert lines[1].startswith("sha256:")  # the image ID, last, as dockerd sends it
    seen = rootless.ok("run", "--rm", "rl-imported", "/owned/busybox", "stat", "-c", "%n %u:%g",
                       "/owned/file", "/owned/far").splitlines()
    assert seen == [f"/owned/file {owner}", "/owned/far 0:0"]
    with open(_owned_layer(tmp_path / "d.tar", b"dockyard\n"), "rb") as f:  # dockyard's CLI too
        done = rootless.user.run([rootless.user.python, "-m", "dockyard.cli.main", "-H", rootless.host,
                                  "import", "-", "rl-imported-dy"], stdin=f)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("WARNING: layer sha256:") and "\nsha256:" in done.stdout, done.stdout
    rootless.ok("rmi", name, "rl-imported", "rl-imported-dy")


def test_a_builds_pull_tells_the_build_output_of_owners_not_kept(
        rootless: Rootless, tmp_path: Path, dockyard_registry: RegistryProcess) -> None:
    """``docker build`` of a base only the registry has, with a layer owned by ids the map
    cannot hold: the warning stands in the build's output with the pull's lines, after
    ``Step 1/2 : FROM`` and before ``Digest:``, as ``docker pull`` prints it."""
    image = make_image("rl/base:v1", extra_layers=[_owned_layer(tmp_path / "b.tar", b"build\n")])
    push_image(dockyard_registry.url, "rl/base", image)
    name = f"{dockyard_registry.host}/rl/base:v1"
    ctx = rootless.user.home / "pullctx"
    done = rootless.user.run(["sh", "-c", f"mkdir -p {ctx} && cat > {ctx}/Dockerfile"],
                             input=f"FROM {name}\nRUN true\n")
    assert done.returncode == 0, done.stderr
    build = rootless.docker("build", "-t", "rl-pulled-base", str(ctx), timeout=90)
    assert build.returncode == 0, build.stdout + build.stderr + rootless.log.read_text()[-2000:]
    warning = f"WARNING: layer {image.layers[-1].digest[:19]}: "
    out = build.stdout
    assert "owned by ids outside the rootless user namespace" in out, out
    assert out.index(f"Step 1/2 : FROM {name}\n") < out.index("v1: Pulling from rl/base") \
        < out.index(warning) < out.index("Digest: sha256:") < out.index("Step 2/2 : RUN true"), out
    rootless.ok("rmi", "rl-pulled-base", name)


def _bytes_under(path: Path) -> int:
    """What root counts under ``path`` with find(1), every inode once: the figure to match."""
    out = subprocess.run(["find", str(path), "-type", "f,l", "-printf", "%i %s\n"], capture_output=True,
                         text=True, check=True).stdout
    return sum(int(size) for size in dict(line.split() for line in out.splitlines()).values())


def test_sizes_count_what_the_daemon_user_may_not_read(rootless: Rootless) -> None:
    """A container makes a directory of mode 0 (and with subordinate ids one 0750 of its 1000)
    in its writable layer and in a volume: the daemon's user may not read them, yet
    ``system df`` and ``inspect --size`` count the bytes inside, as a root walk does."""
    script = ("mkdir -p /d/sub /v/d && head -c 300000 /dev/zero > /d/sub/f && "
              "head -c 200000 /dev/zero > /v/d/f && chmod 0 /d /v/d")
    if rootless.mode == "subids":
        script += " && mkdir /e && head -c 5000 /dev/zero > /e/f && chown -R 1000:1000 /e && chmod 750 /e"
    rootless.ok("run", "--name", "rl-df", "-v", "rl-dfvol:/v", "busybox", "sh", "-c", script)
    client = rootless.client()
    try:
        usage = client.api.df()
        [container] = [c for c in usage["Containers"] if c["Names"] == ["/rl-df"]]
        [volume] = [v for v in usage["Volumes"] if v["Name"] == "rl-dfvol"]
    finally:
        client.close()
    upper = rootless.data_root / "containers" / container["Id"] / "upper"
    expected = 300000 + (5000 if rootless.mode == "subids" else 0)
    mtab = len("/proc/mounts")  # the /etc/mtab link, dockerd's init layer: SizeRw leaves it out
    assert container["SizeRw"] == _bytes_under(upper) - mtab and container["SizeRw"] >= expected
    assert rootless.ok("inspect", "--size", "--format", "{{.SizeRw}}", "rl-df").strip() == str(container["SizeRw"])
    assert volume["UsageData"]["Size"] == _bytes_under(Path(volume["Mountpoint"])) == 200000
    rootless.ok("rm", "rl-df")
    rootless.ok("volume", "rm", "rl-dfvol")


def test_build_owner_survives_save_and_load(rootless: Rootless) -> None:
    """``RUN chown 1000:1000`` in a build: owned so in the image, and again after the image
    went out (docker save) and came back (docker load) through the unpacker. (The single-id
    map has no 1000 to chown to: there the files are root's both ways.)"""
    subids = rootless.mode == "subids"
    ctx = rootless.user.home / "ctx-chown"
    chown = " && chown -R 1000:1000 /d" if subids else ""
    done = rootless.user.run(["sh", "-c", f"mkdir {ctx} && cat > {ctx}/Dockerfile"],
                             input=f"FROM busybox\nRUN mkdir /d && echo x > /d/f{chown}\n")
    assert done.returncode == 0, done.stderr
    build = rootless.docker("build", "-t", "rl-chown", str(ctx), timeout=90)
    assert build.returncode == 0, build.stdout + build.stderr
    owner = "1000:1000" if subids else "0:0"
    expect = [f"/d {owner} 755", f"/d/f {owner} 644"]
    assert _stat_lines(rootless, "rl-chown", ["/d", "/d/f"]) == expect
    saved = rootless.user.home / "rl-chown.tar"
    rootless.ok("save", "-o", str(saved), "rl-chown")
    rootless.ok("rmi", "rl-chown")
    assert not list(rootless.data_root.glob("snapshots/*/fs/d"))  # so the load unpacks again
    rootless.ok("load", "-i", str(saved))
    assert _stat_lines(rootless, "rl-chown", ["/d", "/d/f"]) == expect
    rootless.ok("rmi", "rl-chown")


def test_add_of_a_local_tar_with_other_owners(rootless: Rootless, tmp_path: Path) -> None:
    """ADD extracts a local tar in the user-namespace helper: its owners as they are with
    subordinate ids; with the single-id map root's, and the build output says so."""
    ctx = rootless.user.home / "ctx-add"
    archive = _owned_layer(tmp_path / "owned.tar")
    done = rootless.user.run(["sh", "-c", f"mkdir {ctx} && cat > {ctx}/owned.tar"], input=archive.read_bytes(),
                             text=False)
    assert done.returncode == 0, done.stderr
    dockerfile = "FROM busybox\nADD owned.tar /x/\n"
    done = rootless.user.run(["sh", "-c", f"cat > {ctx}/Dockerfile"], input=dockerfile)
    assert done.returncode == 0, done.stderr
    build = rootless.docker("build", "-t", "rl-add", str(ctx), timeout=90)
    assert build.returncode == 0, build.stdout + build.stderr + rootless.log.read_text()[-2000:]
    seen = _stat_lines(rootless, "rl-add", ["/x" + p for p in OWNED])
    if rootless.mode == "subids":
        assert seen[:6] == ["/x/owned 1000:1000 750", "/x/owned/file 1000:1000 640",
                            "/x/owned/link 1000:1000 777", "/x/owned/hard 1000:1000 640",
                            "/x/owned/gidonly 0:42 2755", "/x/owned/suid 1000:1000 4755"]
    else:
        assert [line.split()[1] for line in seen] == ["0:0"] * len(OWNED)
        assert seen[4:6] == ["/x/owned/gidonly 0:0 2755", "/x/owned/suid 0:0 4755"]
    assert seen[6:8] == ["/x/owned/far 0:0 644", "/x/owned/root 0:0 644"]
    # the build output names what could not be kept
    assert "owned by ids outside the rootless user namespace" in build.stdout + build.stderr
    client = rootless.client()
    try:  # the committed layer carries the container's ids
        owners = _layer_owners(client.images.get("rl-add"), {"x/owned/file", "x/owned/gidonly"})
    finally:
        client.close()
    expect = {"x/owned/file": (1000, 1000), "x/owned/gidonly": (0, 42)} if rootless.mode == "subids" \
        else {"x/owned/file": (0, 0), "x/owned/gidonly": (0, 0)}
    assert owners == expect
    rootless.ok("rmi", "rl-add")


def test_add_of_a_local_tar_with_whiteout_names(rootless: Rootless) -> None:
    """``.wh.*`` entries of an ADDed tar are plain files here too (no whiteout device, no
    opaque xattr), and the base's files stay."""
    ctx = rootless.user.home / "ctx-add-wh"
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        for name in (".wh.keep", "d/.wh..wh..opq"):
            info = tarfile.TarInfo(name)
            info.size, info.mode = 2, 0o644
            tar.addfile(info, io.BytesIO(b"x\n"))
    done = rootless.user.run(["sh", "-c", f"mkdir {ctx} && cat > {ctx}/wh.tar"], input=data.getvalue(),
                             text=False)
    assert done.returncode == 0, done.stderr
    dockerfile = ("FROM busybox\nRUN mkdir -p /x/d && echo b > /x/d/base && echo k > /x/keep\n"
                  "ADD wh.tar /x/\n")
    done = rootless.user.run(["sh", "-c", f"cat > {ctx}/Dockerfile"], input=dockerfile)
    assert done.returncode == 0, done.stderr
    build = rootless.docker("build", "-t", "rl-add-wh", str(ctx), timeout=90)
    assert build.returncode == 0, build.stdout + build.stderr + rootless.log.read_text()[-2000:]
    listed = rootless.ok("run", "--rm", "rl-add-wh", "sh", "-c", "ls -A /x /x/d; cat /x/.wh.keep")
    assert listed.split() == ["/x:", ".wh.keep", "d", "keep", "/x/d:", ".wh..wh..opq", "base", "x"]
    rootless.ok("rmi", "rl-add-wh")


def test_namespace_modes(rootless: Rootless) -> None:
    """``--uts host``, ``--ipc none`` and ``shareable`` run; ``--pid host`` sees the host's
    processes through the host's /proc, bound (a user namespace of its own may not mount a
    procfs of the host's PID namespace: crun binds it so), and ``--ipc host`` is in the host's
    IPC namespace with its /dev/shm."""
    assert rootless.ok("run", "--rm", "--uts", "host", "busybox", "hostname").strip() == socket.gethostname()
    assert "shm" not in rootless.ok("run", "--rm", "--ipc", "none", "busybox", "ls", "/dev").split()
    assert "/dev/shm" in rootless.ok("run", "--rm", "--ipc", "shareable", "busybox", "df", "/dev/shm")
    out = rootless.ok("run", "--rm", "--pid", "host", "busybox", "sh", "-c",
                      f"readlink /proc/self/ns/pid; test -d /proc/{os.getpid()} && echo sees-us")
    assert out.split() == [os.readlink("/proc/self/ns/pid"), "sees-us"]
    note = Path("/dev/shm") / f"dytest-rl-{rootless.user.name}"
    note.write_text("from-host\n")
    try:
        out = rootless.ok("run", "--rm", "--ipc", "host", "busybox", "sh", "-c",
                          f"readlink /proc/self/ns/ipc; cat /dev/shm/{note.name}")
        assert out.split() == [os.readlink("/proc/self/ns/ipc"), "from-host"]
    finally:
        note.unlink()
    assert rootless.ok("ps", "-aq") == ""


def test_joining_pid_and_ipc_of_a_container(rootless: Rootless, syscall_probe: Path) -> None:
    """``--pid``/``--ipc container:x`` join x's user namespace, which owns x's PID and IPC
    namespaces (as dockerd has runc do under a remap): the joiner sees x's processes, its SysV
    shared memory and its /dev/shm (x's own tmpfs, copied from x's mount namespace; a joiner
    of the joiner gets it too), has x's id map, an exec into it works, and both go away."""
    probe = rootless.user.home / "syscallprobe"  # where the user may read it
    shutil.copy(syscall_probe, probe)
    os.chmod(probe, 0o755)
    bind = ("-v", f"{probe}:/probe:ro")
    donor, joiner = "rl-donor", "rl-joiner"
    try:
        nsjoin.start_pair(rootless.ok, donor, joiner, bind)
        nsjoin.check_joined(rootless.ok, donor, joiner, bind)
        ids = "id -u; cat /proc/self/uid_map"
        assert rootless.ok("exec", joiner, "sh", "-c", ids) == rootless.ok("exec", donor, "sh", "-c", ids)
        one = rootless.ok("run", "--rm", "--pid", f"container:{donor}", "busybox", "ps", "-o", "args")
        assert "sleep 300" in one and "sleep 301" in one
        chained = rootless.ok("run", "--rm", "--ipc", f"container:{joiner}", "busybox", "cat", "/dev/shm/note")
        assert chained == "from-donor\n"  # x's /dev/shm, through its joiner
        rootless.ok("rm", "-f", joiner, donor)
    finally:
        rootless.docker("rm", "-f", joiner, donor)
        probe.unlink()
    assert rootless.ok("ps", "-aq") == ""


def test_kernel_limits_are_named(rootless: Rootless) -> None:
    limited = rootless.docker("run", "--rm", "--memory", "64m", "busybox", "true")
    if limited.returncode != 0:  # cgroup v1 (or v2 without delegation): no cgroup for us
        assert "cgroup" in limited.stderr, limited.stderr
    assert rootless.ok("ps", "-aq") == ""  # --rm also removed the container that failed to start
    rootless.ok("run", "-d", "--name", "rl-pause", "busybox", "sleep", "60")
    # no cgroup of its own: no figures, rather than those of the daemon's session
    usage = rootless.ok("stats", "--no-stream", "--format", "{{.MemUsage}} {{.CPUPerc}}", "rl-pause")
    assert usage.split()[0] == "0B" and usage.split()[-1] == "0.00%"
    paused = rootless.docker("pause", "rl-pause")
    if paused.returncode != 0:
        assert "freezer" in paused.stderr, paused.stderr
    else:
        rootless.ok("unpause", "rl-pause")
    rootless.ok("rm", "-f", "rl-pause")


def test_healthchecks(rootless: Rootless) -> None:
    """A check as an exec in the user's container: healthy, and a timeout killed."""
    rootless.ok("run", "-d", "--name", "rl-hc", "--health-cmd", "echo $(id -u)",
                "--health-interval", "100ms", "busybox", "sleep", "100")
    rootless.ok("run", "-d", "--name", "rl-hc-slow", "--health-cmd", "sleep 5", "--health-timeout",
                "200ms", "--health-retries", "1", "--health-interval", "100ms", "busybox", "sleep", "100")

    def status(name: str) -> str:
        return rootless.ok("inspect", "--format", "{{.State.Health.Status}}", name).strip()
    _wait_for(lambda: (status("rl-hc"), status("rl-hc-slow")) == ("healthy", "unhealthy"), 30)
    health = json.loads(rootless.ok("inspect", "--format", "{{json .State.Health}}", "rl-hc-slow"))
    assert health["Log"][0]["Output"] == "Health check exceeded timeout (200ms)"
    health = json.loads(rootless.ok("inspect", "--format", "{{json .State.Health}}", "rl-hc"))
    assert health["Log"][0]["Output"] == "0\n"  # root of the user namespace
    rootless.ok("rm", "-f", "rl-hc", "rl-hc-slow")


def test_restart_readopts_a_running_container(rootless: Rootless) -> None:
    port = free_port()
    cid = rootless.ok("run", "-d", "--name", "rl-keep", "-p", f"127.0.0.1:{port}:80", "busybox", "sh", "-c",
                      "echo before; echo kept > /tmp/i; httpd -p 80 -h /tmp; "
                      "trap 'echo term; exit 0' TERM; while :; do sleep 0.1; done").strip()
    _wait_for(lambda: "before" in rootless.ok("logs", cid))
    pid = int(rootless.ok("inspect", "-f", "{{.State.Pid}}", cid))
    assert rootless.stop() == 0
    os.kill(pid, 0)  # still running without its daemon
    rootless.data_root.chmod(0o755)  # an existing data root is tightened on start, as dockerd's
    rootless.start()
    assert stat.S_IMODE(rootless.data_root.stat().st_mode) == 0o700
    assert rootless.ok("ps", "-q", "--no-trunc").split() == [cid]
    assert int(rootless.ok("inspect", "-f", "{{.State.Pid}}", cid)) == pid
    assert _get(f"http://127.0.0.1:{port}/i") == "kept\n"
    rootless.ok("exec", cid, "sh", "-c", "echo after > /proc/1/fd/1")
    _wait_for(lambda: "after" in rootless.ok("logs", cid))
    rootless.ok("stop", "-t", "5", cid)
    assert rootless.ok("logs", cid).split() == ["before", "after", "term"]
    assert rootless.ok("inspect", "-f", "{{.State.ExitCode}}", cid).strip() == "0"
    rootless.ok("rm", cid)


def _live_pids(user: UnprivilegedUser) -> list[int]:
    live = []
    for pid in user.pids():
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                live.append(pid)
    return live


def test_the_default_seccomp_profile_applies(rootless: Rootless) -> None:
    """A rootless init loads it too (with CAP_SYS_ADMIN in its own user namespace), and execs."""
    done = rootless.docker("run", "--rm", "busybox", "unshare", "-U", "true")
    assert (done.returncode, done.stderr) == (1, "unshare: unshare(0x10000000): Operation not permitted\n")
    done = rootless.docker("run", "--rm", "--security-opt", "seccomp=unconfined", "busybox",
                           "unshare", "-U", "true")
    assert done.returncode == 0, done.stderr
    cid = rootless.ok("run", "-d", "busybox", "sleep", "100").strip()
    assert rootless.docker("exec", cid, "unshare", "-U", "true").returncode == 1
    rootless.ok("rm", "-f", cid)


# stops the daemon: the module's last test (later ones would find no daemon)
def test_nothing_left_after_stop(rootless: Rootless) -> None:
    # a container's files the user may not read or delete (mode 0; another owner): read by
    # diff and commit, and removed all the same, in the user namespace
    chown = " && chown -R 1000:1000 /d" if rootless.mode == "subids" else ""
    rootless.ok("run", "--name", "rl-locked", "busybox", "sh", "-c",
                f"mkdir -p /d/e && touch /d/e/f{chown} && chmod 0 /d/e /d")
    assert "A /d/e/f" in rootless.ok("diff", "rl-locked").splitlines()
    rootless.ok("commit", "rl-locked", "rl-locked-img")
    assert rootless.ok("run", "--rm", "rl-locked-img", "ls", "/d/e") == "f\n"
    rootless.ok("rmi", "rl-locked-img")
    rootless.ok("rm", "rl-locked")
    containers = rootless.data_root / "containers"
    _wait_for(lambda: not [p for p in containers.iterdir() if p.name.startswith(".removing-")])
    rootless.ok("run", "-d", "--name", "rl-last", "busybox", "sleep", "60")
    rootless.ok("rm", "-f", "rl-last")
    assert rootless.ok("ps", "-aq") == ""
    assert rootless.stop() == 0
    time.sleep(0.2)
    left = [Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            for p in _live_pids(rootless.user) if os.path.exists(f"/proc/{p}/cmdline")]
    assert left == []
    places = [str(rootless.user.home), str(rootless.socket.parent.parent)]
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        assert [line for line in f if any(p in line for p in places)] == []
    assert not rootless.socket.exists()
    assert not list((rootless.data_root / "containers").glob("[0-9a-f]*"))
    assert not [p for p in rootless.data_root.glob("snapshots/*") if p.name.startswith(("tmp-", "trash-"))]
