"""Hypothesis fuzzing of names, references, digests, ranges and manifest bodies.

Properties: the server never answers 5xx, every error is the spec's JSON envelope, and nothing
is ever written outside the storage root.
"""

from __future__ import annotations

import http.client
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from regclient import ACCEPT_ALL, OCI_MANIFEST, Client, sha256

from dockyard.testing.registry import RegistryProcess

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
HEADER_CHARS = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
SEGMENT_CHARS = "abcAZ09._-/%:@?#\\ \x00é~"


class Raw:
    """Exact bytes on the wire (requests would normalise ``..`` away)."""

    def __init__(self, host: str) -> None:
        self.host, port = host.split(":")
        self.port = int(port)
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=10)

    def send(self, method: str, path: str, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, bytes, http.client.HTTPMessage]:
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=body, headers={"Accept": ACCEPT_ALL, **(headers or {})})
                response = self.conn.getresponse()
                data = response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                return response.status, data, response.headers
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
                if attempt:
                    raise
        raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RegistryProcess, Path]]:
    outer = tmp_path_factory.mktemp("fuzz")
    (outer / "sentinel").write_text("untouched")
    with RegistryProcess(outer / "root") as registry:
        yield registry, outer


@pytest.fixture(scope="module")
def raw(sandbox: tuple[RegistryProcess, Path]) -> Raw:
    return Raw(sandbox[0].host)


@pytest.fixture(scope="module")
def seeded(sandbox: tuple[RegistryProcess, Path]) -> dict[str, Any]:
    client = Client(sandbox[0].url)
    pushed = client.push_image("fuzz/app", "latest")
    data = os.urandom(5000)
    return {"pushed": pushed, "blob": client.upload("fuzz/app", data), "size": len(data)}


def check(status: int, body: bytes) -> None:
    assert status < 500, body
    if status >= 400 and body:
        errors = json.loads(body)["errors"]
        assert errors and {"code", "message", "detail"} <= set(errors[0])


def assert_contained(outer: Path) -> None:
    assert sorted(p.name for p in outer.iterdir()) == ["root", "sentinel"]
    assert (outer / "sentinel").read_text() == "untouched"
    assert sorted(p.name for p in (outer / "root").iterdir()) == ["blobs", "repositories", "tmp"]


text = st.text(alphabet=SEGMENT_CHARS, max_size=40)


@FUZZ
@given(name=text, ref=text, encode=st.booleans())
def test_names_and_references(raw: Raw, sandbox: tuple[RegistryProcess, Path], name: str, ref: str,
                              encode: bool) -> None:
    name_part = quote(name, safe="/") if encode else quote(name, safe="/.%:@")
    ref_part = quote(ref, safe="") if encode else quote(ref, safe=".%:")
    for method, path, body in (
        ("GET", f"/v2/{name_part}/manifests/{ref_part}", None),
        ("PUT", f"/v2/{name_part}/manifests/{ref_part}", b'{"schemaVersion":2}'),
        ("DELETE", f"/v2/{name_part}/manifests/{ref_part}", None),
        ("GET", f"/v2/{name_part}/tags/list?n={ref_part}&last={ref_part}", None),
        ("POST", f"/v2/{name_part}/blobs/uploads/?digest={ref_part}", b"x"),
        ("GET", f"/v2/{name_part}/blobs/uploads/{ref_part}", None),
        ("GET", f"/v2/{name_part}/referrers/{ref_part}", None),
    ):
        status, data, _ = raw.send(method, path, body)
        check(status, data)
    assert_contained(sandbox[1])


@FUZZ
@given(digest=st.one_of(text, st.from_regex(r"sha(256|512):[0-9a-fA-F]{0,130}", fullmatch=True)))
def test_digests(raw: Raw, sandbox: tuple[RegistryProcess, Path], digest: str) -> None:
    quoted = quote(digest, safe=":")
    for method, path, body in (
        ("GET", f"/v2/fuzz/app/blobs/{quoted}", None),
        ("HEAD", f"/v2/fuzz/app/blobs/{quoted}", None),
        ("DELETE", f"/v2/fuzz/other/blobs/{quoted}", None),
        ("POST", f"/v2/fuzz/other/blobs/uploads/?digest={quote(digest, safe='')}", b"data"),
        ("POST", f"/v2/fuzz/other/blobs/uploads/?mount={quote(digest, safe='')}&from=fuzz/app", b""),
        ("PUT", f"/v2/fuzz/other/manifests/{quoted}", b"{}"),
    ):
        status, data, _ = raw.send(method, path, body)
        check(status, data)
    assert_contained(sandbox[1])


