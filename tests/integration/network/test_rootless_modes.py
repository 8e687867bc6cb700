"""What a rootless daemon offers: ``none`` and ``host``; bridge networks fail with an error that
names the missing capability; the default network mode is a private netns (``none``)."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from nettestkit import Record

from dockyard.containers.runtime import Runtime
from dockyard.containers.spec import ContainerSpec
from dockyard.network.errors import NetworkUnavailable
from dockyard.network.manager import NetworkManager


@pytest.fixture
def rootless(tmp_path: Path) -> Iterator[NetworkManager]:
    mgr = NetworkManager(tmp_path / "rl", rootless=True)
    yield mgr
    mgr.close()


def test_rootless_modes(rootless: NetworkManager, record: Callable[..., Record]) -> None:
    default = record()
    rootless.validate(default)
    assert list(default.network_settings["Networks"]) == ["none"]
    setup = rootless.setup(default)
    assert setup.netns == "none" and {m.target for m in setup.mounts} == {
        "/etc/hosts", "/etc/resolv.conf", "/etc/hostname"}
    assert (Path(default.dir) / "hostname").read_text() == default.id[:12] + "\n"
    rootless.teardown(default)
    host = record(NetworkMode="host")
    rootless.validate(host)
    assert rootless.setup(host).netns == "host"
    rootless.teardown(host)
    assert not rootless.state.sandboxes


def test_rootless_bridge_is_a_clear_error(rootless: NetworkManager, record: Callable[..., Record]) -> None:
    with pytest.raises(NetworkUnavailable, match="needs CAP_NET_ADMIN in the host network namespace"):
        rootless.validate(record(NetworkMode="bridge"))
    with pytest.raises(NetworkUnavailable, match="CAP_NET_ADMIN"):
        rootless.create({"Name": "dyt-rl"})
    assert [n["Name"] for n in rootless.list_networks()] == ["bridge", "host", "none"]
    assert not rootless.state.sandboxes


def test_rootless_published_port_through_the_netns_helper(
        rootless: NetworkManager, record: Callable[..., Record], runtime: Runtime,
        busybox_dir: Path, tmp_path: Path) -> None:
    """The launcher's own netns (``lo`` down, no way in for the daemon by path): the proxy's
    upstream sockets come from a helper that joins the container's namespaces by pid."""
    rec = record(PortBindings={"80/tcp": [{"HostIp": "127.0.0.1"}]})
    rootless.validate(rec)
    setup = rootless.setup(rec)
    assert setup.netns == "none"
    spec = ContainerSpec(id=f"dynet-rl-{os.getpid()}", lower_dirs=[str(busybox_dir)],
                         upper_dir=str(tmp_path / "u"), work_dir=str(tmp_path / "w"),
                         args=["sh", "-c", "echo rl > /tmp/r; exec httpd -f -p 127.0.0.1:80 -h /tmp"],
                         network=setup.netns, mounts=setup.mounts)
    container = runtime.start(spec)
    try:
        (Path(rec.dir) / "config.v2.json").write_text(json.dumps({"state": {"Pid": container.pid}}))
        port = rec.network_settings["Ports"]["80/tcp"][0]["HostPort"]
        deadline = time.monotonic() + 5
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/r", timeout=2) as resp:
                    assert resp.read() == b"rl\n"
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        helpers = [f._proc.pid for f in rootless._factories.values()]
        assert len(helpers) == 1
    finally:
        container.cleanup(10)
        rootless.teardown(rec)
    assert not rootless._factories and rootless.published_count() == 0
    assert not os.path.exists(f"/proc/{helpers[0]}")
