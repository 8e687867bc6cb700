"""``/v2/<name>/referrers/<digest>``: the manifests whose ``subject`` is that digest, as an index."""

from __future__ import annotations

from typing import Any, ClassVar

from ...oci import mediatypes as mt
from ..errors import RegistryError
from ..manifests import artifact_type, parse
from ..names import validate_digest
from ..storage import StoredManifest
from .base import RegistryHandler


def referrer_descriptor(stored: StoredManifest) -> dict[str, Any]:
    manifest = parse(stored.body, stored.media_type)
    entry: dict[str, Any] = {"mediaType": stored.media_type, "digest": stored.digest,
                             "size": len(stored.body)}
    kind = artifact_type(manifest)
    if kind:
        entry["artifactType"] = kind
    if manifest.annotations:
        entry["annotations"] = manifest.annotations
    return entry


class ReferrersHandler(RegistryHandler):
    ACTIONS: ClassVar[dict[str, tuple[str, ...]]] = {"GET": ("pull",)}

    def get(self, name: str, digest: str) -> None:
        validate_digest(digest)
        if not self.storage.repo_exists(name):
            raise RegistryError("NAME_UNKNOWN", detail={"name": name})
        wanted = self.get_query_argument("artifactType", None)
        descriptors = []
        for stored in self.storage.referrers(name, digest):
            try:
                descriptors.append(referrer_descriptor(stored))
            except RegistryError:
                continue
        if wanted:
            descriptors = [d for d in descriptors if d.get("artifactType") == wanted]
            self.set_header("OCI-Filters-Applied", "artifactType")
        index = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": descriptors}
        self.write_json(index, mt.OCI_INDEX)
