"""Push to and pull from the bundled dockyard registry (a real server on loopback)."""

from __future__ import annotations

import json
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any, cast

import pytest
from dist_helpers import Node, registry_get, run, statuses

from dockyard.distribution.errors import ManifestUnknown
from dockyard.distribution.push import Options
from dockyard.oci.digest import of_bytes
from dockyard.testing.registry import RegistryProcess


def push(node: Node, name: str, tag: str = "v1", **options: object) -> list[dict[str, Any]]:
    return run(node.dist.push(name, tag, options=Options(**options)))  # type: ignore[arg-type]


def pushed_digest(messages: list[dict[str, Any]]) -> str:
    return str(next(m["aux"]["Digest"] for m in messages if "aux" in m))


def test_push_then_pull_gives_identical_image(source: Node, node_factory: Callable[..., Node],
                                              dockyard_registry: RegistryProcess) -> None:
    repo = f"{dockyard_registry.host}/bb"
    source.store.tag("busybox:latest", repo, "v1")
    messages = push(source, repo)
    assert messages[0] == {"status": f"The push refers to repository [{repo}]"}
    assert {"Preparing", "Pushing", "Pushed"} <= set(statuses(messages))
    pushing = [m for m in messages if m.get("status") == "Pushing"]
    assert pushing[-1]["progressDetail"]["current"] == pushing[-1]["progressDetail"]["total"]
    digest = pushed_digest(messages)
    assert messages[-2]["status"] == f"v1: digest: {digest} size: {messages[-1]['aux']['Size']}"
    assert f"{repo}@{digest}" in source.store.inspect(f"{repo}:v1")["RepoDigests"]

    fresh = node_factory("fresh")
    pulled = run(fresh.dist.pull(repo, "v1"))
    assert pulled[0] == {"status": "Pulling from bb", "id": "v1"}
    order = ["Pulling fs layer", "Downloading", "Verifying Checksum", "Download complete",
             "Extracting", "Pull complete"]
    seen = [s for s in statuses(pulled) if s in order]
    assert [s for i, s in enumerate(seen) if i == 0 or seen[i - 1] != s] == order
    assert pulled[-2:] == [{"status": f"Digest: {digest}"},
                           {"status": f"Status: Downloaded newer image for {repo}:v1"}]
    image = fresh.store.inspect(f"{repo}:v1")
    assert image["Id"] == source.store.inspect("busybox:latest")["Id"]
    assert image["RepoDigests"] == [f"{repo}@{digest}"]
    layers = fresh.store.rootfs_layers(f"{repo}:v1")
    assert (layers[0] / "bin" / "busybox").is_file()

    again = run(fresh.dist.pull(repo, "v1"))  # an image here: no layer line, as dockerd's
    assert again == [pulled[0], {"status": f"Digest: {digest}"},
                     {"status": f"Status: Image is up to date for {repo}:v1"}]


def test_repush_keeps_digest_skips_and_mounts(source: Node, node_factory: Callable[..., Node],
                                              dockyard_registry: RegistryProcess) -> None:
    host = dockyard_registry.host
    source.store.tag("busybox:latest", f"{host}/a", "v1")
    first = pushed_digest(push(source, f"{host}/a"))
    second = push(source, f"{host}/a")
    assert "Layer already exists" in statuses(second)
    assert "Pushing" not in statuses(second)
    assert pushed_digest(second) == first

    source.store.tag("busybox:latest", f"{host}/b", "v1")
    mounted = push(source, f"{host}/b")
    assert any(s == "Mounted from a" for s in statuses(mounted))
    assert pushed_digest(mounted) == first

    # an image that came from a registry keeps its manifest: pushed elsewhere, same digest
    fresh = node_factory("fresh")
    run(fresh.dist.pull(f"{host}/a", "v1"))
    fresh.store.tag(f"{host}/a:v1", f"{host}/c", "x")
    assert pushed_digest(push(fresh, f"{host}/c", "x")) == first


def test_pull_by_digest_and_missing_tag(source: Node, node_factory: Callable[..., Node],
                                        dockyard_registry: RegistryProcess) -> None:
    repo = f"{dockyard_registry.host}/bb"
    source.store.tag("busybox:latest", repo, "v1")
    digest = pushed_digest(push(source, repo))
    fresh = node_factory("fresh")
    messages = run(fresh.dist.pull(repo, digest))
    assert messages[0] == {"status": "Pulling from bb", "id": digest}
    image = fresh.store.inspect(f"{repo}@{digest}")
    assert image["RepoTags"] == [] and image["RepoDigests"] == [f"{repo}@{digest}"]
    with pytest.raises(ManifestUnknown) as info:
        run(fresh.dist.pull(repo, "nope"))
    assert str(info.value).startswith(f"manifest for {repo}:nope not found: manifest unknown")
    with pytest.raises(ManifestUnknown) as info:  # dockerd names the repository for NAME_UNKNOWN
        run(fresh.dist.pull(f"{dockyard_registry.host}/nope", "1"))
    assert str(info.value) == (f"repository {dockyard_registry.host}/nope not found: name unknown: "
                               "repository name not known to registry")


