"""Real registry processes on loopback, for tests, interop and benchmarks.

:class:`RegistryProcess` runs ``dockyard registry serve`` as a subprocess (exactly what users
run) on a random port read from its ``listening on`` line; :class:`DistributionProcess` runs
Debian's ``docker-registry`` (distribution 2.8) from a temporary config, so the same test or
benchmark can run side by side against both. Each context manager stops its process by pid and
removes what it made.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Self

if TYPE_CHECKING:
    from .busybox import Image

_LISTENING = re.compile(r"listening on (\S+)")


class RegistryProcess:
    """``with RegistryProcess(htpasswd=…) as reg: requests.get(reg.url + "/v2/")``."""

    def __init__(self, root: Path | None = None, *args: str, **flags: object) -> None:
        self._own_root = root is None
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="dockyard-registry-"))
        self.argv = [sys.executable, "-m", "dockyard.cli.main", "registry", "serve",
                     "--root", str(self.root), "--addr", "127.0.0.1:0", *args]
        for key, value in flags.items():
            flag = "--" + key.replace("_", "-")
            for item in value if isinstance(value, (list, tuple)) else [value]:
                self.argv += [flag] if item is True else [flag, str(item)]
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self._log: IO[bytes] | None = None

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``, as image references name the registry."""
        return self.url.split("://", 1)[1]

    def start(self, timeout: float = 15.0) -> Self:
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=self._log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = _LISTENING.search(self.log())
            if match:
                self.url = match[1]
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        output = self.log()
        self.stop()
        raise RuntimeError(f"registry did not start: {output}")

    def log(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def cleanup(self) -> None:
        self.stop()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


DOCKER_REGISTRY = "/usr/bin/docker-registry"


def push_image(url: str, repo: str, image: Image) -> None:
    """``image`` (:mod:`.busybox`'s) into the registry at ``url`` byte for byte, owners and all,
    through the Distribution API: each blob in one monolithic upload, then the manifest under
    the image's tag. For a base image no daemon holds yet (a build then pulls it)."""
    import urllib.request

    for blob in (image.config, *image.layers):
        with blob.open() as data:
            request = urllib.request.Request(f"{url}/v2/{repo}/blobs/uploads/?digest={blob.digest}",
                                             data=data.read(), method="POST")
        urllib.request.urlopen(request, timeout=30).close()
    request = urllib.request.Request(f"{url}/v2/{repo}/manifests/{image.tag.rpartition(':')[2]}",
                                     data=image.manifest.data, method="PUT",
                                     headers={"Content-Type": image.manifest.media_type})
    urllib.request.urlopen(request, timeout=30).close()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DistributionProcess(RegistryProcess):
    """Debian's ``docker-registry`` with a filesystem root, deletes enabled, optional htpasswd."""

    def __init__(self, root: Path | None = None, htpasswd: Path | None = None) -> None:
        super().__init__(root)
        port = free_port()
        config = {
            "version": 0.1,
            "log": {"level": "error", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": str(self.root / "data")}, "delete": {"enabled": True}},
            "http": {"addr": f"127.0.0.1:{port}"},
        }
        if htpasswd is not None:
            config["auth"] = {"htpasswd": {"realm": "distribution", "path": str(htpasswd)}}
        import json

        (self.root / "config.yml").write_text(json.dumps(config))  # JSON is YAML
        self.argv = [DOCKER_REGISTRY, "serve", str(self.root / "config.yml")]
        self.url = f"http://127.0.0.1:{port}"

    def start(self, timeout: float = 15.0) -> Self:
        import urllib.error
        import urllib.request

        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=self._log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                urllib.request.urlopen(self.url + "/v2/", timeout=1)
                return self
            except urllib.error.HTTPError:
                return self  # 401 with htpasswd: it is up
            except OSError:
                time.sleep(0.05)
        output = self.log()
        self.stop()
        raise RuntimeError(f"docker-registry did not start: {output}")
