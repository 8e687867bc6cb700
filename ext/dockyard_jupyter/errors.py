"""The front end's exceptions, under dockyard's tree; magics print ``str(exc)`` on one line.

::

    DockyardError
    ├── Unavailable
    │   └── DaemonUnreachable     no daemon answers at the chosen host
    ├── InvalidArgument
    │   └── CommandUsage          bad magic syntax (shown as IPython's UsageError)
    ├── DaemonError               the daemon refused a request ("Error response from daemon: …")
    │   └── ContainerExitError    a container exited non-zero and --raise-error was given
    └── Interrupted               the user stopped a build/pull/push; its request was cancelled
"""

from __future__ import annotations

from dockyard.errors import DockyardError, InvalidArgument, Unavailable


class DaemonUnreachable(Unavailable):
    def __init__(self, host: str, reason: str = "") -> None:
        detail = f" ({reason})" if reason else ""
        super().__init__(
            f"Cannot connect to the dockyard daemon at {host}. Is the daemon running?{detail}"
        )
        self.host = host


class CommandUsage(InvalidArgument):
    """A magic's arguments do not parse."""


class DaemonError(DockyardError):
    def __init__(self, message: str, status: int = 500) -> None:
        super().__init__(f"Error response from daemon: {message}")
        self.status = status


class ContainerExitError(DaemonError):
    """Like subprocess.CalledProcessError, for ``%docker run --raise-error``."""

    def __init__(self, container: str, code: int) -> None:
        DockyardError.__init__(self, f"container {container} exited with status {code}")
        self.returncode = code


class Interrupted(DockyardError):
    """A kernel interrupt during a streamed request: the connection was closed, which makes the
    daemon cancel the build, pull or push."""
