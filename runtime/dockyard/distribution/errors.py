"""The distribution client's errors, worded as dockerd words them (clients show them verbatim).

::

    DockyardError
    ├── RegistryError            500  the registry answered something unusable, or the link broke
    ├── InvalidArgument
    │   └── UnsupportedManifest  400  schema1, unknown media types
    ├── Unauthorized
    │   └── LoginFailed          401  wrong credentials, or none where some are required
    ├── Forbidden
    │   └── AccessDenied         403  credentials fine, permission missing ("denied: …")
    └── NotFound
        └── ManifestUnknown      404  no such tag / digest / platform
"""

from __future__ import annotations

from ..errors import DockyardError, Forbidden, InvalidArgument, NotFound, Unauthorized


class RegistryError(DockyardError):
    """An unexpected answer from a registry, or a connection that failed mid-way."""


class UnsupportedManifest(InvalidArgument):
    pass


class LoginFailed(Unauthorized):
    pass


class AccessDenied(Forbidden):
    pass


class ManifestUnknown(NotFound):
    pass


class Cancelled(DockyardError):
    """The client hung up; workers stop at their next chunk."""