def test_all_tags(source: Node, node_factory: Callable[..., Node], dockyard_registry: RegistryProcess) -> None:
    repo = f"{dockyard_registry.host}/bb"
    for tag in ("one", "two"):
        source.store.tag("busybox:latest", repo, tag)
        push(source, repo, tag)
    fresh = node_factory("fresh")
    messages = run(fresh.dist.pull(repo, None, all_tags=True))
    assert messages[-1] == {"status": f"Status: Downloaded newer image for {repo}"}
    tags = fresh.store.inspect(f"{repo}:one")["RepoTags"]
    assert sorted(tags) == [f"{repo}:one", f"{repo}:two"]


def test_push_all_tags_of_a_repository(source: Node, dockyard_registry: RegistryProcess) -> None:
    repo = f"{dockyard_registry.host}/many"
    for tag in ("x", "y"):
        source.store.tag("busybox:latest", repo, tag)
    messages = run(source.dist.push(repo, None))
    assert sorted(m["aux"]["Tag"] for m in messages if "aux" in m) == ["x", "y"]
    status, body = registry_get(f"{dockyard_registry.url}/v2/many/tags/list")
    assert status == 200 and sorted(json.loads(body)["tags"]) == ["x", "y"]


def test_chunked_zstd_push_pulls_back(source: Node, node_factory: Callable[..., Node],
                                      dockyard_registry: RegistryProcess) -> None:
    repo = f"{dockyard_registry.host}/z"
    source.store.tag("busybox:latest", repo, "v1")
    digest = pushed_digest(push(source, repo, compression="zstd", chunk_size=256 << 10, oci=True))
    status, body = registry_get(f"{dockyard_registry.url}/v2/z/manifests/v1",
                                accept="application/vnd.oci.image.manifest.v1+json")
    manifest = json.loads(body)
    assert status == 200 and of_bytes(body) == digest
    assert manifest["layers"][0]["mediaType"] == "application/vnd.oci.image.layer.v1.tar+zstd"
    fresh = node_factory("fresh")
    run(fresh.dist.pull(repo, "v1"))
    assert fresh.store.inspect(f"{repo}:v1")["Id"] == source.store.inspect("busybox:latest")["Id"]


def test_uncompressed_push(source: Node, node_factory: Callable[..., Node], dockyard_registry: RegistryProcess) -> None:
    repo = f"{dockyard_registry.host}/raw"
    source.store.tag("busybox:latest", repo, "v1")
    push(source, repo, compression="")
    _, body = registry_get(f"{dockyard_registry.url}/v2/raw/manifests/v1")
    assert json.loads(body)["layers"][0]["mediaType"] == "application/vnd.docker.image.rootfs.diff.tar"
    fresh = node_factory("fresh")
    run(fresh.dist.pull(repo, "v1"))
    assert fresh.store.inspect(f"{repo}:v1")["Id"] == source.store.inspect("busybox:latest")["Id"]


def test_closing_a_pull_midway_leaves_the_store_as_it_was(source: Node, node_factory: Callable[..., Node],
                                                          dockyard_registry: RegistryProcess) -> None:
    repo = f"{dockyard_registry.host}/bb"
    source.store.tag("busybox:latest", repo, "v1")
    push(source, repo)
    fresh = node_factory("fresh")
    stream = cast(Generator[dict[str, Any], None, None], fresh.dist.pull(repo, "v1"))
    for message in stream:
        if message.get("status") == "Pulling fs layer":
            break
    stream.close()
    assert list(fresh.store.content.digests()) == []
    assert fresh.store.count_images() == 0
    assert fresh.store.snapshots.ids() == []


