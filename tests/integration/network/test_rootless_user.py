"""Rootless networking for real, as an unprivileged user this test creates: the daemon side
(NetworkManager, rootless) publishes a port of a container in the launcher's own user and
network namespaces, reached on 127.0.0.1 through the namespace helper; bridge is refused with
the capability it lacks."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

RUNTIME_DIR = Path(__file__).resolve().parents[3] / "runtime"
PYTHON = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable

SCRIPT = r'''
import json, sys, time, urllib.request
from pathlib import Path
from types import SimpleNamespace
from dockyard.testing.busybox import busybox_rootfs
from dockyard.containers.runtime import Runtime
from dockyard.containers.spec import ContainerSpec
from dockyard.network.manager import NetworkManager

base = Path(sys.argv[1])
busybox_rootfs(base / "rootfs")
mgr = NetworkManager(base / "data", rootless=True)
rec = SimpleNamespace(id="ab" * 32, name="/rl", dir=base / "c", config={}, network_settings={},
                      host_config={"PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1"}]}})
mgr.validate(rec)
setup = mgr.setup(rec)
out = {"netns": setup.netns}
with Runtime() as rt:
    c = rt.start(ContainerSpec(id="rlnet", lower_dirs=[str(base / "rootfs")], upper_dir=str(base / "u"),
                               work_dir=str(base / "w"), network=setup.netns, mounts=setup.mounts,
                               args=["sh", "-c", "echo rl > /tmp/r; exec httpd -f -p 127.0.0.1:80 -h /tmp"]))
    (rec.dir / "config.v2.json").write_text(json.dumps({"state": {"Pid": c.pid}}))
    port = rec.network_settings["Ports"]["80/tcp"][0]["HostPort"]
    deadline = time.monotonic() + 5
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/r", timeout=2) as resp:
                out["body"] = resp.read().decode()
                break
        except OSError as exc:
            if time.monotonic() > deadline:
                out["body"] = f"error: {exc}"
                break
            time.sleep(0.05)
    c.cleanup(10)
mgr.teardown(rec)
bridge = SimpleNamespace(id="cd" * 32, name="/b", dir=base / "b", config={}, network_settings={},
                         host_config={"NetworkMode": "bridge"})
try:
    mgr.validate(bridge)
except Exception as exc:
    out["bridge"] = str(exc)
mgr.close()
print(json.dumps(out))
'''


@pytest.fixture
def unprivileged() -> Iterator[tuple[str, Path]]:
    if os.geteuid() != 0:
        pytest.skip("creating a test user needs root")
    name = f"dn{uuid.uuid4().hex[:8]}"
    saved = {p: Path(p).read_bytes() if Path(p).exists() else None for p in ("/etc/subuid", "/etc/subgid")}
    subprocess.run(["useradd", "-M", "-s", "/bin/sh", "-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0", name],
                   check=True)
    home = Path(tempfile.mkdtemp(prefix="dynetrl-", dir="/tmp"))
    try:
        home.chmod(0o755)
        entry = pwd.getpwnam(name)
        os.chown(home, entry.pw_uid, entry.pw_gid)
        yield name, home
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True)
        for path, data in saved.items():
            if data is not None:
                Path(path).write_bytes(data)
        shutil.rmtree(home, ignore_errors=True)


def test_rootless_port_and_bridge_error(unprivileged: tuple[str, Path]) -> None:
    name, home = unprivileged
    (home / "script.py").write_text(SCRIPT)
    (home / "script.py").chmod(0o644)
    done = subprocess.run(["runuser", "-u", name, "--", "env", f"PYTHONPATH={RUNTIME_DIR}", PYTHON,
                           str(home / "script.py"), str(home)],
                          check=False, capture_output=True, text=True, timeout=60, cwd=home)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.splitlines()[-1])
    assert out["netns"] == "none"
    assert out["body"] == "rl\n"
    assert "needs CAP_NET_ADMIN in the host network namespace" in out["bridge"]
