"""Manifest content negotiation: the same requests against dockyard's registry and Debian's
docker-registry (distribution 2.8) must give the same answers.

distribution refuses an OCI manifest or index to a client whose ``Accept`` does not name its
type (404 MANIFEST_UNKNOWN), and gives a client that cannot read Docker manifest lists the
linux/amd64 manifest when it asks by tag. Both registries are driven with one small client.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
from regclient import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Client,
    canonical,
    descriptor,
    sha256,
)

from dockyard.testing.registry import DistributionProcess, RegistryProcess

pytestmark = pytest.mark.interop
AMD64 = {"architecture": "amd64", "os": "linux"}
ARM64 = {"architecture": "arm64", "os": "linux"}


@dataclass
class Seeded:
    url: str
    oci: str  # digest of an OCI manifest tagged oci/app:t, also in index oci/app:idx
    index: str
    docker: str  # schema2 manifest tagged d2/app:t (linux/amd64 entry of the list d2/app:list)
    docker_arm: str
    docker_list: str


def _upload(session: requests.Session, url: str, repo: str, data: bytes) -> None:
    """POST then PUT: the upload both registries take (distribution 2.8 has no one-shot POST)."""
    location = session.post(f"{url}/v2/{repo}/blobs/uploads/").headers["Location"]
    target = location if location.startswith("http") else url + location
    r = session.put(target, params={"digest": sha256(data)}, data=data)
    assert r.status_code == 201, r.text


def _image(client: Client, repo: str, tag: str, media_type: str, seed: str) -> bytes:
    config = canonical({"architecture": "amd64", "os": "linux", "seed": seed})
    layer = f"layer {seed}".encode()
    for blob in (config, layer):
        _upload(client.s, client.url, repo, blob)
    body = client.manifest(config, [layer], media_type)
    assert client.put_manifest(repo, tag, body, media_type).status_code == 201
    return body


def _seed(url: str) -> Seeded:
    client = Client(url)
    oci = _image(client, "oci/app", "t", OCI_MANIFEST, "oci")
    index = canonical({"schemaVersion": 2, "mediaType": OCI_INDEX,
                       "manifests": [descriptor(OCI_MANIFEST, oci, platform=AMD64)]})
    assert client.put_manifest("oci/app", "idx", index, OCI_INDEX).status_code == 201
    arm = _image(client, "d2/app", "arm", DOCKER_MANIFEST, "arm")
    amd = _image(client, "d2/app", "t", DOCKER_MANIFEST, "amd")
    listing = canonical({"schemaVersion": 2, "mediaType": DOCKER_LIST,
                         "manifests": [descriptor(DOCKER_MANIFEST, arm, platform=ARM64),
                                       descriptor(DOCKER_MANIFEST, amd, platform=AMD64)]})
    assert client.put_manifest("d2/app", "list", listing, DOCKER_LIST).status_code == 201
    return Seeded(url, sha256(oci), sha256(index), sha256(amd), sha256(arm), sha256(listing))


@pytest.fixture(scope="module", params=["dockyard", "distribution"])
def seeded(request: pytest.FixtureRequest) -> Iterator[Seeded]:
    process = RegistryProcess() if request.param == "dockyard" else DistributionProcess()
    with process as registry:
        yield _seed(registry.url)


def fetch(seeded: Seeded, repo: str, ref: str, accept: str | None, method: str = "GET") -> requests.Response:
    headers = {"Accept": accept} if accept is not None else {}
    return requests.request(method, f"{seeded.url}/v2/{repo}/manifests/{ref}", headers=headers, timeout=10)


@pytest.mark.parametrize("accept", [None, "*/*", DOCKER_MANIFEST, f"{DOCKER_LIST}, {OCI_INDEX}"])
@pytest.mark.parametrize("by", ["tag", "digest"])
def test_oci_manifest_needs_an_accept_that_names_it(seeded: Seeded, accept: str | None, by: str) -> None:
    ref = "t" if by == "tag" else seeded.oci
    r = fetch(seeded, "oci/app", ref, accept)
    assert r.status_code == 404
    error = r.json()["errors"][0]
    assert error["code"] == "MANIFEST_UNKNOWN"
    assert error["message"] == "OCI manifest found, but accept header does not support OCI manifests"
    assert fetch(seeded, "oci/app", ref, accept, "HEAD").status_code == 404


@pytest.mark.parametrize("accept", [None, OCI_MANIFEST, f"{DOCKER_MANIFEST}, {OCI_MANIFEST}"])
def test_oci_index_needs_an_accept_that_names_it(seeded: Seeded, accept: str | None) -> None:
    for ref in ("idx", seeded.index):
        r = fetch(seeded, "oci/app", ref, accept)
        assert r.status_code == 404
        assert r.json()["errors"][0]["message"] == "OCI index found, but accept header does not support OCI indexes"


@pytest.mark.parametrize(("ref", "accept", "media_type"), [
    ("t", f"{OCI_MANIFEST};q=0.5", OCI_MANIFEST),
    ("t", f"{DOCKER_MANIFEST}, {OCI_MANIFEST}", OCI_MANIFEST),
    ("idx", OCI_INDEX, OCI_INDEX),
])
def test_oci_types_served_when_accepted(seeded: Seeded, ref: str, accept: str, media_type: str) -> None:
    for method in ("GET", "HEAD"):
        r = fetch(seeded, "oci/app", ref, accept, method)
        assert r.status_code == 200
        assert r.headers["Content-Type"] == media_type
        expected = seeded.oci if ref == "t" else seeded.index
        assert r.headers["Docker-Content-Digest"] == expected
    assert sha256(fetch(seeded, "oci/app", ref, accept).content) == expected


def test_manifest_list_by_tag_falls_back_to_linux_amd64(seeded: Seeded) -> None:
    r = fetch(seeded, "d2/app", "list", DOCKER_MANIFEST)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == DOCKER_MANIFEST
    assert r.headers["Docker-Content-Digest"] == seeded.docker == sha256(r.content)
    r = fetch(seeded, "d2/app", "list", f"{DOCKER_MANIFEST}, {DOCKER_LIST}")
    assert r.headers["Content-Type"] == DOCKER_LIST
    assert r.headers["Docker-Content-Digest"] == seeded.docker_list


@pytest.mark.parametrize("accept", [None, OCI_MANIFEST, DOCKER_MANIFEST])
def test_by_digest_docker_types_are_served_as_stored(seeded: Seeded, accept: str | None) -> None:
    for digest, media_type in ((seeded.docker_list, DOCKER_LIST), (seeded.docker_arm, DOCKER_MANIFEST)):
        r = fetch(seeded, "d2/app", digest, accept)
        assert r.status_code == 200
        assert r.headers["Content-Type"] == media_type and sha256(r.content) == digest


def test_schema2_by_tag_with_its_type_accepted(seeded: Seeded) -> None:
    r = fetch(seeded, "d2/app", "t", DOCKER_MANIFEST)
    assert r.status_code == 200 and r.headers["Docker-Content-Digest"] == seeded.docker
