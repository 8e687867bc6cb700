"""Dockerfile → stages, and stages → the resolved build the planner consumes.

``parse(text)`` is pure syntax: directives, stages, typed instructions (unexpanded),
warnings. ``resolve(dockerfile, …)`` applies BuildKit's semantics before anything runs:
global ARGs (before the first FROM) usable only in FROM lines unless re-declared,
predefined platform args, build-arg overrides, ENV/ARG scoping, per-instruction
variable expansion (ADD COPY ENV EXPOSE FROM LABEL STOPSIGNAL USER VOLUME WORKDIR
ARG and RUN --mount; never RUN/CMD/ENTRYPOINT text, which the shell expands), the
stage graph (FROM <stage>, COPY --from, RUN --mount from=), ``--target`` pruning,
and the errors: unknown target, bad stage index, cycles, duplicate stage names,
a FROM naming a later stage.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from ..errors import InvalidArgument
from ..oci import reference
from . import platforms
from .errors import DockerfileError, DockerfileParseError, DockerfileResolveError
from .expand import ExpansionError, Lexer
from .flags import Mount, parse_mount, with_defaults, with_suggestion
from .instructions import (
    Add,
    Arg,
    ArgDef,
    Cmd,
    Copy,
    CopyLike,
    Entrypoint,
    Env,
    Expose,
    From,
    Instruction,
    KeyValue,
    Label,
    Maintainer,
    Run,
    SourceContent,
    StopSignal,
    User,
    Volume,
    Workdir,
    from_raw,
)
from .platforms import Platform
from .ports import parse_ports
from .syntax import Warning, parse_lines

PROXY_ARGS = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
              "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy")
SCRATCH = "scratch"
ImageEnv = Callable[[str, Platform], Sequence[str]]


@dataclass(frozen=True)
class Stage:
    """One ``FROM`` and the instructions up to the next; ``name`` is lower-cased."""

    index: int
    source: From
    instructions: tuple[Instruction, ...]

    @property
    def name(self) -> str | None:
        return self.source.name


@dataclass(frozen=True)
class Dockerfile:
    source: str
    directives: Mapping[str, str]
    escape: str
    meta_args: tuple[Arg, ...]
    stages: tuple[Stage, ...]
    warnings: tuple[Warning, ...] = ()

    @property
    def checks(self) -> Checks:
        return parse_checks(self.directives.get("check"))

    def find(self, name: str) -> Stage | None:
        """Stage by name (case-insensitive, as BuildKit), else None."""
        for stage in self.stages:
            if stage.name is not None and stage.name == name.lower():
                return stage
        return None


@dataclass(frozen=True)
class Checks:
    """The ``# check=skip=<rules|all>;error=<bool>`` directive."""

    skip: frozenset[str] = frozenset()
    error: bool = False

    def keep(self, warning: Warning) -> bool:
        return "all" not in self.skip and warning.rule not in self.skip


def parse_checks(value: str | None) -> Checks:
    skip: set[str] = set()
    error = False
    for part in (value or "").split(";"):
        key, eq, val = part.strip().partition("=")
        if not key:
            continue
        if key == "skip" and eq:
            skip.update(r.strip() for r in val.split(",") if r.strip())
        elif key == "error" and val.lower() in ("true", "false"):
            error = val.lower() == "true"
        else:
            raise DockerfileParseError(f"invalid check directive: {value}")
    return Checks(frozenset(skip), error)


def parse(source: str | bytes) -> Dockerfile:
    """Parse a whole Dockerfile; raises DockerfileError (with location) on bad input."""
    if isinstance(source, bytes):
        source = source.decode("utf-8", errors="replace")
    if not source:
        raise DockerfileParseError("the Dockerfile cannot be empty")
    try:
        return _parse(source)
    except DockerfileError as exc:
        raise exc.with_source(source) from None


