"""``.dockerignore`` matching and context walking, as moby/patternmatcher and fsutil do it.

File syntax (ignorefile.ReadAll): ``#`` at column 0 starts a comment; lines are trimmed;
``!`` marks an exception; each pattern is ``path.Clean``-ed and a leading ``/`` dropped
(so ``/foo``, ``./foo`` and ``foo`` are the same). Matching: ``*`` and ``?`` never cross
``/``, ``**`` spans any number of directories, ``[…]`` classes and ``\\`` escapes as in
Go's filepath.Match, and a pattern matching a directory excludes everything below it.
The last matching line wins.

Walking mirrors BuildKit's context transfer: an excluded directory is not descended
unless an exception could re-include something inside it (any exception containing a
wildcard, or one whose literal path lies below the directory). Symlinks are reported as
entries and never followed, so a walk cannot leave the context.

The Dockerfile-specific ignore file (``<Dockerfile>.dockerignore`` next to the Dockerfile)
takes precedence over the context's ``.dockerignore`` (``for_build``).
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from .. import gomatch
from ..errors import InvalidArgument

IGNORE_FILE = ".dockerignore"
_ESCAPED = frozenset(".+()|{}$")
_WILDCARDS = frozenset("*?[\\")


class IgnorePatternError(InvalidArgument):
    """A malformed pattern; worded like Go's filepath.ErrBadPattern."""


def go_clean(path: str) -> str:
    """Go's path.Clean (posixpath.normpath keeps a leading ``//``; Go does not)."""
    cleaned = posixpath.normpath(path) if path else "."
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


