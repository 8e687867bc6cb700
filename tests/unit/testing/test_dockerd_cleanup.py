"""A private dockerd's stop leaves nothing on the host: the bridges of the networks it made
(dockerd keeps them when it stops) are deleted with its data root."""

from __future__ import annotations

import os

import pytest

from dockyard.testing.dockerd import skip_unless_root, start_dockerd, stop_dockerd

pytestmark = [pytest.mark.root, pytest.mark.interop]


def test_stop_deletes_the_bridges_of_its_networks() -> None:
    skip_unless_root()
    daemon = start_dockerd()
    try:
        client = daemon.client()
        made = client.networks.create("dytest-cleanup-net")
        named = client.networks.create("dytest-cleanup-named",
                                       options={"com.docker.network.bridge.name": "dytestbr0"})
        bridges = [f"br-{made.id[:12]}", "dytestbr0"]
        assert all(os.path.exists(f"/sys/class/net/{b}") for b in bridges)
        assert named.attrs["Driver"] == "bridge"
        client.close()
    finally:
        stop_dockerd(daemon)
    assert not [b for b in bridges if os.path.exists(f"/sys/class/net/{b}")]
    assert not daemon.root.exists()