def _parse(source: str) -> Dockerfile:
    lines = parse_lines(source)
    meta: list[Arg] = []
    stages: list[tuple[From, list[Instruction]]] = []
    warnings = list(lines.warnings)
    for raw in lines.instructions:
        inst = from_raw(raw)
        warnings += _lint(inst, raw.cmd)
        if isinstance(inst, From):
            stages.append((inst, []))
        elif not stages and isinstance(inst, Arg):
            meta.append(inst)
        elif not stages:
            raise DockerfileParseError("no build stage in current context").located(
                inst.line, inst.end_line, 1, raw.original)
        else:
            stages[-1][1].append(inst)
    if not stages:
        raise DockerfileParseError("dockerfile contains no stages to build")
    checks = parse_checks(lines.directives.get("check"))
    warnings = [w for w in warnings if checks.keep(w)]
    built = tuple(Stage(i, f, tuple(body)) for i, (f, body) in enumerate(stages))
    return Dockerfile(source, dict(lines.directives), lines.escape, tuple(meta), built,
                      tuple(warnings))


def _lint(inst: Instruction, cmd: str) -> list[Warning]:
    """A few of BuildKit's build checks, recorded as data (never fatal)."""
    out = []
    if isinstance(inst, (Cmd, Entrypoint)) and inst.shell_form and inst.command:
        out.append(Warning("JSONArgsRecommended", "JSON arguments recommended for "
                           f"{inst.keyword} to prevent unintended behavior related to OS signals",
                           inst.line))
    if isinstance(inst, (Env, Label)) and any(p.legacy for p in inst.pairs):
        out.append(Warning("LegacyKeyValueFormat", f'"{inst.keyword} key=value" should be used '
                           f'instead of legacy "{inst.keyword} key value" format', inst.line))
    if isinstance(inst, Maintainer):
        out.append(Warning("MaintainerDeprecated",
                           "Maintainer instruction is deprecated in favor of using label",
                           inst.line))
    if cmd != cmd.upper() and cmd != cmd.lower():
        out.append(Warning("ConsistentInstructionCasing",
                           f"Command '{cmd}' should be consistently cased", inst.line))
    return out


