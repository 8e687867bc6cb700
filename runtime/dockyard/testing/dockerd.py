"""A private, real dockerd for tests: its own data root, exec root, socket and pidfile.

The front end speaks the Engine API through docker-py, so the same code paths are exercised
against a real dockerd (container verbs) before dockyard's own daemon serves them. Nothing is
shared with a system dockerd: no bridge, no iptables, containers run with ``--network none``.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker

DOCKERD = shutil.which("dockerd") or "/usr/sbin/dockerd"
BUSYBOX = "/bin/busybox"
APPLETS = ("sh", "echo", "sleep", "cat", "ls", "true", "false", "env", "id", "printf", "touch")


class DockerdError(RuntimeError):
    """dockerd could not be started; the message carries the tail of its log."""


@dataclass
class Dockerd:
    root: Path
    process: subprocess.Popen[bytes]
    command: list[str] = field(default_factory=list)
    """How it was started (:func:`restart_dockerd` starts it so again)."""
    env: dict[str, str] | None = None

    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def log(self) -> Path:
        return self.root / "dockerd.log"

    def client(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.host, version="auto", timeout=30)


def skip_unless_root() -> None:
    """Skip the calling test or fixture, before it makes anything, where a private dockerd
    cannot run: without root. CI runs as root, and there the plugin fails the run on a skip."""
    if os.geteuid() != 0:
        import pytest  # a test's helper: bench and record_builds start dockerd without pytest

        pytest.skip("a private dockerd needs root")


def dockerd_command(root: Path, binary: str = DOCKERD, extra_args: tuple[str, ...] = ()) -> list[str]:
    """dockerd confined to ``root``: config, data, exec root, socket, pidfile; ``extra_args``
    after them (a test's daemon options, e.g. ``--default-ulimit``)."""
    (root / "daemon.json").write_text("{}")
    return [
        binary, "--config-file", str(root / "daemon.json"),
        "--data-root", str(root / "data"), "--exec-root", str(root / "exec"),
        "-H", f"unix://{root / 'docker.sock'}", "--pidfile", str(root / "dockerd.pid"),
        "--bridge=none", "--iptables=false", "--ip-masq=false", "--ip6tables=false",
        "--shutdown-timeout", "2", "--log-level", "warn", *extra_args,
    ]


def start_dockerd(timeout: float = 30.0, binary: str = DOCKERD,
                  env: dict[str, str] | None = None, extra_args: tuple[str, ...] = (),
                  wrapper: tuple[str, ...] = (), bridge: bool = False,
                  root: Path | None = None) -> Dockerd:
    """Start dockerd in a fresh temp directory (short path: socket names are length-limited),
    or in ``root``, an empty directory of the test's (e.g. on a file system it mounted).

    ``binary`` and ``env`` run another dockerd (e.g. a newer one unpacked in a scratch
    directory, with its containerd first on ``PATH``); by default Debian's, in this environment.
    ``extra_args``: more options for it. ``wrapper``: a command that execs it (the pid stays
    dockerd's), e.g. into a network namespace of its own — where ``bridge`` gives it its
    default bridge (``--bridge=none`` otherwise: no bridge beside the host's).
    """
    root = root or Path(tempfile.mkdtemp(prefix="dkd-", dir="/tmp"))
    if any(arg.startswith("--userns-remap") for arg in extra_args):
        root.chmod(0o711)  # dockerd: the remapped root must search its way to its data root
    command = [*wrapper, *(arg for arg in dockerd_command(root, binary, extra_args)
                           if not (bridge and arg == "--bridge=none"))]
    daemon = Dockerd(root, _launch(root, command, env, "wb"), command, env)
    try:
        _wait_ready(daemon, timeout)
    except BaseException:
        stop_dockerd(daemon)
        raise
    return daemon


def _launch(root: Path, command: list[str], env: dict[str, str] | None,
            mode: str) -> subprocess.Popen[bytes]:
    with open(root / "dockerd.log", mode) as log:
        return subprocess.Popen(command, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=env)


def restart_dockerd(daemon: Dockerd, timeout: float = 30.0) -> None:
    """A daemon restart: SIGTERM by pid (its containers stop with it, as without
    live-restore), then the same command on the same data root; ``daemon`` is the new one."""
    assert daemon.command, "restart_dockerd: a daemon start_dockerd started"
    daemon.process.send_signal(signal.SIGTERM)
    daemon.process.wait(30)
    daemon.process = _launch(daemon.root, daemon.command, daemon.env, "ab")
    _wait_ready(daemon, timeout)


def _wait_ready(daemon: Dockerd, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if daemon.process.poll() is not None:
            raise DockerdError(f"dockerd exited: {daemon.log.read_text()[-2000:]}")
        if daemon.socket.exists() and _answers(daemon.host):
            return
        time.sleep(0.05)
    raise DockerdError(f"dockerd not ready after {timeout}s: {daemon.log.read_text()[-2000:]}")


def _answers(host: str) -> bool:
    try:
        return bool(docker.APIClient(base_url=host, version="1.41", timeout=2).ping())
    except Exception:  # noqa: BLE001 - not ready yet
        return False


def stop_dockerd(daemon: Dockerd) -> None:
    """SIGTERM by pid (dockerd stops its containerd), SIGKILL if stuck, then unmount and delete;
    the bridges of the networks it made go too (dockerd keeps them across its restarts, so
    its stop leaves them on the host)."""
    proc = daemon.process
    bridges = _bridges(daemon) if proc.poll() is None else []
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
    unmount_under(daemon.root)
    shutil.rmtree(daemon.root, ignore_errors=True)
    for bridge in bridges:
        subprocess.run(["ip", "link", "delete", bridge], check=False, capture_output=True)


def _bridges(daemon: Dockerd) -> list[str]:
    """The Linux bridges of the daemon's bridge networks (``br-<id12>``, or the name given)."""
    try:
        networks = docker.APIClient(base_url=daemon.host, version="1.41", timeout=5).networks()
    except Exception:  # noqa: BLE001 - a daemon that does not answer: nothing to learn
        return []
    return [(n.get("Options") or {}).get("com.docker.network.bridge.name") or f"br-{n['Id'][:12]}"
            for n in networks if n.get("Driver") == "bridge"]


def unmount_under(root: Path) -> None:
    prefix = str(root) + "/"
    with open("/proc/self/mounts") as mounts:
        targets = [line.split()[1] for line in mounts if line.split()[1].startswith(prefix)]
    for target in sorted(targets, key=len, reverse=True):
        subprocess.run(["umount", "-l", target], check=False, capture_output=True)


def busybox_rootfs_tar() -> bytes:
    """A one-binary root filesystem: /bin/busybox plus the applet links tests use."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name in ("bin", "tmp", "etc"):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if name == "tmp" else 0o755
            tar.addfile(info)
        tar.add(BUSYBOX, arcname="bin/busybox")
        for applet in APPLETS:
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(info)
    return buf.getvalue()


def load_busybox(daemon: Dockerd, tag: str = "busybox:latest") -> str:
    """Put a busybox image into the daemon: the shared docker-save archive when that helper
    exists, else ``docker import`` of a rootfs tar. Returns the image id."""
    client = daemon.client()
    try:
        try:
            from dockyard.testing.busybox import build_busybox_archive
        except ImportError:
            repo, _, version = tag.partition(":")
            client.api.import_image_from_data(
                busybox_rootfs_tar(), repository=repo, tag=version or "latest",
                changes=['CMD ["sh"]'])
        else:
            archive = build_busybox_archive(daemon.root, tag)
            client.images.load(archive.read_bytes())
        return str(client.images.get(tag).id)
    finally:
        client.close()
