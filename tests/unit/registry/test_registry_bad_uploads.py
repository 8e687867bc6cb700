"""Oversized and malformed uploads: refused with the spec's error, and nothing becomes visible."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from regclient import Client, error_code, sha256

from dockyard.errors import InvalidArgument
from dockyard.registry.config import build, parse_size
from dockyard.testing.registry import RegistryProcess

LIMIT = 1 << 20


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryProcess]:
    config = tmp_path_factory.mktemp("cfg") / "registry.yaml"
    config.write_text("max-blob-size: 1m\n")
    with RegistryProcess(tmp_path_factory.mktemp("root"), "--config", str(config)) as registry:
        yield registry


def visible_blobs(root: Path) -> list[Path]:
    return list(root.glob("blobs/*/*/*"))


def assert_too_large(r: requests.Response) -> None:
    assert r.status_code == 413, r.text
    assert error_code(r) == "SIZE_INVALID"
    assert r.json()["errors"][0]["detail"]["limit"] == LIMIT


def test_monolithic_upload_over_the_limit(limited: RegistryProcess) -> None:
    client = Client(limited.url)
    data = os.urandom(LIMIT + 1)
    r = client.request("POST", "/v2/big/app/blobs/uploads/", params={"digest": sha256(data)}, data=data)
    assert_too_large(r)
    streamed = client.request("POST", "/v2/big/app/blobs/uploads/", params={"digest": sha256(data)},
                              data=iter([data[:LIMIT], data[LIMIT:]]))  # chunked: no Content-Length
    assert_too_large(streamed)
    assert not visible_blobs(limited.root)
    assert not list(limited.root.glob("repositories/**/_uploads/*"))
    assert client.upload("big/app", data[:LIMIT]) == sha256(data[:LIMIT])  # the limit itself is fine


def test_chunks_adding_up_over_the_limit(limited: RegistryProcess) -> None:
    client = Client(limited.url)
    location = client.request("POST", "/v2/big/chunks/blobs/uploads/").headers["Location"]
    half = os.urandom(LIMIT // 2 + 1)
    assert client.request("PATCH", location, data=half).status_code == 202
    assert_too_large(client.request("PATCH", location, data=half))  # declared length over
    assert_too_large(client.request("PATCH", location, data=iter([half])))  # streamed over
    assert client.request("GET", location).headers["Range"] == f"0-{len(half) - 1}"  # rolled back
    assert_too_large(client.request("PUT", location, params={"digest": sha256(half * 2)}, data=half))
    r = client.request("PUT", location, params={"digest": sha256(half)})
    assert r.status_code == 201, r.text  # the session still finishes with what it holds


def upload_session(client: Client, repo: str) -> str:
    return str(client.request("POST", f"/v2/{repo}/blobs/uploads/").headers["Location"])


@pytest.mark.parametrize(("method", "params", "headers", "status", "code"), [
    ("PUT", {}, {}, 400, "DIGEST_INVALID"),
    ("PUT", {"digest": "sha256:abc"}, {}, 400, "DIGEST_INVALID"),
    ("PUT", {"digest": "md5:" + "0" * 32}, {}, 400, "DIGEST_INVALID"),
    ("PUT", {"digest": sha256(b"other")}, {}, 400, "DIGEST_INVALID"),
    ("PATCH", {}, {"Content-Range": "5-9"}, 416, "RANGE_INVALID"),
    ("PATCH", {}, {"Content-Range": "0-99"}, 416, "RANGE_INVALID"),
    ("PATCH", {}, {"Content-Range": "9-0"}, 416, "RANGE_INVALID"),
])
def test_malformed_upload_requests(client: Client, shared_registry: RegistryProcess, method: str,
                                   params: dict[str, str], headers: dict[str, str], status: int, code: str) -> None:
    location = upload_session(client, "bad/up")
    before = visible_blobs(shared_registry.root)
    r = client.request(method, location, params=params, headers=headers, data=b"some bytes")
    assert r.status_code == status, r.text
    assert error_code(r) == code
    assert visible_blobs(shared_registry.root) == before


def test_unknown_and_foreign_sessions(client: Client) -> None:
    location = upload_session(client, "bad/one")
    foreign = location.replace("/bad/one/", "/bad/two/")
    for method in ("GET", "PATCH", "PUT", "DELETE"):
        r = client.request(method, foreign, params={"digest": sha256(b"")})
        assert r.status_code == 404 and error_code(r) == "BLOB_UPLOAD_UNKNOWN"
    gone = location[:-36] + "00000000-0000-4000-8000-000000000000"
    assert error_code(client.request("PATCH", gone, data=b"x")) == "BLOB_UPLOAD_UNKNOWN"


def test_max_blob_size_setting() -> None:
    assert parse_size("1m") == parse_size("1MiB") == LIMIT and parse_size(7) == 7
    assert build({"max_blob_size": "2g"}).max_blob_size == 2 << 30
    for bad in ("lots", "-1", "1.5g", "1p"):
        with pytest.raises(InvalidArgument, match="invalid size"):
            parse_size(bad)
