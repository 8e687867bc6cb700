"""Typed Dockerfile instructions, built from raw lines with BuildKit's argument rules.

Each instruction is a frozen dataclass carrying its source range (``line``..``end_line``)
and the logical line as written (``original``). Values here are *unexpanded*; see
``dockerfile.resolve`` for the expanded form the planner consumes. Argument-count and
flag errors use BuildKit's wording, e.g. ``WORKDIR requires exactly one argument``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

from .errors import DockerfileParseError
from .flags import Flags, FlagType, Mount, parse_duration, parse_mount, with_suggestion
from .syntax import Heredoc, RawInstruction, node_from_line, parse_heredoc

_STAGE_NAME = re.compile(r"^[a-z][a-z0-9-_.]*$")
MIN_HEALTH_INTERVAL_NS = 1_000_000


@dataclass(frozen=True)
class Instruction:
    """Common part: where it came from. ``keyword`` is the upper-case command."""

    keyword: ClassVar[str] = ""
    expands: ClassVar[bool] = False
    line: int = field(default=0, kw_only=True)
    end_line: int = field(default=0, kw_only=True)
    original: str = field(default="", kw_only=True)


@dataclass(frozen=True)
class KeyValue:
    key: str
    value: str
    legacy: bool = False


@dataclass(frozen=True)
class ArgDef:
    key: str
    value: str | None = None


@dataclass(frozen=True)
class From(Instruction):
    keyword: ClassVar[str] = "FROM"
    image: str
    name: str | None = None
    platform: str | None = None


@dataclass(frozen=True)
class CommandLine(Instruction):
    """RUN/CMD/ENTRYPOINT: ``shell_form`` means the current SHELL is prepended."""

    command: tuple[str, ...] = ()
    shell_form: bool = True


@dataclass(frozen=True)
class Run(CommandLine):
    keyword: ClassVar[str] = "RUN"
    expands: ClassVar[bool] = True
    heredocs: tuple[Heredoc, ...] = ()
    mounts: tuple[Mount, ...] = ()
    mount_specs: tuple[str, ...] = ()
    network: str | None = None
    security: str | None = None


@dataclass(frozen=True)
class Cmd(CommandLine):
    keyword: ClassVar[str] = "CMD"


@dataclass(frozen=True)
class Entrypoint(CommandLine):
    keyword: ClassVar[str] = "ENTRYPOINT"


@dataclass(frozen=True)
class Env(Instruction):
    keyword: ClassVar[str] = "ENV"
    expands: ClassVar[bool] = True
    pairs: tuple[KeyValue, ...] = ()


@dataclass(frozen=True)
class Label(Instruction):
    keyword: ClassVar[str] = "LABEL"
    expands: ClassVar[bool] = True
    pairs: tuple[KeyValue, ...] = ()


@dataclass(frozen=True)
class Arg(Instruction):
    keyword: ClassVar[str] = "ARG"
    expands: ClassVar[bool] = True
    args: tuple[ArgDef, ...] = ()


@dataclass(frozen=True)
class Expose(Instruction):
    keyword: ClassVar[str] = "EXPOSE"
    expands: ClassVar[bool] = True
    ports: tuple[str, ...] = ()


@dataclass(frozen=True)
class Volume(Instruction):
    keyword: ClassVar[str] = "VOLUME"
    expands: ClassVar[bool] = True
    paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class User(Instruction):
    keyword: ClassVar[str] = "USER"
    expands: ClassVar[bool] = True
    user: str = ""


@dataclass(frozen=True)
class Workdir(Instruction):
    keyword: ClassVar[str] = "WORKDIR"
    expands: ClassVar[bool] = True
    path: str = ""


@dataclass(frozen=True)
class Shell(Instruction):
    keyword: ClassVar[str] = "SHELL"
    shell: tuple[str, ...] = ()


@dataclass(frozen=True)
class StopSignal(Instruction):
    keyword: ClassVar[str] = "STOPSIGNAL"
    expands: ClassVar[bool] = True
    signal: str = ""


@dataclass(frozen=True)
class Healthcheck(Instruction):
    """``test`` as in the image config: ("NONE",), ("CMD", …) or ("CMD-SHELL", cmd).

    Durations are nanoseconds (0 = inherit the default), like the Engine API fields.
    """

    keyword: ClassVar[str] = "HEALTHCHECK"
    test: tuple[str, ...] = ()
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0


@dataclass(frozen=True)
class Onbuild(Instruction):
    """A trigger stored verbatim in the image; ``trigger`` is its instruction keyword."""

    keyword: ClassVar[str] = "ONBUILD"
    expression: str = ""
    trigger: str = ""


@dataclass(frozen=True)
class SourceContent:
    """An inline COPY/ADD source from a heredoc: file ``path`` with ``data``."""

    path: str
    data: str
    expand: bool


@dataclass(frozen=True)
class CopyLike(Instruction):
    expands: ClassVar[bool] = True
    sources: tuple[str, ...] = ()
    dest: str = ""
    contents: tuple[SourceContent, ...] = ()
    chown: str = ""
    chmod: str = ""
    link: bool = False
    excludes: tuple[str, ...] = ()
    json: bool = False


@dataclass(frozen=True)
class Copy(CopyLike):
    keyword: ClassVar[str] = "COPY"
    from_: str = ""
    parents: bool = False


@dataclass(frozen=True)
class Add(CopyLike):
    keyword: ClassVar[str] = "ADD"
    checksum: str = ""
    keep_git_dir: bool = False


@dataclass(frozen=True)
class Maintainer(Instruction):
    keyword: ClassVar[str] = "MAINTAINER"
    name: str = ""


DEFAULT_SHELL = ("/bin/sh", "-c")
HEREDOC_PIPES = "/dev/pipes/"


@dataclass(frozen=True)
class InlineFile:
    """A file the executor must mount read-only before running (a heredoc script)."""

    path: str
    data: str
    mode: int = 0o755


def command_argv(inst: CommandLine, shell: tuple[str, ...] = DEFAULT_SHELL
                 ) -> tuple[tuple[str, ...], tuple[InlineFile, ...]]:
    """The argv a RUN/CMD/ENTRYPOINT executes, with BuildKit's heredoc rules for RUN.

    ``RUN <<EOF`` alone runs the body with the shell (or, if it starts with ``#!``, as a
    script mounted under /dev/pipes/); any other heredoc line is passed to the shell with
    the bodies re-attached, so the shell itself handles them.
    """
    args: tuple[str, ...] = inst.command
    files: tuple[InlineFile, ...] = ()
    docs = inst.heredocs if isinstance(inst, Run) else ()
    if docs and len(args) == 1 and inst.shell_form:
        whole = parse_heredoc(args[0])
        if whole is not None and docs[0].data.startswith("#!"):
            files = (InlineFile(HEREDOC_PIPES + docs[0].name, docs[0].data),)
            args = (HEREDOC_PIPES + docs[0].name,)
        elif whole is not None:
            args = (docs[0].data,)
        else:
            args = (args[0] + "".join(f"\n{d.content}{d.name}" for d in docs),)
    if inst.shell_form:
        args = (*shell, " ".join(args))
    return args, files


# --- raw → typed ------------------------------------------------------------------------------

def _exactly_one(raw: RawInstruction) -> str:
    if len(raw.args) != 1:
        raise DockerfileParseError(f"{raw.cmd.upper()} requires exactly one argument")
    return raw.args[0]


def _at_least_one(raw: RawInstruction) -> None:
    if not raw.args:
        raise DockerfileParseError(f"{raw.cmd.upper()} requires at least one argument")


def _flags(raw: RawInstruction, spec: dict[str, FlagType] | None = None) -> Flags:
    return Flags(dict(spec or {})).parse(raw.flags)


def _from(raw: RawInstruction) -> From:
    flags = _flags(raw, {"platform": "string"})
    args = raw.args
    if not (len(args) == 1 or (len(args) == 3 and args[1].lower() == "as")):
        raise DockerfileParseError("FROM requires either one or three arguments")
    name = None
    if len(args) == 3:
        name = args[2].lower()
        if not _STAGE_NAME.match(name):
            raise DockerfileParseError(
                f'invalid name for build stage: "{args[2]}", '
                "name can't start with a number or contain symbols")
    return From(image=args[0], name=name, platform=flags.string("platform") or None)


def _command(raw: RawInstruction) -> tuple[str, ...]:
    return tuple(raw.args)


def _run(raw: RawInstruction) -> Run:
    flags = _flags(raw, {"mount": "strings", "network": "string", "security": "string"})
    specs = flags.strings("mount")
    _check_mount_from(specs)
    mounts = tuple(m for m in map(_parse_mount_early, specs) if m is not None)
    network = flags.string("network") or None
    if network is not None and network not in ("default", "none", "host"):
        raise DockerfileParseError(f"unsupported network mode {network!r}".replace("'", '"'))
    security = flags.string("security") or None
    if security is not None and security not in ("sandbox", "insecure"):
        raise DockerfileParseError(f"unsupported security mode {security!r}".replace("'", '"'))
    return Run(command=_command(raw), shell_form=not raw.json, heredocs=tuple(raw.heredocs),
               mounts=mounts, mount_specs=tuple(specs), network=network, security=security)


def _parse_mount_early(spec: str) -> Mount | None:
    """Parse a mount before expansion; a spec whose ``$`` values only make sense expanded
    is deferred to resolution (None) instead of failing."""
    try:
        return parse_mount(spec, lambda value: value)
    except DockerfileParseError:
        if "$" in spec:
            return None
        raise


def _check_mount_from(specs: list[str]) -> None:
    for spec in specs:
        for item in spec.split(","):
            key, _, value = item.partition("=")
            idx = value.find("$")
            if key.strip().lower() == "from" and idx != -1 and idx != len(value) - 1:
                raise DockerfileParseError(
                    "'from' doesn't support variable expansion, define alias stage instead")


def _cmd(raw: RawInstruction) -> Cmd:
    _flags(raw)
    return Cmd(command=_command(raw), shell_form=not raw.json)


def _entrypoint(raw: RawInstruction) -> Entrypoint:
    _flags(raw)
    return Entrypoint(command=_command(raw), shell_form=not raw.json)


def _pairs(raw: RawInstruction) -> tuple[KeyValue, ...]:
    _flags(raw)
    if not raw.pairs:
        raise DockerfileParseError(f"{raw.cmd.upper()} requires at least one argument")
    for key, _, _ in raw.pairs:
        if not key:
            raise DockerfileParseError(f"{raw.cmd.upper()} names can not be blank")
    return tuple(KeyValue(k, v, legacy=not eq) for k, v, eq in raw.pairs)


def _arg(raw: RawInstruction) -> Arg:
    _flags(raw)
    _at_least_one(raw)
    defs = []
    for word in raw.args:
        key, eq, value = word.partition("=")
        defs.append(ArgDef(key, value if eq else None))
    return Arg(args=tuple(defs))


def _expose(raw: RawInstruction) -> Expose:
    _flags(raw)
    _at_least_one(raw)
    return Expose(ports=tuple(raw.args))


def _volume(raw: RawInstruction) -> Volume:
    _flags(raw)
    _at_least_one(raw)
    paths = tuple(path.strip() for path in raw.args)
    if "" in paths:
        raise DockerfileParseError("VOLUME specified can not be an empty string")
    return Volume(paths=paths)


def _shell(raw: RawInstruction) -> Shell:
    _flags(raw)
    _at_least_one(raw)
    if not raw.json:
        raise DockerfileParseError("SHELL requires the arguments to be in JSON form")
    return Shell(shell=tuple(raw.args))


def _healthcheck(raw: RawInstruction) -> Healthcheck:
    _at_least_one(raw)
    kind, args = raw.args[0].upper(), raw.args[1:]
    if kind == "NONE":
        if args:
            raise DockerfileParseError("HEALTHCHECK NONE takes no arguments")
        return Healthcheck(test=("NONE",))
    flags = _flags(raw, {"interval": "string", "timeout": "string", "start-period": "string",
                         "start-interval": "string", "retries": "string"})
    if kind != "CMD":
        raise DockerfileParseError(f'Unknown type "{kind}" in HEALTHCHECK (try CMD)')
    if not args:
        raise DockerfileParseError("Missing command after HEALTHCHECK CMD")
    test = ("CMD", *args) if raw.json else ("CMD-SHELL", *args)
    durations = {n: _interval(flags, n) for n in
                 ("interval", "timeout", "start-period", "start-interval")}
    return Healthcheck(test=test, interval=durations["interval"], timeout=durations["timeout"],
                       start_period=durations["start-period"],
                       start_interval=durations["start-interval"], retries=_retries(flags))


def _interval(flags: Flags, name: str) -> int:
    text = flags.string(name)
    if not text:
        return 0
    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise DockerfileParseError(str(exc)) from None
    if value == 0:
        return 0
    if value < MIN_HEALTH_INTERVAL_NS:
        raise DockerfileParseError(f'Interval "{name}" cannot be less than 1ms')
    return value


def _retries(flags: Flags) -> int:
    text = flags.string("retries")
    if not text:
        return 0
    if not re.fullmatch(r"[+-]?[0-9]+", text) or not -(2**31) <= int(text) < 2**31:
        reason = "invalid syntax" if not re.fullmatch(r"[+-]?[0-9]+", text) else "value out of range"
        raise DockerfileParseError(f'strconv.ParseInt: parsing "{text}": {reason}')
    if int(text) < 0:
        raise DockerfileParseError(f"--retries cannot be negative ({int(text)})")
    return int(text)


_ONBUILD_PREFIX = re.compile(r"^\s*ONBUILD\s*", re.IGNORECASE)


def _onbuild(raw: RawInstruction) -> Onbuild:
    _flags(raw)
    if raw.sub is None:
        raise DockerfileParseError("ONBUILD requires at least one argument")
    trigger = raw.sub.cmd.strip().upper()
    if trigger == "ONBUILD":
        raise DockerfileParseError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if trigger in ("MAINTAINER", "FROM"):
        raise DockerfileParseError(f"{trigger} isn't allowed as an ONBUILD trigger")
    return Onbuild(expression=_ONBUILD_PREFIX.sub("", raw.original, count=1), trigger=trigger)


def _sources(raw: RawInstruction) -> tuple[tuple[str, ...], str, tuple[SourceContent, ...]]:
    if len(raw.args) < 2:
        raise DockerfileParseError(
            f"{raw.cmd.upper()} requires at least two arguments, but only one was provided. "
            "Destination could not be determined.")
    dest = raw.args[-1]
    if not raw.json and parse_heredoc(dest) is not None:
        raise DockerfileParseError(f"{raw.cmd.upper()} cannot accept a heredoc as a destination")
    bodies = iter(raw.heredocs)  # bodies follow the line in the order the words appear
    paths: list[str] = []
    contents: list[SourceContent] = []
    for src in raw.args[:-1]:
        doc = parse_heredoc(src) if not raw.json else None
        if doc is not None:
            body = next(bodies, doc)
            contents.append(SourceContent(doc.name, body.data, doc.expand))
        else:
            paths.append(src)
    return tuple(paths), dest, tuple(contents)


_COPY_FLAGS: dict[str, FlagType] = {"from": "string", "chown": "string", "chmod": "string",
                                    "link": "bool", "parents": "bool", "exclude": "strings"}
_ADD_FLAGS: dict[str, FlagType] = {"chown": "string", "chmod": "string", "link": "bool",
                                   "keep-git-dir": "bool", "checksum": "string",
                                   "exclude": "strings"}


def _copy(raw: RawInstruction) -> Copy:
    flags = _flags(raw, _COPY_FLAGS)
    paths, dest, contents = _sources(raw)
    return Copy(sources=paths, dest=dest, contents=contents, chown=flags.string("chown"),
                chmod=flags.string("chmod"), link=flags.boolean("link"),
                excludes=tuple(flags.strings("exclude")), json=raw.json,
                from_=flags.string("from"), parents=flags.boolean("parents"))


def _add(raw: RawInstruction) -> Add:
    flags = _flags(raw, _ADD_FLAGS)
    paths, dest, contents = _sources(raw)
    return Add(sources=paths, dest=dest, contents=contents, chown=flags.string("chown"),
               chmod=flags.string("chmod"), link=flags.boolean("link"),
               excludes=tuple(flags.strings("exclude")), json=raw.json,
               checksum=flags.string("checksum"), keep_git_dir=flags.boolean("keep-git-dir"))


def _maintainer(raw: RawInstruction) -> Maintainer:
    _flags(raw)
    return Maintainer(name=_exactly_one(raw))


def _user(raw: RawInstruction) -> User:
    _flags(raw)
    return User(user=_exactly_one(raw))


def _workdir(raw: RawInstruction) -> Workdir:
    _flags(raw)
    return Workdir(path=_exactly_one(raw))


def _stopsignal(raw: RawInstruction) -> StopSignal:
    _flags(raw)
    return StopSignal(signal=_exactly_one(raw))


_BUILDERS: dict[str, Callable[[RawInstruction], Instruction]] = {
    "add": _add, "arg": _arg, "cmd": _cmd, "copy": _copy, "entrypoint": _entrypoint,
    "env": lambda raw: Env(pairs=_pairs(raw)), "expose": _expose, "from": _from,
    "healthcheck": _healthcheck, "label": lambda raw: Label(pairs=_pairs(raw)),
    "maintainer": _maintainer, "onbuild": _onbuild, "run": _run, "shell": _shell,
    "stopsignal": _stopsignal, "user": _user, "volume": _volume, "workdir": _workdir,
}
KEYWORDS = tuple(_BUILDERS)


def from_raw(raw: RawInstruction) -> Instruction:
    """Type one raw instruction; errors carry its line range and text."""
    build = _BUILDERS.get(raw.keyword)
    try:
        if build is None:
            raise DockerfileParseError(with_suggestion(
                f"unknown instruction: {raw.cmd}", raw.cmd, KEYWORDS, False))
        inst = build(raw)
    except DockerfileParseError as exc:
        raise exc.located(raw.start_line, raw.end_line, _column(raw, exc),
                          raw.original) from None
    return _with_location(inst, raw)


def _with_location(inst: Instruction, raw: RawInstruction) -> Instruction:
    object.__setattr__(inst, "line", raw.start_line)
    object.__setattr__(inst, "end_line", raw.end_line)
    object.__setattr__(inst, "original", raw.original)
    return inst


def _column(raw: RawInstruction, exc: DockerfileParseError) -> int:
    """1-based column of the offending flag or word in the logical line, else the command's."""
    for word in raw.flags:
        name = word[2:].partition("=")[0]
        if name and re.search(rf"\b{re.escape(name)}\b", exc.message):
            return raw.original.find(word) + 1
    for word in raw.args:
        if len(word) > 1 and re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", exc.message):
            idx = raw.original.find(word)
            if idx >= 0:
                return idx + 1
    return len(raw.original) - len(raw.original.lstrip()) + 1


def parse_trigger(onbuild: Onbuild, escape: str = "\\") -> Instruction:
    """Type an ONBUILD trigger expression (when the image is used as a base)."""
    raw = node_from_line(onbuild.expression, escape)
    raw.start_line, raw.end_line = onbuild.line, onbuild.end_line
    return from_raw(raw)
