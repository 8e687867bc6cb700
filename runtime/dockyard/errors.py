"""The engine's exception tree, translated to wire errors at exactly one edge per protocol.

::

    DockyardError                  500  something broke that the caller could not prevent
    ├── ExitTimeout                500  a process still running when the wait for its exit gave up
    ├── InvalidArgument            400  the request itself is wrong (bad reference, bad flag value)
    │   └── DigestMismatch         400  content does not hash to the digest it claims
    ├── Unauthorized               401  credentials missing or wrong
    ├── Forbidden                  403  credentials fine, permission missing
    ├── NotFound                   404  no such image / container / network / volume
    ├── Conflict                   409  the object is in a state that forbids the action
    ├── NotModified                304  the action was already done (start a running container)
    ├── NotSupported               501  the object cannot do that (logs of a container logging to "none")
    └── Unavailable                503  a capability the kernel or machine lacks; says what and how

The Engine API (``dockyard.api``) maps ``status`` to the HTTP status and ``str(exc)`` to
``{"message": …}``; the CLI and magics print ``str(exc)`` on one line. Messages follow
dockerd's wording, because clients (docker CLI, docker-py) match on it.
"""

from __future__ import annotations


class DockyardError(Exception):
    """Base of every error the engine raises on purpose."""

    status: int = 500


class ExitTimeout(DockyardError):
    """A process still running when a wait for its exit gave up: after a SIGKILL, one the kernel
    holds in uninterruptible sleep (a task of a frozen v1 cgroup keeps SIGKILL pending until
    the cgroup is thawed). Never a bare ``TimeoutError``: the edge shows its words."""


class InvalidArgument(DockyardError):
    status = 400


class DigestMismatch(InvalidArgument):
    """Content whose digest differs from the one it was announced with."""

    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(f"digest mismatch: expected {expected}, got {actual}")
        self.expected = expected
        self.actual = actual


class Unauthorized(DockyardError):
    status = 401


class Forbidden(DockyardError):
    status = 403


class NotFound(DockyardError):
    status = 404


class Conflict(DockyardError):
    status = 409


class NotModified(DockyardError):
    status = 304


class NotSupported(DockyardError):
    """dockerd's errdefs.NotImplemented (the name would shadow Python's constant)."""

    status = 501


class Unavailable(DockyardError):
    status = 503
