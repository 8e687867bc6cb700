"""What a rootless daemon offers: ``none`` and ``host``; bridge networks fail with an error that
names the missing capability; the default network mode is a private netns (``none``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from nettestkit import Record

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
    ports = record(PortBindings={"80/tcp": [{}]})
    rootless.validate(ports)
    with pytest.raises(NetworkUnavailable, match="published ports need a network namespace"):
        rootless.setup(ports)
    assert not rootless.state.sandboxes
