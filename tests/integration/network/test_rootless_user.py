"""Rootless networking for real, as an unprivileged user this test creates: the daemon side
(NetworkManager, rootless) publishes a port of a container in the launcher's own user and
network namespaces, reached on 127.0.0.1 through the namespace helper; bridge is refused with
the capability it lacks."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from dockyard.testing.rootless import UnprivilegedUser

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
rec = SimpleNamespace(id="ab" * 32, name="/rl", dir=base / "c", config={"ExposedPorts": {"80/tcp": {}}},
                      network_settings={},
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
def unprivileged() -> Iterator[UnprivilegedUser]:
    with UnprivilegedUser.made(subids=False, runtime_dir=False) as user:
        yield user


def test_rootless_port_and_bridge_error(unprivileged: UnprivilegedUser) -> None:
    done = unprivileged.run_python(SCRIPT, str(unprivileged.home))
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.splitlines()[-1])
    assert out["netns"] == "none"
    assert out["body"] == "rl\n"
    assert "needs CAP_NET_ADMIN in the host network namespace" in out["bridge"]
