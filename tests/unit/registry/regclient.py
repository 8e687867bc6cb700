"""A tiny OCI Distribution client for the registry tests: just enough to push test images."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import requests

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
ACCEPT_ALL = f"{OCI_MANIFEST}, {OCI_INDEX}, {DOCKER_MANIFEST}, {DOCKER_LIST}"
"""What real clients send; without it an OCI manifest is refused, as distribution does."""


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def descriptor(media_type: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": sha256(data), "size": len(data), **extra}


def canonical(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


@dataclass
class Pushed:
    digest: str
    body: bytes
    config: bytes
    layers: list[bytes]


class Client:
    def __init__(self, url: str, session: requests.Session | None = None) -> None:
        self.url = url
        self.s = session or requests.Session()
        self.s.headers["Accept"] = ACCEPT_ALL

    def request(self, method: str, path: str, **kw: Any) -> requests.Response:
        return self.s.request(method, self.url + path, **kw)

    def upload(self, repo: str, data: bytes) -> str:
        digest = sha256(data)
        r = self.request("POST", f"/v2/{repo}/blobs/uploads/", params={"digest": digest}, data=data)
        assert r.status_code == 201, r.text
        return digest

    def put_manifest(self, repo: str, ref: str, body: bytes, media_type: str = OCI_MANIFEST) -> requests.Response:
        return self.request("PUT", f"/v2/{repo}/manifests/{ref}", data=body,
                            headers={"Content-Type": media_type})

    def manifest(self, config: bytes, layers: list[bytes], media_type: str = OCI_MANIFEST,
                 **extra: Any) -> bytes:
        config_type = OCI_CONFIG if media_type == OCI_MANIFEST else "application/vnd.docker.container.image.v1+json"
        layer_type = OCI_LAYER if media_type == OCI_MANIFEST else "application/vnd.docker.image.rootfs.diff.tar"
        doc = {"schemaVersion": 2, "mediaType": media_type, "config": descriptor(config_type, config),
               "layers": [descriptor(layer_type, layer) for layer in layers], **extra}
        return canonical(doc)

    def push_image(self, repo: str, tag: str, seed: str = "x", media_type: str = OCI_MANIFEST,
                   **extra: Any) -> Pushed:
        config = canonical({"architecture": "amd64", "os": "linux", "seed": seed})
        layers = [f"layer-{seed}-{i}".encode() * 100 for i in range(2)]
        for blob in (config, *layers):
            self.upload(repo, blob)
        body = self.manifest(config, layers, media_type, **extra)
        r = self.put_manifest(repo, tag, body, media_type)
        assert r.status_code == 201, r.text
        return Pushed(r.headers["Docker-Content-Digest"], body, config, layers)


def error_code(response: requests.Response) -> str:
    body = response.json()
    assert set(body) == {"errors"}, body
    entry = body["errors"][0]
    assert {"code", "message", "detail"} <= set(entry), entry
    return str(entry["code"])
