"""Blob endpoints and uploads (monolithic, chunked, resumed, cancelled, mounted) over real HTTP."""

from __future__ import annotations

import os

from regclient import Client, error_code, sha256

from dockyard.testing.registry import RegistryProcess


def test_base_endpoint_answers_with_the_api_version(client: Client) -> None:
    r = client.request("GET", "/v2/")
    assert r.status_code == 200
    assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    assert r.json() == {}


def test_monolithic_upload_then_head_and_get(client: Client) -> None:
    data = os.urandom(100_000)
    digest = sha256(data)
    r = client.request("POST", "/v2/blobs/mono/blobs/uploads/", params={"digest": digest}, data=data)
    assert r.status_code == 201
    assert r.headers["Location"] == f"/v2/blobs/mono/blobs/{digest}"
    assert r.headers["Docker-Content-Digest"] == digest
    head = client.request("HEAD", f"/v2/blobs/mono/blobs/{digest}")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Length"] == str(len(data))
    assert head.headers["Docker-Content-Digest"] == digest
    get = client.request("GET", f"/v2/blobs/mono/blobs/{digest}")
    assert get.status_code == 200 and get.content == data
    assert get.headers["Content-Type"] == "application/octet-stream"
    assert get.headers["ETag"] == f'"{digest}"'


def test_range_requests(client: Client) -> None:
    data = bytes(range(256)) * 40
    digest = client.upload("blobs/range", data)
    path = f"/v2/blobs/range/blobs/{digest}"
    r = client.request("GET", path, headers={"Range": "bytes=10-19"})
    assert r.status_code == 206 and r.content == data[10:20]
    assert r.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    assert client.request("GET", path, headers={"Range": "bytes=10000-"}).content == data[10000:]
    assert client.request("GET", path, headers={"Range": "bytes=-5"}).content == data[-5:]
    assert client.request("GET", path, headers={"Range": "bytes=0-999999"}).content == data
    bad = client.request("GET", path, headers={"Range": f"bytes={len(data)}-"})
    assert bad.status_code == 416 and error_code(bad) == "RANGE_INVALID"
    assert bad.headers["Content-Range"] == f"bytes */{len(data)}"
    assert client.request("GET", path, headers={"Range": "bytes=0-1,4-5"}).status_code == 200


def test_unknown_blob_and_wrong_repository(client: Client) -> None:
    digest = client.upload("blobs/owner", b"mine")
    r = client.request("GET", f"/v2/blobs/other/blobs/{digest}")
    assert r.status_code == 404 and error_code(r) == "BLOB_UNKNOWN"
    r = client.request("HEAD", f"/v2/blobs/owner/blobs/{sha256(b'nothing')}")
    assert r.status_code == 404


def test_digest_mismatch_is_refused_and_leaves_nothing(client: Client, shared_registry: RegistryProcess) -> None:
    claimed = sha256(b"something else")
    r = client.request("POST", "/v2/blobs/bad/blobs/uploads/", params={"digest": claimed}, data=b"data")
    assert r.status_code == 400 and error_code(r) == "DIGEST_INVALID"
    assert client.request("HEAD", f"/v2/blobs/bad/blobs/{claimed}").status_code == 404
    assert not list(shared_registry.root.glob("repositories/blobs/bad/_uploads/*"))
    r = client.request("POST", "/v2/blobs/bad/blobs/uploads/", params={"digest": "sha256:zz"}, data=b"")
    assert r.status_code == 400 and error_code(r) == "DIGEST_INVALID"


def test_chunked_upload_with_resume(client: Client) -> None:
    data = os.urandom(300_000)
    start = client.request("POST", "/v2/blobs/chunked/blobs/uploads/")
    assert start.status_code == 202
    assert start.headers["Range"] == "0-0"
    location, uuid = start.headers["Location"], start.headers["Docker-Upload-UUID"]
    assert location.endswith(uuid)
    r = client.request("PATCH", location, data=data[:100_000],
                       headers={"Content-Range": "0-99999", "Content-Type": "application/octet-stream"})
    assert r.status_code == 202 and r.headers["Range"] == "0-99999"
    status = client.request("GET", location)
    assert status.status_code == 204 and status.headers["Range"] == "0-99999"
    assert status.headers["Docker-Upload-UUID"] == uuid
    out_of_order = client.request("PATCH", location, data=data[200_000:], headers={"Content-Range": "200000-299999"})
    assert out_of_order.status_code == 416 and error_code(out_of_order) == "RANGE_INVALID"
    r = client.request("PATCH", location, data=data[100_000:200_000])  # streamed, no Content-Range
    assert r.headers["Range"] == "0-199999"
    r = client.request("PUT", location, params={"digest": sha256(data)}, data=data[200_000:])
    assert r.status_code == 201, r.text
    assert client.request("GET", f"/v2/blobs/chunked/blobs/{sha256(data)}").content == data
    assert client.request("GET", location).status_code == 404