def test_manifest_list_platform_selection(source: Node, node_factory: Callable[..., Node],
                                          dockyard_registry: RegistryProcess, tmp_path: Path) -> None:
    import urllib3

    from dockyard.oci import platform as oci_platform
    from dockyard.testing.busybox import build_busybox_archive

    repo = f"{dockyard_registry.host}/multi"
    other = node_factory("other")
    other.load(build_busybox_archive(tmp_path, extra_files={"etc/motd": b"s390x\n"}))
    entries = []
    for node, tag, arch in ((source, "a", oci_platform.default().architecture), (other, "b", "s390x")):
        node.store.tag("busybox:latest", repo, tag)
        messages = push(node, repo, tag)
        entries.append({"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                        "digest": pushed_digest(messages), "size": messages[-1]["aux"]["Size"],
                        "platform": {"architecture": arch, "os": "linux"}})
    index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
                        "manifests": entries}).encode()
    resp = urllib3.request("PUT", f"{dockyard_registry.url}/v2/multi/manifests/latest", body=index,
                           headers={"Content-Type": "application/vnd.docker.distribution.manifest.list.v2+json"})
    assert resp.status == 201

    fresh = node_factory("fresh")
    messages = run(fresh.dist.pull(repo, "latest"))
    assert messages[-2] == {"status": f"Digest: {of_bytes(index)}"}
    assert fresh.store.inspect(f"{repo}:latest")["Id"] == source.store.inspect("busybox:latest")["Id"]
    assert fresh.store.inspect(f"{repo}:latest")["RepoDigests"] == [f"{repo}@{of_bytes(index)}"]
    run(fresh.dist.pull(repo, "latest", platform="linux/s390x"))
    assert fresh.store.inspect(f"{repo}:latest")["Id"] == other.store.inspect("busybox:latest")["Id"]
    with pytest.raises(ManifestUnknown, match="no matching manifest for linux/riscv64"):
        run(fresh.dist.pull(repo, "latest", platform="linux/riscv64"))
    inspect = fresh.dist.inspect(f"{repo}:latest")
    assert inspect["Descriptor"]["digest"] == of_bytes(index)
    assert {p["architecture"] for p in inspect["Platforms"]} == {oci_platform.default().architecture, "s390x"}


def test_docker_hub_names_go_to_the_mirror(source: Node, node_factory: Callable[..., Node],
                                           dockyard_registry: RegistryProcess) -> None:
    """``busybox`` means docker.io/library/busybox: served by --registry-mirror when one is set."""
    source.store.tag("busybox:latest", f"{dockyard_registry.host}/library/bb", "latest")
    digest = pushed_digest(push(source, f"{dockyard_registry.host}/library/bb", "latest"))
    mirrored = node_factory("mirrored", mirrors=[dockyard_registry.url])
    messages = run(mirrored.dist.pull("bb"))
    assert messages[0] == {"status": "Pulling from library/bb", "id": "latest"}
    assert messages[-1] == {"status": "Status: Downloaded newer image for bb:latest"}
    image = mirrored.store.inspect("bb")
    assert image["RepoTags"] == ["bb:latest"] and image["RepoDigests"] == [f"bb@{digest}"]


def test_ensure_image_pulls_only_when_missing(source: Node, node_factory: Callable[..., Node],
                                              dockyard_registry: RegistryProcess) -> None:
    repo = f"{dockyard_registry.host}/bb"
    source.store.tag("busybox:latest", repo, "v1")
    push(source, repo)
    fresh = node_factory("fresh")
    image_id = fresh.dist.ensure_image(f"{repo}:v1")
    assert image_id == source.store.inspect("busybox:latest")["Id"]
    dockyard_registry.stop()  # present now: no registry needed
    assert fresh.dist.ensure_image(f"{repo}:v1") == image_id


def test_search_is_refused_cleanly(source: Node, dockyard_registry: RegistryProcess) -> None:
    from dockyard.errors import Unavailable

    with pytest.raises(Unavailable, match="does not support search"):
        source.dist.search(f"{dockyard_registry.host}/bb")


def test_search_of_a_registry_with_v1_search(source: Node) -> None:
    """A registry that does have the v1 search API (a small real HTTP server on loopback)."""
    import http.server
    import threading
    import urllib.parse

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            if url.path == "/v2/":
                body = b"{}"
            else:
                query = urllib.parse.parse_qs(url.query)
                body = json.dumps({"results": [
                    {"name": f"{query['q'][0]}-{i}", "description": "d", "star_count": i,
                     "is_official": i == 0} for i in range(int(query["n"][0]) + 5)]}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        results = source.dist.search(f"127.0.0.1:{server.server_address[1]}/tools", limit=3)
    finally:
        server.shutdown()
        server.server_close()
    assert [r["name"] for r in results] == ["tools-0", "tools-1", "tools-2"]
    assert results[0] == {"name": "tools-0", "description": "d", "star_count": 0, "is_official": True,
                          "is_automated": False}


def test_explicit_platform_must_match_a_single_platform_image(source: Node, node_factory: Callable[..., Node],
                                                              dockyard_registry: RegistryProcess) -> None:
    from dockyard.oci import platform as oci_platform

    repo = f"{dockyard_registry.host}/single"
    source.store.tag("busybox:latest", repo, "v1")
    push(source, repo)
    fresh = node_factory("fresh")
    with pytest.raises(ManifestUnknown, match="was found but does not match the specified platform: "
                                              "wanted linux/s390x, actual: linux/"):
        run(fresh.dist.pull(repo, "v1", platform="linux/s390x"))
    assert fresh.store.count_images() == 0
    run(fresh.dist.pull(repo, "v1", platform=str(oci_platform.default())))
    assert fresh.store.count_images() == 1
