"""Interrupted and crashed uploads leave nothing visible; an interrupted push leaves tags alone."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from regclient import Client, sha256

from dockyard.testing.registry import RegistryProcess


def send_partial(host: str, head: str, body: bytes) -> None:
    """Send a request line + headers + part of the body, then hang up."""
    address, port = host.split(":")
    with socket.create_connection((address, int(port))) as sock:
        sock.sendall(head.encode() + body)
        time.sleep(0.2)


def wait_for(predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def uploads(root: Path) -> list[Path]:
    return list(root.glob("repositories/**/_uploads/*"))


def test_interrupted_monolithic_upload_leaves_nothing(shared_registry: RegistryProcess) -> None:
    data = os.urandom(1 << 20)
    digest = sha256(data)
    head = (f"POST /v2/dur/mono/blobs/uploads/?digest={digest} HTTP/1.1\r\nHost: x\r\n"
            f"Content-Length: {len(data)}\r\n\r\n")
    send_partial(shared_registry.host, head, data[: len(data) // 2])
    client = Client(shared_registry.url)
    wait_for(lambda: not uploads(shared_registry.root / "repositories" / "dur" / "mono"))
    assert client.request("HEAD", f"/v2/dur/mono/blobs/{digest}").status_code == 404
    assert not list(shared_registry.root.glob(f"blobs/sha256/*/{digest[7:]}"))
    assert client.upload("dur/mono", data) == digest  # and a retry succeeds


def test_interrupted_chunk_can_be_resumed(shared_registry: RegistryProcess) -> None:
    client = Client(shared_registry.url)
    data = os.urandom(400_000)
    location = client.request("POST", "/v2/dur/chunk/blobs/uploads/").headers["Location"]
    head = f"PATCH {location} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(data)}\r\n\r\n"
    send_partial(shared_registry.host, head, data[:150_000])
    time.sleep(0.2)
    have = int(client.request("GET", location).headers["Range"].split("-")[1]) + 1
    assert 0 < have <= 150_000
    r = client.request("PATCH", location, data=data[have:], headers={"Content-Range": f"{have}-{len(data) - 1}"})
    assert r.status_code == 202, r.text
    r = client.request("PUT", location, params={"digest": sha256(data)})
    assert r.status_code == 201, r.text
    assert client.request("GET", f"/v2/dur/chunk/blobs/{sha256(data)}").content == data


def test_interrupted_push_leaves_the_tag_alone(shared_registry: RegistryProcess) -> None:
    client = Client(shared_registry.url)
    first = client.push_image("dur/push", "latest", seed="one")
    client.upload("dur/push", b"config of the second image")  # … and then the push dies
    r = client.request("GET", "/v2/dur/push/manifests/latest")
    assert r.content == first.body


def test_kill_9_mid_upload(tmp_path: Path) -> None:
    data = os.urandom(8 << 20)
    digest = sha256(data)
    with RegistryProcess(tmp_path) as registry:
        address, port = registry.host.split(":")
        sock = socket.create_connection((address, int(port)))
        sock.sendall((f"POST /v2/dur/kill/blobs/uploads/?digest={digest} HTTP/1.1\r\nHost: x\r\n"
                      f"Content-Length: {len(data)}\r\n\r\n").encode() + data[: 4 << 20])
        wait_for(lambda: any(p.stat().st_size > 0 for p in tmp_path.glob("repositories/**/_uploads/*/data")))
        assert registry.proc is not None
        os.kill(registry.proc.pid, signal.SIGKILL)
        registry.proc.wait()
        sock.close()
    assert not list(tmp_path.glob("blobs/sha256/*/*"))
    with RegistryProcess(tmp_path) as registry:
        client = Client(registry.url)
        assert client.request("HEAD", f"/v2/dur/kill/blobs/{digest}").status_code == 404
        assert client.request("GET", "/v2/_catalog").json() == {"repositories": []}
        assert client.upload("dur/kill", data) == digest


@pytest.mark.root
def test_disk_full_is_a_clean_error(tmp_path: Path) -> None:
    """A real ENOSPC (a 2 MiB tmpfs): the upload fails with the spec's envelope, leaves nothing,
    and the registry keeps serving."""
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], check=True)
    try:
        with RegistryProcess(mount / "root") as registry:
            client = Client(registry.url)
            data = os.urandom(4 << 20)
            r = client.request("POST", "/v2/full/app/blobs/uploads/", params={"digest": sha256(data)}, data=data)
            assert r.status_code == 500 and r.json()["errors"][0]["code"] == "UNKNOWN"
            assert not list((mount / "root").glob("repositories/**/_uploads/*"))
            assert not list((mount / "root").glob("blobs/*/*/*"))
            assert client.upload("full/app", b"small") == sha256(b"small")
    finally:
        subprocess.run(["umount", str(mount)], check=True)
