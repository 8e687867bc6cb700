"""Manifests, indexes, tags, catalog and referrers over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator

from regclient import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Client,
    canonical,
    descriptor,
    error_code,
    sha256,
)


def test_push_and_fetch_by_tag_and_digest(client: Client) -> None:
    pushed = client.push_image("man/basic", "v1")
    assert pushed.digest == sha256(pushed.body)
    for ref in ("v1", pushed.digest):
        r = client.request("GET", f"/v2/man/basic/manifests/{ref}", headers={"Accept": OCI_MANIFEST})
        assert r.status_code == 200 and r.content == pushed.body
        assert r.headers["Content-Type"] == OCI_MANIFEST
        assert r.headers["Docker-Content-Digest"] == pushed.digest
        assert r.headers["Content-Length"] == str(len(pushed.body))
        assert r.headers["ETag"] == f'"{pushed.digest}"'
        head = client.request("HEAD", f"/v2/man/basic/manifests/{ref}")
        assert head.status_code == 200 and head.content == b""
        assert head.headers["Content-Length"] == str(len(pushed.body))
        assert head.headers["Docker-Content-Digest"] == pushed.digest
    r = client.request("GET", "/v2/man/basic/manifests/v1", headers={"If-None-Match": f'"{pushed.digest}"'})
    assert r.status_code == 304


def test_put_response_headers(client: Client) -> None:
    pushed = client.push_image("man/headers", "latest")
    r = client.put_manifest("man/headers", "again", pushed.body)
    assert r.status_code == 201
    assert r.headers["Location"] == f"/v2/man/headers/manifests/{pushed.digest}"
    assert r.headers["Docker-Content-Digest"] == pushed.digest
    assert "OCI-Subject" not in r.headers


def test_docker_schema2_and_manifest_list(client: Client) -> None:
    amd = client.push_image("man/docker", "amd64", seed="a", media_type=DOCKER_MANIFEST)
    arm = client.push_image("man/docker", "arm64", seed="b", media_type=DOCKER_MANIFEST)
    r = client.request("GET", "/v2/man/docker/manifests/amd64")
    assert r.headers["Content-Type"] == DOCKER_MANIFEST
    children = [descriptor(DOCKER_MANIFEST, p.body, platform={"architecture": a, "os": "linux"})
                for p, a in ((amd, "amd64"), (arm, "arm64"))]
    body = canonical({"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": children})
    r = client.put_manifest("man/docker", "multi", body, DOCKER_LIST)
    assert r.status_code == 201, r.text
    r = client.request("GET", "/v2/man/docker/manifests/multi")
    assert r.headers["Content-Type"] == DOCKER_LIST and r.content == body


def test_references_must_exist_in_the_repository(client: Client) -> None:
    config = b'{"os":"linux"}'
    client.upload("man/refs", config)
    missing_layer = b"never uploaded"
    body = client.manifest(config, [missing_layer])
    r = client.put_manifest("man/refs", "broken", body)
    assert r.status_code == 400 and error_code(r) == "MANIFEST_BLOB_UNKNOWN"
    assert r.json()["errors"][0]["detail"] == {"digest": sha256(missing_layer)}
    elsewhere = client.push_image("man/other", "x")
    index = canonical({"schemaVersion": 2, "mediaType": OCI_INDEX,
                       "manifests": [descriptor(OCI_MANIFEST, elsewhere.body)]})
    r = client.put_manifest("man/refs", "idx", index, OCI_INDEX)
    assert r.status_code == 400 and error_code(r) == "MANIFEST_BLOB_UNKNOWN"
    r = client.request("GET", "/v2/man/refs/manifests/broken")
    assert r.status_code == 404


def test_oci_index(client: Client) -> None:
    child = client.push_image("man/index", "child")
    index = canonical({"schemaVersion": 2, "mediaType": OCI_INDEX,
                       "manifests": [descriptor(OCI_MANIFEST, child.body)]})
    r = client.put_manifest("man/index", "idx", index, OCI_INDEX)
    assert r.status_code == 201
    assert client.request("GET", "/v2/man/index/manifests/idx").headers["Content-Type"] == OCI_INDEX


def test_invalid_manifests(client: Client) -> None:
    pushed = client.push_image("man/invalid", "ok")
    doc = json.loads(pushed.body)
    cases = [
        (b"not json", OCI_MANIFEST),
        (b"[]", OCI_MANIFEST),
        (canonical({**doc, "schemaVersion": 1}), OCI_MANIFEST),
        (pushed.body, DOCKER_MANIFEST),  # body says OCI, header says Docker
        (canonical({k: v for k, v in doc.items() if k != "mediaType"}), "text/plain"),
        (canonical({**doc, "config": {"digest": "sha256:bad", "size": 1, "mediaType": "x"}}), OCI_MANIFEST),
        (canonical({**doc, "layers": {}}), OCI_MANIFEST),
        (canonical({**doc, "config": {**doc["config"], "size": -1}}), OCI_MANIFEST),
        (b'{"schemaVersion":1,"signatures":[]}', "application/vnd.docker.distribution.manifest.v1+prettyjws"),
    ]
    for body, media_type in cases:
        r = client.put_manifest("man/invalid", "bad", body, media_type)
        assert r.status_code == 400, (body, r.text)
        assert error_code(r) == "MANIFEST_INVALID", body
    assert client.request("GET", "/v2/man/invalid/manifests/bad").status_code == 404


def test_oversize_manifest_is_refused(client: Client) -> None:
    r = client.put_manifest("man/big", "big", b" " * (4 * 1024 * 1024 + 1))
    assert r.status_code == 413 and error_code(r) == "MANIFEST_INVALID"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds for chunked bodies too
        for _ in range(5):
            yield b" " * (1024 * 1024)
    r = client.request("PUT", "/v2/man/big/manifests/big", data=chunks(), headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 413


def test_put_by_digest_checks_the_digest(client: Client) -> None:
    pushed = client.push_image("man/bydigest", "t")
    r = client.put_manifest("man/bydigest", pushed.digest, pushed.body)
    assert r.status_code == 201
    r = client.put_manifest("man/bydigest", sha256(b"other"), pushed.body)
    assert r.status_code == 400 and error_code(r) == "DIGEST_INVALID"


def test_delete_manifest_by_digest_and_tag(client: Client) -> None:
    pushed = client.push_image("man/delete", "a")
    client.put_manifest("man/delete", "b", pushed.body)
    other = client.push_image("man/delete", "c", seed="other")
    assert client.request("DELETE", "/v2/man/delete/manifests/c").status_code == 202
    assert client.request("GET", "/v2/man/delete/manifests/c").status_code == 404
    assert client.request("GET", f"/v2/man/delete/manifests/{other.digest}").status_code == 200
    assert client.request("DELETE", f"/v2/man/delete/manifests/{pushed.digest}").status_code == 202
    for ref in ("a", "b", pushed.digest):
        r = client.request("GET", f"/v2/man/delete/manifests/{ref}")
        assert r.status_code == 404 and error_code(r) == "MANIFEST_UNKNOWN"
    r = client.request("DELETE", f"/v2/man/delete/manifests/{pushed.digest}")
    assert r.status_code == 404 and error_code(r) == "MANIFEST_UNKNOWN"


def test_unknown_repository_and_bad_references(client: Client) -> None:
    r = client.request("GET", "/v2/man/nowhere/manifests/latest")
    assert r.status_code == 404 and error_code(r) == "NAME_UNKNOWN"
    r = client.request("GET", "/v2/man/nowhere/tags/list")
    assert r.status_code == 404 and error_code(r) == "NAME_UNKNOWN"
    r = client.request("GET", "/v2/man/nowhere/manifests/-bad-tag")
    assert r.status_code == 400 and error_code(r) == "TAG_INVALID"
    r = client.request("GET", "/v2/man/nowhere/manifests/sha256:123")
    assert r.status_code == 400 and error_code(r) == "DIGEST_INVALID"


def test_tags_list_pagination(client: Client) -> None:
    pushed = client.push_image("man/tags", "t00")
    names = [f"t{i:02d}" for i in range(12)]
    for tag in names[1:]:
        assert client.put_manifest("man/tags", tag, pushed.body).status_code == 201
    r = client.request("GET", "/v2/man/tags/tags/list")
    assert r.json() == {"name": "man/tags", "tags": names}
    seen: list[str] = []
    url = "/v2/man/tags/tags/list?n=5"
    while url:
        r = client.request("GET", url)
        seen += r.json()["tags"]
        link = r.headers.get("Link")
        url = link[1 : link.index(">")] if link else ""
        assert not link or link.endswith('rel="next"')
    assert seen == names
    assert client.request("GET", "/v2/man/tags/tags/list?last=t10").json()["tags"] == ["t11"]
    assert client.request("GET", "/v2/man/tags/tags/list?n=0").json()["tags"] == []
    r = client.request("GET", "/v2/man/tags/tags/list?n=-1")
    assert r.status_code == 400 and error_code(r) == "PAGINATION_NUMBER_INVALID"


def test_catalog_pagination(client: Client) -> None:
    for repo in ("cat/a", "cat/b", "cat/c"):
        client.push_image(repo, "x")
    repos = client.request("GET", "/v2/_catalog").json()["repositories"]
    assert {"cat/a", "cat/b", "cat/c"} <= set(repos) and repos == sorted(repos)
    r = client.request("GET", "/v2/_catalog", params={"n": 2, "last": "cat/"})
    assert r.json()["repositories"] == ["cat/a", "cat/b"]
    assert r.headers["Link"] == '</v2/_catalog?n=2&last=cat%2Fb>; rel="next"'


def test_referrers_and_subject(client: Client) -> None:
    subject = client.push_image("man/refd", "image")
    subj = descriptor(OCI_MANIFEST, subject.body)
    sig = client.push_image("man/refd", "sig", seed="s", artifactType="application/vnd.example.sig",
                            subject=subj, annotations={"org.example": "yes"})
    r = client.put_manifest("man/refd", sig.digest, sig.body)
    assert r.headers["OCI-Subject"] == subject.digest
    sbom = client.push_image("man/refd", "sbom", seed="b", subject=subj)
    r = client.request("GET", f"/v2/man/refd/referrers/{subject.digest}")
    assert r.status_code == 200 and r.headers["Content-Type"] == OCI_INDEX
    index = r.json()
    assert index["schemaVersion"] == 2 and index["mediaType"] == OCI_INDEX
    by_digest = {d["digest"]: d for d in index["manifests"]}
    assert set(by_digest) == {sig.digest, sbom.digest}
    assert by_digest[sig.digest] == {"mediaType": OCI_MANIFEST, "digest": sig.digest, "size": len(sig.body),
                                     "artifactType": "application/vnd.example.sig",
                                     "annotations": {"org.example": "yes"}}
    assert by_digest[sbom.digest]["artifactType"] == "application/vnd.oci.image.config.v1+json"
    r = client.request("GET", f"/v2/man/refd/referrers/{subject.digest}",
                       params={"artifactType": "application/vnd.example.sig"})
    assert r.headers["OCI-Filters-Applied"] == "artifactType"
    assert [d["digest"] for d in r.json()["manifests"]] == [sig.digest]
    empty = client.request("GET", f"/v2/man/refd/referrers/{sha256(b'none')}")
    assert empty.status_code == 200 and empty.json()["manifests"] == []
    client.request("DELETE", f"/v2/man/refd/manifests/{sig.digest}")
    r = client.request("GET", f"/v2/man/refd/referrers/{subject.digest}")
    assert [d["digest"] for d in r.json()["manifests"]] == [sbom.digest]


def test_subject_may_be_pushed_before_its_target(client: Client) -> None:
    ghost = {"mediaType": OCI_MANIFEST, "digest": sha256(b"future"), "size": 6}
    pushed = client.push_image("man/early", "sig", subject=ghost)
    r = client.request("GET", f"/v2/man/early/referrers/{ghost['digest']}")
    assert [d["digest"] for d in r.json()["manifests"]] == [pushed.digest]