@FUZZ
@given(spec=st.one_of(
    st.from_regex(r"bytes=([0-9]{0,6})-([0-9]{0,6})", fullmatch=True),
    st.from_regex(r"bytes=-?[0-9]{0,4}(,[0-9]{0,4}-[0-9]{0,4})*", fullmatch=True),
    st.text(alphabet=HEADER_CHARS, max_size=30),
))
def test_ranges(raw: Raw, seeded: dict[str, Any], spec: str) -> None:
    status, data, headers = raw.send("GET", f"/v2/fuzz/app/blobs/{seeded['blob']}", headers={"Range": spec})
    check(status, data)
    assert status in (200, 206, 416)
    if status == 206:
        first, last = map(int, headers["Content-Range"].split()[1].split("/")[0].split("-"))
        assert len(data) == last - first + 1 and last < seeded["size"]


@FUZZ
@given(content_range=st.one_of(st.from_regex(r"(bytes )?[0-9]{0,7}-[0-9]{0,7}(/\*)?", fullmatch=True),
                               st.text(alphabet=HEADER_CHARS, max_size=20)),
       body=st.binary(max_size=64))
def test_upload_content_ranges(raw: Raw, sandbox: tuple[RegistryProcess, Path], content_range: str,
                               body: bytes) -> None:
    _, _, headers = raw.send("POST", "/v2/fuzz/chunks/blobs/uploads/", b"")
    location = headers["Location"]
    status, data, headers = raw.send("PATCH", location, body, {"Content-Range": content_range})
    check(status, data)
    assert status in (202, 416)
    status, _, headers = raw.send("GET", location)
    assert status == 204
    match = re.fullmatch(r"(?:bytes[ =])?0*0-0*([0-9]+)(?:/(?:[0-9]+|\*))?", content_range.strip())
    accepted = not content_range.strip() or (match is not None and int(match[1]) == len(body) - 1)
    expected = len(body) if accepted else 0
    assert headers["Range"] == f"0-{max(expected - 1, 0)}"
    raw.send("DELETE", location)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@FUZZ
@given(mutation=st.dictionaries(st.sampled_from(["schemaVersion", "mediaType", "config", "layers", "manifests",
                                                 "subject", "annotations", "artifactType"]),
                                json_values, max_size=3),
       content_type=st.sampled_from([OCI_MANIFEST, "application/vnd.oci.image.index.v1+json",
                                     "application/vnd.docker.distribution.manifest.v2+json", "", "text/html"]))
def test_manifest_bodies(raw: Raw, sandbox: tuple[RegistryProcess, Path], seeded: dict[str, Any],
                         mutation: dict[str, Any], content_type: str) -> None:
    doc = {**json.loads(seeded["pushed"].body), **mutation}
    body = json.dumps(doc).encode()
    status, data, headers = raw.send("PUT", "/v2/fuzz/app/manifests/mutant", body, {"Content-Type": content_type})
    check(status, data)
    assert status in (201, 400), data
    if status == 201:
        got_status, got, _ = raw.send("GET", "/v2/fuzz/app/manifests/mutant")
        assert got_status == 200 and got == body
        assert headers["Docker-Content-Digest"] == sha256(body)
    assert_contained(sandbox[1])


@FUZZ
@given(body=st.binary(max_size=300))
def test_manifest_bytes(raw: Raw, body: bytes) -> None:
    status, data, _ = raw.send("PUT", "/v2/fuzz/app/manifests/bytes", body, {"Content-Type": OCI_MANIFEST})
    check(status, data)
    assert status == 400


@FUZZ
@given(tag=st.text(alphabet="aZ09._-/%:\\ é", min_size=1, max_size=130))
def test_tags(raw: Raw, sandbox: tuple[RegistryProcess, Path], seeded: dict[str, Any], tag: str) -> None:
    path = f"/v2/fuzz/app/manifests/{quote(tag, safe='')}"
    status, data, _ = raw.send("PUT", path, seeded["pushed"].body, {"Content-Type": OCI_MANIFEST})
    check(status, data)
    valid = re.fullmatch(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}", tag) is not None
    if not valid:
        assert status == 400 and json.loads(data)["errors"][0]["code"] in {"TAG_INVALID", "DIGEST_INVALID"}
        return
    assert status == 201, data
    status, body, _ = raw.send("GET", path)
    assert status == 200 and body == seeded["pushed"].body
    status, body, _ = raw.send("GET", "/v2/fuzz/app/tags/list")
    assert tag in json.loads(body)["tags"]
    assert_contained(sandbox[1])
