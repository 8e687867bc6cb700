"""dockyard's registry client against real peers: Debian's docker-registry (distribution 2.8)
with and without htpasswd, the bundled dockyard registry, and skopeo reading what it pushed."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import bcrypt
import pytest

from dockyard.distribution.credentials import AuthConfig
from dockyard.distribution.errors import RegistryError
from dockyard.distribution.push import Options
from dockyard.distribution.service import Distribution
from dockyard.errors import Unauthorized
from dockyard.store.archive import load
from dockyard.store.images import ImageStore
from dockyard.testing.registry import DistributionProcess, RegistryProcess

pytestmark = pytest.mark.interop
SKOPEO = shutil.which("skopeo") or "/usr/bin/skopeo"
ALICE = AuthConfig("alice", "wonderland")


class Node:
    def __init__(self, root: Path) -> None:
        self.store = ImageStore(root)
        self.dist = Distribution(self.store, root)

    def close(self) -> None:
        self.dist.close()
        self.store.close()


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[Callable[[], Node]]:
    made: list[Node] = []

    def make() -> Node:
        made.append(Node(tmp_path / f"node{len(made)}"))
        return made[-1]

    yield make
    for node in made:
        node.close()


@pytest.fixture
def source(nodes: Callable[[], Node], busybox_archive: Path) -> Node:
    node = nodes()
    with open(busybox_archive, "rb") as f:
        list(load(node.store, f))
    return node


@pytest.fixture
def distribution() -> Iterator[DistributionProcess]:
    with DistributionProcess() as reg:
        yield reg


@pytest.fixture
def distribution_htpasswd(tmp_path: Path) -> Iterator[DistributionProcess]:
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(f"alice:{bcrypt.hashpw(b'wonderland', bcrypt.gensalt(rounds=4)).decode()}\n")
    with DistributionProcess(htpasswd=htpasswd) as reg:
        yield reg


def aux(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return next(m["aux"] for m in messages if "aux" in m)


def round_trip(source: Node, fresh: Node, repo: str, auth: AuthConfig | None = None,
               options: Options | None = None) -> str:
    """Push busybox as repo:v1, pull it into ``fresh``; same image ID and manifest digest."""
    source.store.tag("busybox:latest", repo, "v1")
    digest = aux(list(source.dist.push(repo, "v1", auth, options)))["Digest"]
    pulled = list(fresh.dist.pull(repo, "v1", auth=auth))
    assert pulled[-2] == {"status": f"Digest: {digest}"}
    image = fresh.store.inspect(f"{repo}:v1")
    assert image["Id"] == source.store.inspect("busybox:latest")["Id"]
    assert image["RepoDigests"] == [f"{repo}@{digest}"]
    return str(digest)


def test_distribution_round_trip_and_mount(source: Node, nodes: Callable[[], Node],
                                           distribution: DistributionProcess) -> None:
    digest = round_trip(source, nodes(), f"{distribution.host}/bb")
    again = list(source.dist.push(f"{distribution.host}/bb", "v1"))
    assert "Layer already exists" in [m.get("status") for m in again] and aux(again)["Digest"] == digest
    source.store.tag("busybox:latest", f"{distribution.host}/copy", "v1")
    mounted = list(source.dist.push(f"{distribution.host}/copy", "v1"))
    assert "Mounted from bb" in [m.get("status") for m in mounted]
    assert aux(mounted)["Digest"] == digest


def test_distribution_chunked_upload(source: Node, nodes: Callable[[], Node],
                                     distribution: DistributionProcess) -> None:
    round_trip(source, nodes(), f"{distribution.host}/chunked", options=Options(chunk_size=200_000))


def test_distribution_htpasswd(source: Node, nodes: Callable[[], Node],
                               distribution_htpasswd: DistributionProcess) -> None:
    reg = distribution_htpasswd
    repo = f"{reg.host}/private"
    source.store.tag("busybox:latest", repo, "v1")
    with pytest.raises(Unauthorized, match="unauthorized: authentication required"):
        list(source.dist.push(repo, "v1"))
    with pytest.raises(Unauthorized):
        list(source.dist.push(repo, "v1", AuthConfig("alice", "wrong")))
    with pytest.raises(Unauthorized) as info:
        source.dist.login(AuthConfig("alice", "wrong", reg.host))
    assert str(info.value) == f"login attempt to {reg.url}/v2/ failed with status: 401 Unauthorized"
    assert source.dist.login(AuthConfig("alice", "wonderland", reg.host))["Status"] == "Login Succeeded"
    fresh = nodes()
    round_trip(source, fresh, repo, ALICE)
    with pytest.raises(RegistryError, match="pull access denied"):
        list(nodes().dist.pull(repo, "v1"))


def skopeo(*args: str) -> str:
    result = subprocess.run([SKOPEO, *args], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_skopeo_reads_what_dockyard_pushed(source: Node, nodes: Callable[[], Node], dockyard_registry: RegistryProcess,
                                           distribution: DistributionProcess, tmp_path: Path) -> None:
    """skopeo inspects and copies the pushed image (dockyard registry → distribution) byte for
    byte; dockyard pulls the copy back with the same image ID and digest."""
    digest = round_trip(source, nodes(), f"{dockyard_registry.host}/bb")
    info = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{dockyard_registry.host}/bb:v1"))
    assert info["Digest"] == digest
    skopeo("copy", "--src-tls-verify=false", "--dest-tls-verify=false", "--preserve-digests",
           f"docker://{dockyard_registry.host}/bb:v1", f"docker://{distribution.host}/fromskopeo:v1")
    skopeo("copy", "--src-tls-verify=false", f"docker://{dockyard_registry.host}/bb:v1",
           f"oci:{tmp_path / 'layout'}:v1")
    assert (tmp_path / "layout" / "index.json").is_file()
    fresh = nodes()
    pulled = list(fresh.dist.pull(f"{distribution.host}/fromskopeo", "v1"))
    assert pulled[-2] == {"status": f"Digest: {digest}"}
    assert fresh.store.inspect(f"{distribution.host}/fromskopeo:v1")["Id"] == source.store.inspect("busybox")["Id"]