def test_chunk_whose_length_disagrees_with_content_range_is_rolled_back(client: Client) -> None:
    location = client.request("POST", "/v2/blobs/short/blobs/uploads/").headers["Location"]
    r = client.request("PATCH", location, data=b"abc", headers={"Content-Range": "0-9"})
    assert r.status_code == 416 and r.headers["Range"] == "0-0"
    assert client.request("GET", location).headers["Range"] == "0-0"


def test_cancel_upload(client: Client) -> None:
    location = client.request("POST", "/v2/blobs/cancel/blobs/uploads/").headers["Location"]
    client.request("PATCH", location, data=b"partial")
    assert client.request("DELETE", location).status_code == 204
    r = client.request("GET", location)
    assert r.status_code == 404 and error_code(r) == "BLOB_UPLOAD_UNKNOWN"
    r = client.request("PUT", location, params={"digest": sha256(b"partial")})
    assert r.status_code == 404 and error_code(r) == "BLOB_UPLOAD_UNKNOWN"


def test_upload_ids_are_checked(client: Client) -> None:
    for bad in ("../../etc", "not-a-uuid", "0" * 36):
        r = client.request("GET", f"/v2/blobs/ids/blobs/uploads/{bad}")
        assert r.status_code == 404, bad
    location = client.request("POST", "/v2/blobs/ids/blobs/uploads/").headers["Location"]
    other = location.replace("/blobs/ids/", "/blobs/elsewhere/")
    assert client.request("GET", other).status_code == 404


def test_empty_blob(client: Client) -> None:
    digest = client.upload("blobs/empty", b"")
    r = client.request("GET", f"/v2/blobs/empty/blobs/{digest}")
    assert r.status_code == 200 and r.content == b"" and r.headers["Content-Length"] == "0"


def test_cross_repository_mount(client: Client) -> None:
    digest = client.upload("blobs/source", b"shared layer")
    r = client.request("POST", "/v2/blobs/target/blobs/uploads/", params={"mount": digest, "from": "blobs/source"})
    assert r.status_code == 201
    assert r.headers["Location"] == f"/v2/blobs/target/blobs/{digest}"
    assert client.request("GET", f"/v2/blobs/target/blobs/{digest}").content == b"shared layer"
    missing = sha256(b"not there")
    r = client.request("POST", "/v2/blobs/target/blobs/uploads/", params={"mount": missing, "from": "blobs/source"})
    assert r.status_code == 202 and "Docker-Upload-UUID" in r.headers


def test_delete_blob_unlinks_it_from_the_repository_only(client: Client) -> None:
    digest = client.upload("blobs/del1", b"to delete")
    client.upload("blobs/del2", b"to delete")
    assert client.request("DELETE", f"/v2/blobs/del1/blobs/{digest}").status_code == 202
    assert client.request("HEAD", f"/v2/blobs/del1/blobs/{digest}").status_code == 404
    assert client.request("HEAD", f"/v2/blobs/del2/blobs/{digest}").status_code == 200
    r = client.request("DELETE", f"/v2/blobs/del1/blobs/{digest}")
    assert r.status_code == 404 and error_code(r) == "BLOB_UNKNOWN"


def test_invalid_names(client: Client) -> None:
    for name in ("UPPER/case", "a..b", "-lead", "trail-", "a//b", "_x", "a/_layers"):
        r = client.request("GET", f"/v2/{name}/tags/list")
        assert r.status_code == 400 and error_code(r) == "NAME_INVALID", name
    r = client.request("GET", "/v2/" + "a" * 256 + "/tags/list")
    assert error_code(r) == "NAME_INVALID"


def test_unknown_endpoint_and_method(client: Client) -> None:
    r = client.request("GET", "/nope")
    assert r.status_code == 404 and error_code(r) == "UNSUPPORTED"
    r = client.request("POST", f"/v2/blobs/x/blobs/{sha256(b'')}")
    assert r.status_code == 405 and error_code(r) == "UNSUPPORTED"


def test_finishing_one_upload_twice_at_once(client: Client) -> None:
    """Two concurrent final PUTs: one wins, the other is told the upload is gone (never a 500)."""
    from concurrent.futures import ThreadPoolExecutor

    import requests

    data = os.urandom(2_000_000)
    location = client.request("POST", "/v2/blobs/race/blobs/uploads/").headers["Location"]
    client.request("PATCH", location, data=data)

    def finish(_: int) -> int:
        return requests.put(client.url + location, params={"digest": sha256(data)}, timeout=30).status_code

    with ThreadPoolExecutor(4) as pool:
        statuses = sorted(pool.map(finish, range(4)))
    assert statuses[0] == 201 and all(s in (201, 404) for s in statuses), statuses
    assert client.request("GET", f"/v2/blobs/race/blobs/{sha256(data)}").content == data