# --- resolution ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    """An expanded instruction plus the environment (ENV + ARGs in scope) before it runs.

    ``env`` is what RUN sees (BuildKit adds ARG values to the build-time environment) and
    what expansion used; ``proxy_env`` holds predefined proxy args, passed to RUN only.
    """

    instruction: Instruction
    env: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ResolvedStage:
    index: int
    name: str | None
    base: str
    base_stage: int | None
    platform: Platform
    steps: tuple[Step, ...]
    deps: frozenset[int]
    images: frozenset[str]
    env: tuple[tuple[str, str], ...]
    config_env: tuple[tuple[str, str], ...]
    args: Mapping[str, str]
    proxy_env: Mapping[str, str] = field(default_factory=dict)

    @property
    def instructions(self) -> tuple[Instruction, ...]:
        return tuple(s.instruction for s in self.steps)


@dataclass(frozen=True)
class ResolvedBuild:
    """Only the stages ``target`` needs, parents before children."""

    stages: tuple[ResolvedStage, ...]
    target: int
    meta_args: Mapping[str, str]
    warnings: tuple[Warning, ...]
    unused_build_args: tuple[str, ...]

    def stage(self, index: int) -> ResolvedStage:
        for stage in self.stages:
            if stage.index == index:
                return stage
        raise KeyError(index)

    @property
    def target_stage(self) -> ResolvedStage:
        return self.stage(self.target)


def resolve(
    dockerfile: Dockerfile,
    build_args: Mapping[str, str] | None = None,
    target: str | None = None,
    target_platform: Platform | str | None = None,
    build_platform: Platform | str | None = None,
    image_env: ImageEnv | None = None,
) -> ResolvedBuild:
    """Everything a planner needs, checked before anything runs.

    ``image_env`` (optional) returns a base image's config ``Env`` (``K=V`` strings), so
    expansions may use variables the base image defines, as BuildKit's do.
    """
    try:
        return _Resolver(dockerfile, dict(build_args or {}), _platform(build_platform),
                         _platform(target_platform, build_platform), image_env).run(target)
    except DockerfileError as exc:
        raise exc.with_source(dockerfile.source) from None


@dataclass(frozen=True)
class PlannedStage:
    """A stage the target needs, as known before any base image is looked at."""

    index: int
    base: str
    base_stage: int | None
    steps: int
    platform_error: DockerfileError | None = None
    """Its ``FROM --platform`` did not parse: the classic builder says so when it reaches
    that ``FROM`` step, in the build's stream (the base is planned as the target platform's)."""


def plan(
    dockerfile: Dockerfile,
    build_args: Mapping[str, str] | None = None,
    target: str | None = None,
    target_platform: Platform | str | None = None,
) -> tuple[PlannedStage, ...]:
    """The stages :func:`resolve` would return, in its order, without expanding their
    instructions: a builder numbers its steps (``Step N/M``) with it before it pulls a base
    image whose environment :func:`resolve` needs."""
    resolver = _Resolver(dockerfile, dict(build_args or {}), _platform(None),
                         _platform(target_platform), None)
    resolver.platform_errors = {}
    try:
        order = resolver.graph(target)[0]
    except DockerfileError as exc:
        raise exc.with_source(dockerfile.source) from None
    errors = {i: exc.with_source(dockerfile.source) for i, exc in resolver.platform_errors.items()}
    return tuple(PlannedStage(i, *resolver.bases[i][:2], len(dockerfile.stages[i].instructions),
                              errors.get(i)) for i in order)


def _platform(value: Platform | str | None, fallback: Platform | str | None = None) -> Platform:
    if value is None:
        return _platform(fallback) if fallback is not None else platforms.host()
    if isinstance(value, Platform):
        return value
    try:
        return platforms.parse(value)
    except InvalidArgument as exc:
        raise DockerfileResolveError(f"failed to parse platform {value}: {exc}") from None


@dataclass
class _State:
    """The mutable per-stage state while expanding; becomes a ResolvedStage."""

    env: dict[str, str] = field(default_factory=dict)
    config_env: dict[str, str] = field(default_factory=dict)
    args: dict[str, str] = field(default_factory=dict)


class _Resolver:
    def __init__(self, df: Dockerfile, build_args: dict[str, str], build: Platform,
                 target: Platform, image_env: ImageEnv | None) -> None:
        self.df = df
        self.build_args = build_args
        self.platform_args = {**platforms.args(build, "BUILD"), **platforms.args(target, "TARGET")}
        self.target_platform = target
        self.image_env = image_env
        self.lexer = Lexer(escape=df.escape)
        self.warnings: list[Warning] = list(df.warnings)
        self.used_args: set[str] = set()
        self.declared: set[str] = set()
        self.meta = self._meta_args()
        self.stage_declared: dict[int, set[str]] = {}
        self.bases: dict[int, tuple[str, int | None, Platform]] = {}
        self.states: dict[int, _State] = {}
        self.platform_errors: dict[int, DockerfileError] | None = None  # kept, not raised (plan)

    # global scope

    def _meta_args(self) -> dict[str, str]:
        """Global ARGs: build-arg overrides, else defaults expanded in global scope."""
        values: dict[str, str] = {}
        self.meta_declared: dict[str, str | None] = {}
        for inst in self.df.meta_args:
            for d in inst.args:
                value = self._arg_value(d, {**self.platform_args, **values}, inst)
                self.meta_declared[d.key] = value
                self.declared.add(d.key)
                if value is not None:
                    values[d.key] = value
        return values

    def _arg_value(self, d: ArgDef, env: Mapping[str, str], inst: Instruction) -> str | None:
        if d.key in self.build_args:
            self.used_args.add(d.key)
            return self.build_args[d.key]
        if d.value is None:
            return None
        return self.expand(d.value, env, inst)

    def expand(self, word: str, env: Mapping[str, str], inst: Instruction,
               lexer: Lexer | None = None) -> str:
        try:
            text, _, _, unmatched = (lexer or self.lexer).run(word, env)
        except ExpansionError as exc:
            raise DockerfileResolveError(exc.message).located(
                inst.line, inst.end_line, 1, inst.original) from None
        for name in sorted(unmatched - self.declared):
            self._undefined(name, env, inst)
        return text

    def _undefined(self, name: str, env: Mapping[str, str], inst: Instruction) -> None:
        if not name or not (name[0].isalpha() or name[0] == "_"):
            return
        if isinstance(inst, From):
            message = with_suggestion(f"FROM argument '{name}' is not declared", name, env, True)
            self.warnings.append(Warning("UndefinedArgInFrom", message, inst.line))
            return
        message = with_suggestion(f"Usage of undefined variable '${name}'", name, env, True)
        message = message.replace("(did you mean ", "(did you mean $")
        self.warnings.append(Warning("UndefinedVar", message, inst.line))

    # the graph

    def run(self, target: str | None) -> ResolvedBuild:
        order, deps, target_index = self.graph(target)
        resolved = [self._stage(self.df.stages[i], deps[i]) for i in order]
        unused = tuple(sorted(k for k in self.build_args
                              if k not in self.used_args and k not in PROXY_ARGS))
        return ResolvedBuild(tuple(resolved), target_index, dict(self.meta),
                             self._checked_warnings(), unused)

    def graph(self, target: str | None) -> tuple[list[int], dict[int, set[int]], int]:
        """The stages ``target`` needs in build order, each stage's dependencies, the target:
        FROM lines and ``--from`` values only, so no base image is looked at."""
        self._check_names()
        for stage in self.df.stages:
            self.bases[stage.index] = self._base(stage)
        deps = {s.index: self._deps(s) for s in self.df.stages}
        target_index = self._target(target)
        return self._order(target_index, deps), deps, target_index

    def _checked_warnings(self) -> tuple[Warning, ...]:
        """Apply ``# check=``: drop skipped rules; with ``error=true`` any left is fatal."""
        checks = self.df.checks
        kept = tuple(w for w in self.warnings if checks.keep(w))
        if checks.error and kept:
            rules = ", ".join(sorted({w.rule for w in kept}))
            first = min(w.line for w in kept)
            raise DockerfileResolveError(f"lint violation found for rules: {rules}").located(first)
        return kept

    def _check_names(self) -> None:
        seen: set[str] = set()
        for stage in self.df.stages:
            if stage.name is None:
                continue
            if stage.name in seen:
                f = stage.source
                raise DockerfileResolveError(
                    f'duplicate stage name "{stage.name}", stage names should be unique'
                ).located(f.line, f.end_line, 1, f.original)
            seen.add(stage.name)

    def _base(self, stage: Stage) -> tuple[str, int | None, Platform]:
        f = stage.source
        env = {**self.platform_args, **self.meta}
        self.declared = set(self.meta_declared)
        name = self.expand(f.image, env, f)
        if not name:
            raise DockerfileResolveError(f"base name ({f.image}) should not be blank").located(
                f.line, f.end_line, 1, f.original)
        platform = self.target_platform
        if f.platform:
            try:
                platform = _platform(self.expand(f.platform, env, f))
            except DockerfileResolveError as exc:
                located = exc.located(f.line, f.end_line, 1, f.original)
                if self.platform_errors is None:
                    raise located from None
                self.platform_errors[stage.index] = located
        found = self.df.find(name)
        if found is not None and found.index < stage.index:
            return name, found.index, platform
        if found is not None and found.index > stage.index:
            raise DockerfileResolveError(
                f'FROM {name}: stage "{found.name}" is defined later in the Dockerfile '
                f"(line {found.source.line}); a stage can only build on earlier stages"
            ).located(f.line, f.end_line, 1, f.original)
        if name.lower() != SCRATCH:
            self._check_image(name, f)
        return name, None, platform

    def _check_image(self, name: str, inst: Instruction) -> None:
        try:
            reference.parse(name)
        except InvalidArgument as exc:
            raise DockerfileResolveError(f'failed to parse stage name "{name}": {exc}').located(
                inst.line, inst.end_line, 1, inst.original) from None

    def _ref(self, value: str, inst: Instruction) -> int | None:
        """A --from / from= value as a stage index, or None for an image."""
        if value.isdigit() or (value.startswith("-") and value[1:].isdigit()):
            index = int(value)
            if not 0 <= index < len(self.df.stages):
                raise DockerfileResolveError(f"invalid stage index {index}").located(
                    inst.line, inst.end_line, 1, inst.original)
            return index
        found = self.df.find(value)
        if found is not None:
            return found.index
        self._check_image(value, inst)
        names = [s.name for s in self.df.stages if s.name]
        hint = with_suggestion("", value, names, False)
        if hint:
            self.warnings.append(Warning(
                "UnknownStageRef", f"no stage named '{value}', using it as an image{hint}",
                inst.line))
        return None

    def _refs(self, stage: Stage) -> list[tuple[str, Instruction]]:
        out: list[tuple[str, Instruction]] = []
        for inst in stage.instructions:
            if isinstance(inst, Copy) and inst.from_:
                out.append((inst.from_, inst))
            if isinstance(inst, Run):
                out += [(m.from_, inst) for m in inst.mounts if m.from_]
        return out

    def _deps(self, stage: Stage) -> set[int]:
        deps: set[int] = set()
        base = self.bases[stage.index][1]
        if base is not None:
            deps.add(base)
        for value, inst in self._refs(stage):
            index = self._ref(value, inst)
            if index is not None:
                deps.add(index)
        return deps

    def _target(self, target: str | None) -> int:
        if target is None or target == "":
            return len(self.df.stages) - 1
        found = self.df.find(target)
        if found is None:
            raise DockerfileResolveError(f"failed to reach build target {target} in Dockerfile")
        return found.index

    def _order(self, target: int, deps: Mapping[int, set[int]]) -> list[int]:
        """Stages the target needs, dependencies first; a cycle is an error."""
        order: list[int] = []
        state: dict[int, int] = {}

        def visit(i: int) -> None:
            if state.get(i) == 2:
                return
            if state.get(i) == 1:
                stage = self.df.stages[i]
                raise DockerfileResolveError(
                    f"circular dependency detected on stage: {stage.name or i}").located(
                    stage.source.line, stage.source.end_line, 1, stage.source.original)
            state[i] = 1
            for dep in sorted(deps[i]):
                visit(dep)
            state[i] = 2
            order.append(i)

        visit(target)
        return order

    # per stage

    def _stage(self, stage: Stage, deps: set[int]) -> ResolvedStage:
        base, base_stage, platform = self.bases[stage.index]
        st = self._initial_state(base, base_stage, platform)
        steps = [self._step(inst, st) for inst in stage.instructions]
        self.states[stage.index] = st
        self.stage_declared[stage.index] = set(self.declared)
        images = {v for v, inst in self._refs(stage) if self.df.find(v) is None
                  and not v.lstrip("-").isdigit()}
        proxies = {k: v for k, v in self.build_args.items() if k in PROXY_ARGS}
        return ResolvedStage(
            stage.index, stage.name, base, base_stage, platform, tuple(steps),
            frozenset(deps), frozenset(images), tuple(st.env.items()),
            tuple(st.config_env.items()), dict(st.args), proxies)

    def _initial_state(self, base: str, base_stage: int | None, platform: Platform) -> _State:
        self.declared = set(self.stage_declared.get(base_stage, ())) if base_stage is not None \
            else set()
        if base_stage is not None:
            parent = self.states[base_stage]
            return _State(dict(parent.env), dict(parent.config_env), dict(parent.args))
        env: dict[str, str] = {}
        if self.image_env is not None and base.lower() != SCRATCH:
            for item in self.image_env(base, platform):
                key, _, value = item.partition("=")
                env[key] = value
        return _State(dict(env), dict(env), {})

    def _step(self, inst: Instruction, st: _State) -> Step:
        env = tuple(st.env.items())
        expander = _EXPANDERS.get(type(inst))
        if expander is not None:
            inst = expander(self, inst, st)
        return Step(inst, env)

    def _arg(self, inst: Arg, st: _State) -> Instruction:
        defs = []
        for d in inst.args:
            self.declared.add(d.key)
            value = self._arg_value(d, st.env, inst) if (
                d.key in self.build_args or d.value is not None) else None
            if value is None and d.value is None and d.key not in self.build_args:
                value = self.meta.get(d.key, self.platform_args.get(d.key))
            if value is not None:
                st.env[d.key] = value
                st.args[d.key] = value
            defs.append(ArgDef(d.key, value))
        return replace(inst, args=tuple(defs))

    def _env(self, inst: Env, st: _State) -> Instruction:
        pairs = self._pairs(inst.pairs, st, inst)
        for p in pairs:
            st.env[p.key] = p.value
            st.config_env[p.key] = p.value
        return replace(inst, pairs=pairs)

    def _pairs(self, pairs: tuple[KeyValue, ...], st: _State,
               inst: Instruction) -> tuple[KeyValue, ...]:
        return tuple(KeyValue(self.expand(p.key, st.env, inst),
                              self.expand(p.value, st.env, inst), p.legacy) for p in pairs)

    def _label(self, inst: Label, st: _State) -> Instruction:
        return replace(inst, pairs=self._pairs(inst.pairs, st, inst))

    def _expose(self, inst: Expose, st: _State) -> Instruction:
        ports: list[str] = []
        for word in inst.ports:
            try:
                ports += self.lexer.process_words(word, st.env)
            except ExpansionError as exc:
                raise DockerfileResolveError(exc.message).located(inst.line) from None
        try:
            keys = parse_ports(ports)
        except ValueError as exc:
            raise DockerfileResolveError(str(exc)).located(
                inst.line, inst.end_line, 1, inst.original) from None
        return replace(inst, ports=tuple(keys))

    def _user(self, inst: User, st: _State) -> Instruction:
        return replace(inst, user=self.expand(inst.user, st.env, inst))

    def _workdir(self, inst: Workdir, st: _State) -> Instruction:
        return replace(inst, path=self.expand(inst.path, st.env, inst))

    def _stopsignal(self, inst: StopSignal, st: _State) -> Instruction:
        """Expanded alone: the signal is read when the step runs (``steps.dispatch_check``),
        where the classic builder's dispatcher reads it."""
        return replace(inst, signal=self.expand(inst.signal, st.env, inst))

    def _volume(self, inst: Volume, st: _State) -> Instruction:
        return replace(inst, paths=tuple(self.expand(p, st.env, inst) for p in inst.paths))

    def _copy(self, inst: CopyLike, st: _State) -> Instruction:
        def ex(word: str) -> str:
            return self.expand(word, st.env, inst)

        raw = Lexer(skip_quotes=True)
        contents = tuple(
            SourceContent(c.path, self.expand(c.data, st.env, inst, raw) if c.expand
                          else c.data, c.expand) for c in inst.contents)
        out = replace(inst, sources=tuple(ex(s) for s in inst.sources), dest=ex(inst.dest),
                      contents=contents, chown=ex(inst.chown), chmod=ex(inst.chmod),
                      excludes=tuple(ex(e) for e in inst.excludes))
        if isinstance(out, Add):
            out = replace(out, checksum=ex(out.checksum))
        return out

    def _run(self, inst: Run, st: _State) -> Instruction:
        mounts: list[Mount] = []
        for spec in inst.mount_specs:
            try:
                parsed = parse_mount(spec, lambda v: self.expand(v, st.env, inst))
            except DockerfileParseError as exc:
                raise DockerfileResolveError(exc.message).located(
                    inst.line, inst.end_line, 1, inst.original) from None
            mounts.append(with_defaults(parsed))
        return replace(inst, mounts=tuple(mounts))


_EXPANDERS: dict[type, Callable[[_Resolver, Instruction, _State], Instruction]] = {
    Arg: _Resolver._arg, Env: _Resolver._env, Label: _Resolver._label,  # type: ignore[dict-item]
    Expose: _Resolver._expose, User: _Resolver._user,  # type: ignore[dict-item]
    Workdir: _Resolver._workdir, StopSignal: _Resolver._stopsignal,  # type: ignore[dict-item]
    Volume: _Resolver._volume, Copy: _Resolver._copy, Add: _Resolver._copy,  # type: ignore[dict-item]
    Run: _Resolver._run,  # type: ignore[dict-item]
}


def parse_and_resolve(source: str | bytes, **kwargs: object) -> ResolvedBuild:
    """Convenience for callers and tests: ``resolve(parse(source), **kwargs)``."""
    return resolve(parse(source), **kwargs)  # type: ignore[arg-type]
