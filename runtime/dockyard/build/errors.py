"""Errors of the Dockerfile front end, shaped like BuildKit's so users see what docker shows.

::

    InvalidArgument (dockyard.errors)
    └── DockerfileError          any error a Dockerfile causes, with its source location
        ├── DockerfileParseError    syntax/instruction errors: "dockerfile parse error on line N: …"
        └── DockerfileResolveError  stage graph, expansion, target errors found before a build runs

``render()`` reproduces the snippet the docker CLI prints under BuildKit, e.g.::

    Dockerfile:3
    --------------------
       1 |     FROM busybox
       2 |
       3 | >>> FOO bar
    --------------------
    ERROR: failed to solve: dockerfile parse error on line 3: unknown instruction: FOO
"""

from __future__ import annotations

from ..errors import InvalidArgument


class DockerfileError(InvalidArgument):
    """A Dockerfile problem at ``line``..``end_line`` (1-based; 0 when unknown).

    ``message`` is BuildKit's bare wording; ``str(exc)`` is what docker prints after
    ``failed to solve:``. ``source`` (the Dockerfile text) lets ``render`` show context.
    """

    def __init__(
        self,
        message: str,
        line: int = 0,
        end_line: int = 0,
        column: int = 0,
        text: str = "",
        source: str | None = None,
    ) -> None:
        self.message = message
        self.line = line
        self.end_line = max(end_line, line)
        self.column = column
        self.text = text
        self.source = source
        super().__init__(self._headline())

    def _headline(self) -> str:
        return self.message

    def located(self, line: int, end_line: int = 0, column: int = 0, text: str = "") -> DockerfileError:
        """Attach a location unless one is known already (inner errors know best)."""
        if not self.line:
            self.line, self.end_line = line, max(end_line, line)
            self.column = self.column or column
            self.text = self.text or text
            self.args = (self._headline(),)
        return self

    def with_source(self, source: str) -> DockerfileError:
        self.source = source
        return self

    def snippet(self, filename: str = "Dockerfile") -> str:
        """The framed excerpt BuildKit's errdefs.Source.Print writes (empty if no location)."""
        if self.source is None or self.line < 1:
            return ""
        lines = self.source.split("\n")
        start, end = self.line, min(self.end_line, len(lines))
        if start > len(lines):
            return ""
        first, last = _padded(start, end, len(lines))
        out = [f"{filename}:{start}", "-" * 20]
        for i in range(first, last + 1):
            mark = ">>>" if start <= i <= end else "   "
            out.append(f" {i:3d} | {mark} {lines[i - 1]}")
        out.append("-" * 20)
        return "\n".join(out) + "\n"

    def render(self, filename: str = "Dockerfile") -> str:
        """Snippet plus the ``ERROR: failed to solve: …`` line, as the docker CLI prints it."""
        return f"{self.snippet(filename)}ERROR: failed to solve: {self}"


def _padded(start: int, end: int, total: int) -> tuple[int, int]:
    """Widen [start, end] the way BuildKit does: 4 lines of context for one line, else 2."""
    pad = 4 if start == end else 2
    p = 0
    while p < pad:
        if start > 1:
            start -= 1
            p += 1
        if end != total:
            end += 1
            p += 1
        p += 1
    return start, end


class DockerfileParseError(DockerfileError):
    """Syntax or instruction error; worded ``dockerfile parse error on line N: …``."""

    def _headline(self) -> str:
        if self.line:
            return f"dockerfile parse error on line {self.line}: {self.message}"
        return self.message


class DockerfileResolveError(DockerfileError):
    """An error found while resolving stages, args and expansions, before anything runs."""


class BuildError(InvalidArgument):
    """A build that cannot go on (missing context file, bad COPY, unknown base image…); the
    builder's own errors, reported in the build stream as ``errorDetail``."""


class StepFailed(BuildError):
    """A RUN whose command exited non-zero, worded as the classic builder words it."""

    def __init__(self, command: str, code: int) -> None:
        super().__init__(f"The command '{command}' returned a non-zero code: {code}")
        self.code = code

    @property
    def stream_code(self) -> int:
        """The build stream's ``errorDetail.code`` (:func:`dockyard.api.streams.stream_error`)."""
        return self.code