def read_patterns(text: str) -> list[str]:
    """The patterns of an ignore file, normalised like ignorefile.ReadAll."""
    out = []
    for n, line in enumerate(text.split("\n")):
        if n == 0:
            line = line.removeprefix("\ufeff")
        line = line.removesuffix("\r")
        if line.startswith("#"):
            continue
        pattern = line.strip()
        if not pattern:
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = go_clean(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        out.append("!" + pattern if invert else pattern)
    return out


@dataclass(frozen=True)
class Pattern:
    text: str
    exclusion: bool
    regex: re.Pattern[str] | None
    kind: str  # exact | prefix | suffix | regex

    def match(self, path: str) -> bool:
        if self.kind == "exact":
            return path == self.text
        if self.kind == "prefix":
            return path.startswith(self.text[:-2])
        if self.kind == "suffix":
            suffix = self.text[2:]
            return path.endswith(suffix) or (suffix.startswith("/") and path == suffix[1:])
        assert self.regex is not None
        return self.regex.match(path) is not None


def _check_syntax(pattern: str) -> None:
    """Reject what Go's filepath.Match rejects (unclosed classes, bad ranges, trailing \\)."""
    try:
        gomatch.glob(pattern)
    except gomatch.BadPattern:
        raise IgnorePatternError("syntax error in pattern") from None


def compile_pattern(text: str, exclusion: bool) -> Pattern:
    """patternmatcher's compile: exact/prefix/suffix fast paths, else an anchored regex."""
    regex, kind, i = ["^"], "exact", 0
    while i < len(text):
        ch, first = text[i], i == 0
        i += 1
        if ch == "*" and text[i:i + 1] == "*":
            i += 2 if text[i + 1:i + 2] == "/" else 1
            if i >= len(text) and kind == "exact":
                kind = "prefix"
            else:
                regex.append(".*" if i >= len(text) else "(.*/)?")
                kind = "regex"
            if first:
                kind = "suffix"
        elif ch in "*?":
            regex.append("[^/]*" if ch == "*" else "[^/]")
            kind = "regex"
        elif ch in _ESCAPED:
            regex.append("\\" + ch)
        elif ch == "\\":
            if i < len(text):
                regex.append("\\" + text[i])
                i += 1
                kind = "regex"
            else:
                regex.append("\\\\")
        elif ch in "[]":
            regex.append(ch)
            kind = "regex"
        else:
            regex.append(ch)
    return _finish(text, exclusion, regex, kind)


def _finish(text: str, exclusion: bool, regex: list[str], kind: str) -> Pattern:
    if kind != "regex":
        return Pattern(text, exclusion, None, kind)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compiled = re.compile("".join(regex) + r"\Z", re.DOTALL)
    except re.error:
        raise IgnorePatternError("syntax error in pattern") from None
    return Pattern(text, exclusion, compiled, kind)


class DockerIgnore:
    """A compiled ignore list. ``matches(path)`` is True when the path is excluded."""

    def __init__(self, patterns: Iterable[str] = ()) -> None:
        self.patterns: list[Pattern] = []
        for raw in patterns:
            p = raw.strip()
            if not p:
                continue
            p = go_clean(p)
            exclusion = p.startswith("!")
            if exclusion:
                if len(p) == 1:
                    raise IgnorePatternError('illegal exclusion pattern: "!"')
                p = p[1:]
            _check_syntax(p)
            self.patterns.append(compile_pattern(p, exclusion))
        self.has_exclusions = any(p.exclusion for p in self.patterns)
        self._prefix_only = not any(
            set(p.text) & _WILDCARDS for p in self.patterns if p.exclusion)

    @classmethod
    def from_text(cls, text: str) -> DockerIgnore:
        return cls(read_patterns(text))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> DockerIgnore:
        """Read an ignore file; a missing file means nothing is ignored."""
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as f:
                return cls.from_text(f.read())
        except FileNotFoundError:
            return cls()

    @classmethod
    def for_build(cls, context_dir: str | os.PathLike[str],
                  dockerfile: str | os.PathLike[str] | None = None) -> DockerIgnore:
        """``<Dockerfile>.dockerignore`` beside the Dockerfile wins over ``.dockerignore``."""
        if dockerfile is not None:
            specific = os.fspath(dockerfile) + IGNORE_FILE
            if os.path.isfile(specific):
                return cls.from_file(specific)
        return cls.from_file(os.path.join(context_dir, IGNORE_FILE))

    def matches(self, relpath: str) -> bool:
        """Whether ``relpath`` (slash-separated, relative to the context) is excluded."""
        path = go_clean(relpath).lstrip("/") or "."
        if path == ".":
            return False
        parents = _parents(path)
        matched = False
        for p in self.patterns:
            if p.exclusion != matched:
                continue
            if p.match(path) or any(p.match(d) for d in parents):
                matched = not p.exclusion
        return matched

    def _matches_with(self, path: str, parent: Sequence[bool] | None) -> tuple[bool, list[bool]]:
        """MatchesUsingParentResults: reuse each pattern's verdict on the parent dir."""
        info: list[bool] = []
        matched = False
        for i, p in enumerate(self.patterns):
            hit = bool(parent and parent[i])
            if not hit:
                if p.exclusion != matched:
                    info.append(False)
                    continue
                hit = p.match(path)
            info.append(hit)
            if hit:
                matched = not p.exclusion
        return matched, info

    def _descend_excluded(self, path: str) -> bool:
        if not self.has_exclusions:
            return False
        if not self._prefix_only:
            return True
        prefix = path + "/"
        return any((p.text + "/").startswith(prefix) for p in self.patterns if p.exclusion)

    def walk(self, context_dir: str | os.PathLike[str]) -> Iterator[str]:
        """Included entries (files, dirs, symlinks…), parents first, in lexical order.

        Sockets are skipped (they cannot be sent). Symlinks are yielded, never followed.
        """
        root = os.fspath(context_dir)
        yield from self._walk(root, "", None)

    def _walk(self, root: str, rel: str, parent: list[bool] | None) -> Iterator[str]:
        with os.scandir(os.path.join(root, rel) if rel else root) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            path = f"{rel}/{entry.name}" if rel else entry.name
            mode = entry.stat(follow_symlinks=False).st_mode
            if stat.S_ISSOCK(mode):
                continue
            excluded, info = self._matches_with(path, parent)
            is_dir = stat.S_ISDIR(mode)
            if not excluded:
                yield path
            if is_dir and (not excluded or self._descend_excluded(path)):
                yield from self._walk(root, path, info)


def _parents(path: str) -> list[str]:
    parts = path.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]
