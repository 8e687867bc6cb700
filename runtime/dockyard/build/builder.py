"""``engine.builder``: ``docker build`` (the classic builder's output and images) on dockyard.

A build is a :class:`BuildJob`: the uploaded context unpacked, the Dockerfile parsed and
resolved (stages the target needs, build args, base images — every error before anything
runs), then each stage executed in its own thread as soon as the stages it depends on are done,
so independent stages build concurrently. The stream still reads like the classic builder's —
``Step N/M``, `` ---> Running in``, RUN output live, `` ---> Using cache`` — because each
stage's messages are queued and written in stage order.

A base image that is not in the store (or every one, with ``pull``) is pulled while the build
is resolved, in a thread of its own, and its progress messages go where dockerd puts them:
after the ``Step N/M : FROM`` line of the stage that uses it (or the step naming it in
``--from``). The first stage's pull streams live; a later stage's is kept and written with
that stage's output, as the rest of a concurrent stage's output is. An image a base's ONBUILD
trigger names is seen only when the trigger runs: it is pulled then, into the stage's output.

On disk (under the data root)::

    build/cache.db          the cache index (:mod:`.cache`)
    build/tmp/              contexts and scratch files of running builds (emptied on start)
    build/mounts/<id>/      RUN --mount=type=cache directories
"""

from __future__ import annotations

import hashlib
import os
import queue
import re
import shutil
import threading
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ..errors import DockyardError, InvalidArgument, NotFound
from ..filters import Filters, check_keys
from ..oci import reference
from . import remote
from .cache import BuildCache
from .cachefrom import CacheSources
from .context import BuildContext
from .dockerfile import Dockerfile, PlannedStage, ResolvedBuild, ResolvedStage, parse, plan, resolve
from .errors import BuildError, DockerfileParseError
from .expand import Lexer
from .flags import parse_duration
from .imageconfig import ImageConfig
from .instructions import Arg, Cmd, CopyLike, Expose, Instruction, KeyValue, Label, Run
from .platforms import Platform
from .steps import StageState, StepRunner, dispatch_check, temp_dir

if TYPE_CHECKING:
    from ..containers.runtime import Runtime
    from ..engine import Engine
    from .executor import DaemonDefaults, RunOp

_DONE = object()


@dataclass
class BuildOptions:
    """The ``POST /build`` parameters the builder uses."""

    tags: list[str] = field(default_factory=list)
    dockerfile: str = "Dockerfile"
    build_args: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    nocache: bool = False
    pull: bool = False
    target: str | None = None
    network: str = "default"
    quiet: bool = False
    cache_from: list[str] = field(default_factory=list)
    platform: str | None = None
    secrets: dict[str, bytes] = field(default_factory=dict)
    rm: bool = True  # "Removing intermediate container" lines (the Engine API's default)
    force_rm: bool = False  # forcerm: a failed RUN's container removed (and its line) too
    registry_auth: dict[str, Any] = field(default_factory=dict)  # X-Registry-Config
    ulimits: list[dict[str, Any]] = field(default_factory=list)  # --ulimit: each RUN's own
    shm_size: int = 0  # --shm-size of each RUN's /dev/shm (0: the daemon's default)
    resources: dict[str, Any] = field(default_factory=dict)  # --memory, --cpu-*: HostConfig keys
    extra_hosts: list[str] = field(default_factory=list)  # --add-host: "name:ip", each RUN's
    cgroup_parent: str = ""  # --cgroup-parent: where each RUN's cgroup goes ("": the daemon's)


def short(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


class Builder:
    """One per engine; builds share the cache, the launcher and the image store."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = engine.store
        self.root = Path(engine.data_root) / "build"
        _unmount_leftovers(self.store.snapshots.root)
        shutil.rmtree(self.root / "tmp", ignore_errors=True)
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)
        self.cache = BuildCache(self.root)
        self._runtime: Runtime | None = None
        self._lock = threading.Lock()

    @property
    def runtime(self) -> Runtime:
        with self._lock:
            if self._runtime is None:
                from ..containers.runtime import Runtime

                self._runtime = Runtime()
            return self._runtime

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.close()
        self.cache.close()

    def build(self, stream: BinaryIO, options: BuildOptions) -> BuildStream:
        """The build's JSON messages; raises before the first one for bad input."""
        return BuildStream(BuildJob(self, options), stream)

    def prune(self, all: bool = True, filters: Filters | None = None,
              keep_storage: int = 0) -> dict[str, Any]:
        """``POST /build/prune`` as BuildKit prunes for dockerd 20.10 (:mod:`.prune`): the
        records its filters, ``all`` and ``keep-storage`` choose are forgotten and their
        intermediate images removed where nothing else needs them."""
        from .prune import prune

        until = check_prune_filters(filters or {})
        return prune(self, all, filters or {}, until, keep_storage)

    def disk_usage(self) -> list[dict[str, Any]]:
        from .prune import disk_usage

        return disk_usage(self)


PRUNE_FILTERS = ("until", "unused-for", "label", "label!",
                 "id", "parent", "type", "description", "inuse", "shared", "private")
_CACHE_FIELDS = ("id", "parent", "type", "description", "inuse", "shared", "private")
_ONE_VALUE = "filters expect only one value"


def check_prune_filters(filters: Filters) -> int | None:
    """A build cache prune's filters as dockerd 20.10 refuses them (its builder-next's
    toBuildkitPruneInfo), each behind "failed to prune build cache: ": the keys, ``until``
    beside its old name ``unused-for``, more than one value of a key, a value of ``until``
    that is no Go duration (its 500). The duration in nanoseconds, or None."""
    try:
        return _prune_until(filters)
    except DockyardError as exc:
        kind = InvalidArgument if isinstance(exc, InvalidArgument) else DockyardError
        raise kind(f"failed to prune build cache: {exc}") from None


def _prune_until(filters: Filters) -> int | None:
    check_keys(filters, PRUNE_FILTERS)
    if filters.get("until") and filters.get("unused-for"):
        raise InvalidArgument('conflicting filters: "until" and "unused-for"')
    key = "unused-for" if filters.get("unused-for") else "until"
    values = filters.get(key, [])
    if len(values) > 1:
        raise InvalidArgument(_ONE_VALUE)
    try:
        until = parse_duration(values[0]) if values else None
    except ValueError as exc:
        raise DockyardError(f"\"{key}\" filter expects a duration (e.g., '24h'): {exc}") from None
    if any(len(filters[k]) > 1 for k in _CACHE_FIELDS if k in filters):
        raise InvalidArgument(_ONE_VALUE)
    return until


class BuildStream:
    """The build's messages; :meth:`cancel` (a client that hung up) stops it from any thread,
    even while a RUN is silent, and :meth:`close` cancels and waits for the cleanup."""

    def __init__(self, job: BuildJob, body: BinaryIO) -> None:
        self.job = job
        self._messages = job.run(body)

    def __iter__(self) -> BuildStream:
        return self

    def __next__(self) -> dict[str, Any]:
        return next(self._messages)

    def cancel(self) -> None:
        self.job.cancel()

    def close(self) -> None:
        self.job.cancel()
        self._messages.close()


class BuildJob:
    """One build: context, resolution, stage threads, and the stream in stage order."""

    def __init__(self, builder: Builder, options: BuildOptions) -> None:
        self.builder = builder
        self.store = builder.store
        self.options = options
        self.network = "host" if options.network == "host" else "none"
        self.proxy_env = {k: v for k, v in options.build_args.items()
                          if k.lower().endswith("_proxy")}
        self.context = BuildContext(Path("/nonexistent"), owned=False)
        self.df: Dockerfile | None = None
        self.futures: dict[int, Future[str]] = {}
        self.bases: dict[str, str] = {}
        self.abort = threading.Event()
        self.running: dict[str, Any] = {}  # RUN containers now running, killed on cancel
        self.cache_sources = CacheSources(self.store, options.cache_from)
        self.downloads: dict[str, Path] = {}  # ADD <URL> files of this build
        self.plan: tuple[PlannedStage, ...] = ()
        self.pulled: dict[str, list[dict[str, Any]]] = {}  # pull messages not shown yet
        self.announced: int | None = None  # the stage whose FROM line the live pull printed
        self._live: Any = None  # where the first stage's pull writes (set while resolving)
        self._failed_pull = ""
        self._bases_lock = threading.Lock()
        self._pull_lock = threading.Lock()  # held for a whole pull: not the one cancel() takes
        self._downloads_lock = threading.Lock()

    # ---- set-up -----------------------------------------------------------------------------

    def run(self, stream: BinaryIO) -> Generator[dict[str, Any], None, None]:
        """A generator: nothing is read before the first ``next`` (the API feeds the body
        while the build consumes it)."""
        self.context = BuildContext.from_tar(stream, self.builder.root / "tmp")
        try:
            self._parse()
            yield from self._platform_error()
            build = yield from self._prepare()
        except BaseException:
            self.context.close()
            raise
        yield from self._stream(build)

    def _parse(self) -> None:
        text = self.context.read_dockerfile(self.options.dockerfile)
        self.context.apply_dockerignore()
        try:
            self.df = parse(text)
        except DockerfileParseError as exc:
            raise classic_parse_error(exc) from None
        self.plan = plan(self.df, self.options.build_args, self.options.target,
                         target_platform=self.options.platform)

    def _platform_error(self) -> Iterator[dict[str, Any]]:
        """A ``FROM --platform`` that does not parse, as the classic builder meets it: the
        first stage's after its ``Step 1/N : FROM`` line, in the stream (a later stage's still
        before anything runs, where dockerd would build the stages before it first)."""
        failing = next((p for p in self.plan if p.platform_error is not None), None)
        if failing is None or failing.platform_error is None:
            return
        if failing is self.plan[0] and not self.options.quiet:
            yield self._from_line(failing)
        raise failing.platform_error

    def _prepare(self) -> Generator[dict[str, Any], None, ResolvedBuild]:
        """Resolve and check the build in a thread, streaming the first stage's pull as it
        runs; an error with nothing streamed yet still comes before the first message."""
        q: queue.Queue[Any] = queue.Queue()
        done: list[ResolvedBuild] = []
        self._live = q.put
        df = self.df
        assert df is not None

        def work() -> None:
            try:
                build = resolve(df, self.options.build_args, self.options.target,
                                target_platform=self.options.platform, image_env=self._image_env)
                self._precheck(build)
                done.append(build)
                q.put(_DONE)
            except BaseException as exc:  # noqa: BLE001 - raised by the generator below
                q.put(exc)

        thread = threading.Thread(target=work, name="build-resolve", daemon=True)
        thread.start()
        try:
            while (item := q.get()) is not _DONE:
                if isinstance(item, BaseException):
                    yield from self._failed_pull_output()
                    raise item
                if not self.options.quiet:
                    yield item
        except GeneratorExit:  # the client hung up mid-pull: stop it, wait for its cleanup
            self.cancel()
            raise
        finally:
            thread.join()
        return done[0]

    @property
    def total_steps(self) -> int:
        return sum(1 + p.steps for p in self.plan) + (1 if self.options.labels else 0)

    def _step_number(self, index: int) -> int:
        """The number of stage ``index``'s ``FROM`` step: one past the steps of the stages
        planned before it (the plan is known before any base image is pulled)."""
        number = 1
        for p in self.plan:
            if p.index == index:
                return number
            number += 1 + p.steps
        raise KeyError(index)

    def _from_line(self, stage: PlannedStage | ResolvedStage) -> dict[str, Any]:
        """``Step N/M : FROM …`` of ``stage``: the one place that writes it (a live pull
        writes it before the pull's messages, :meth:`_run_stage` otherwise)."""
        number = self._step_number(stage.index)
        return {"stream": f"Step {number}/{self.total_steps} : {stage_line(stage, self.df)}\n"}

    def _failed_pull_output(self) -> Iterator[dict[str, Any]]:
        """A kept (not live) pull that failed: its stage's FROM line and its messages, so
        the error reads as dockerd's does, after them."""
        name, self._failed_pull = self._failed_pull, ""
        kept = self.pulled.pop(name, None)
        if kept is None or self.options.quiet:
            return
        stage = next((p for p in self.plan if p.base_stage is None and p.base == name), None)
        if stage is not None:
            yield self._from_line(stage)
        yield from kept

    def _image_env(self, name: str, _platform: Platform) -> list[str]:
        config = self.store.config(self.base_image(name))
        return list((config.get("config") or {}).get("Env") or [])

    def base_image(self, name: str, emit: Any = None) -> str:
        """The ID of an external image (FROM, --from), pulled when missing (or with --pull);
        the pull's messages go to ``emit`` if given, else where :meth:`_pull_output` says."""
        with self._pull_lock:
            found = self.bases.get(name)
            if found is None:
                found = self._find_image(name, emit)
                self.bases[name] = found
            return found

    def _find_image(self, name: str, emit: Any = None) -> str:
        if not self.options.pull:
            try:
                return self.store.resolve(name)
            except NotFound:
                pass
        emit = emit or self._pull_output(name)
        try:  # the build's abort is the pull's cancel: a client that hangs up stops both
            for message in self.builder.engine.image_pull(name, auth=self._auth(name),
                                                          cancel=self.abort):
                emit(message)
            return self.store.resolve(name)
        except DockyardError as exc:
            self._failed_pull = name
            raise BuildError(str(exc)) from None

    def _pull_output(self, name: str) -> Any:
        """Where a pull's messages go: live after ``Step 1/N : FROM name`` for the first
        stage's base, else kept for the stage or step that uses the image."""
        first = self.plan[0] if self.plan else None
        if (self._live is not None and self.announced is None and first is not None
                and first.base_stage is None and first.base == name):
            self.announced = first.index
            self._live(self._from_line(first))
            return self._live
        kept = self.pulled.setdefault(name, [])
        return kept.append

    def show_pull(self, name: str, emit: Any) -> None:
        """Write the kept messages of ``name``'s pull (once) where the image is first used."""
        for message in self.pulled.pop(name, None) or ():
            emit(message)

    def _auth(self, name: str) -> Any:
        """Credentials for the base image's registry from ``X-Registry-Config``, if sent."""
        if not self.options.registry_auth:
            return None
        from ..distribution.credentials import from_dict
        from ..distribution.endpoints import auth_key

        key = auth_key(reference.parse(name).domain)
        for server, data in self.options.registry_auth.items():
            if isinstance(data, dict) and (server == key or server.endswith("//" + key)
                                           or server.split("/")[0] == key):
                return from_dict(data)
        return None

    def _precheck(self, build: ResolvedBuild) -> None:
        """Missing context files and unknown images are errors before any step runs (and
        every image a step names is pulled now: its messages wait for that step)."""
        for stage in build.stages:
            for inst in stage.instructions:
                if isinstance(inst, CopyLike) and not getattr(inst, "from_", ""):
                    for src in inst.sources:
                        if not remote.is_url(src):
                            self.context.sources(src)
                for name in named_images(inst):
                    self.from_image(name, wait=False)

    # ---- stages -----------------------------------------------------------------------------

    def stage_index(self, name: str) -> int | None:
        assert self.df is not None
        if name.lstrip("-").isdigit():
            return int(name)
        found = self.df.find(name)
        return found.index if found is not None else None

    def from_image(self, name: str, wait: bool = True) -> str:
        """The image a ``--from``/``from=`` names: a stage's result, or an external image."""
        index = self.stage_index(name)
        if index is None:
            return self.base_image(name)
        if not wait:
            return ""
        future = self.futures.get(index)
        if future is None:
            raise BuildError(f"stage {name} is not part of this build")
        return future.result()

    def _stream(self, build: ResolvedBuild) -> Iterator[dict[str, Any]]:
        queues = {s.index: queue.Queue[Any]() for s in build.stages}
        pool = ThreadPoolExecutor(max_workers=max(1, len(build.stages)),
                                  thread_name_prefix="build-stage")
        try:
            for stage in build.stages:
                last = stage.index == build.target
                self.futures[stage.index] = pool.submit(
                    self._stage_thread, stage, queues[stage.index], last)
            for stage in build.stages:
                yield from self._drain(queues[stage.index])
            yield from self._finish(self.futures[build.target].result(), build)
        finally:
            self.cancel()
            pool.shutdown(wait=True)
            self.context.close()
            for path in self.downloads.values():
                remote.remove(path)

    def cancel(self) -> None:
        """Stop the other stages (a failed stage, or a client that hung up): kill RUNs."""
        self.abort.set()
        with self._bases_lock:
            running = list(self.running.values())
        for container in running:
            container.kill()

    def _drain(self, q: queue.Queue[Any]) -> Iterator[dict[str, Any]]:
        while (item := q.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            if not self.options.quiet:  # text, or a pull's message as it came
                yield item if isinstance(item, dict) else {"stream": item}

    def _stage_thread(self, stage: ResolvedStage, q: queue.Queue[Any], last: bool) -> str:
        try:
            image_id = self._run_stage(stage, q.put, last)
        except BaseException as exc:
            self.cancel()
            q.put(exc)
            raise
        q.put(_DONE)
        return image_id

    def _run_stage(self, stage: ResolvedStage, emit: Any, last: bool) -> str:
        number, total = self._step_number(stage.index), self.total_steps
        if stage.index != self.announced:  # else the live pull printed it, before its messages
            emit(self._from_line(stage))
            if stage.base_stage is None:
                self.show_pull(stage.base, emit)
        state = self._initial_state(stage)
        state.remove_containers = self.options.rm
        state.force_remove = self.options.force_rm
        state.comments = self._comments(stage)
        runner = StepRunner(self, state, emit)
        self._triggers(runner, emit)
        emit(f" ---> {short(state.image_id)}\n")  # the FROM step's image: after its triggers
        steps: list[Instruction] = [s.instruction for s in stage.steps]
        if last and self.options.labels:
            steps.append(_labels_step(self.options.labels))
        for inst in steps:
            number += 1
            if self.abort.is_set():
                raise BuildError("build cancelled")
            emit(f"Step {number}/{total} : {step_line(inst)}\n")
            for name in self._images_named(inst):
                self.show_pull(name, emit)
            self._step(runner, inst, emit)
        return state.image_id

    def _images_named(self, inst: Instruction) -> list[str]:
        """External images a step's ``--from`` values name (pulled before the build ran)."""
        return [n for n in named_images(inst) if self.stage_index(n) is None]

    def _comments(self, stage: ResolvedStage) -> dict[int, str]:
        """ARG and EXPOSE history texts come from the Dockerfile as written (expanded): ARG
        shows its declared default, not the build arg; EXPOSE its words sorted."""
        assert self.df is not None
        lexer = Lexer(escape=self.df.escape)
        out = {}
        originals = self.df.stages[stage.index].instructions
        for step, original in zip(stage.steps, originals, strict=True):
            env = dict(step.env)
            if isinstance(original, Arg):
                parts = [d.key if d.value is None else f"{d.key}={lexer.process_word(d.value, env)}"
                         for d in original.args]
                out[id(step.instruction)] = "ARG " + " ".join(parts)
            elif isinstance(original, Expose):
                words = [w for word in original.ports for w in lexer.process_words(word, env)]
                out[id(step.instruction)] = "EXPOSE " + " ".join(sorted(words))
        return out

    def _triggers(self, runner: StepRunner, emit: Any) -> None:
        """The base image's ONBUILD triggers run first (and are not inherited further), as part
        of the FROM step: dockerd prints no `` ---> <id>`` of their own, the step's comes after."""
        config = runner.state.config.config
        triggers = list(config.get("OnBuild") or [])
        if not triggers:
            return
        config["OnBuild"] = None
        emit(f"# Executing {len(triggers)} build trigger{'s' if len(triggers) > 1 else ''}\n")
        env = list(config.get("Env") or [])
        text = "FROM onbuild-base\n" + "\n".join(triggers) + "\n"
        resolved = resolve(parse(text), self.options.build_args, image_env=lambda _n, _p: env)
        for step in resolved.target_stage.steps:
            if isinstance(step.instruction, CopyLike) and not getattr(step.instruction, "from_", ""):
                for src in step.instruction.sources:
                    self.context.sources(src)
            for name in self._images_named(step.instruction):  # unseen before the build ran:
                self.base_image(name, emit)  # pulled now, its messages here, as for a step's
                self.show_pull(name, emit)  # (or kept from an earlier pull of it)
            self._step(runner, step.instruction, emit, show_id=False)

    def _initial_state(self, stage: ResolvedStage) -> StageState:
        plat = (stage.platform.os, stage.platform.architecture, stage.platform.variant)
        if stage.base_stage is not None:
            base_id = self.futures[stage.base_stage].result()
        elif stage.base.lower() == "scratch":
            return StageState(ImageConfig(None, "", plat))
        else:
            base_id = self.base_image(stage.base)
        return StageState(ImageConfig(self.store.config(base_id), base_id, plat))

    def _step(self, runner: StepRunner, inst: Instruction, emit: Any, show_id: bool = True) -> None:
        dispatch_check(inst)
        state = runner.state
        parent = state.image_id
        key = runner.key(inst)
        cache = self.builder.cache
        hit = None if self.options.nocache else cache.get(key, self._exists)
        if hit is not None:
            emit(" ---> Using cache\n")
            _replay(inst, state)
            state.config = _reload(self.store.config(hit), hit, state.config)
        elif not self.options.nocache and (hit := self.cache_sources.restore(runner, inst)):
            emit(" ---> Using cache\n")
            _replay(inst, state)
            cache.put(key, hit, parent, step_line(inst)[:200], 0)
        else:
            hit = runner.execute(inst)
            cache.put(key, hit, parent, step_line(inst)[:200],
                      self._layer_size(hit, state.config.diff_ids, parent))
        if show_id:
            emit(f" ---> {short(hit)}\n")

    def _exists(self, image_id: str) -> bool:
        return self.store.meta.image(image_id) is not None

    def _layer_size(self, image_id: str, diff_ids: list[str], parent: str) -> int:
        layers = self.store.meta.layers(image_id)
        before = len(self.store.meta.layers(parent)) if parent else 0
        if len(layers) <= before:
            return 0
        snap = self.store.meta.snapshot(layers[-1].chain_id)
        return snap.size if snap else 0

    def _finish(self, image_id: str, build: ResolvedBuild) -> Iterator[dict[str, Any]]:
        if build.unused_build_args and not self.options.quiet:
            names = " ".join(build.unused_build_args)
            yield {"stream": f"[Warning] One or more build-args [{names}] were not consumed\n"}
        yield {"aux": {"ID": image_id}}
        if not self.options.quiet:
            yield {"stream": f"Successfully built {short(image_id)}\n"}
        for tag in self.options.tags:  # -q prints only the ID but tags all the same
            ref = reference.parse(tag)
            self.store.tag(image_id, ref.repository, ref.tag or "latest")
            if not self.options.quiet:
                yield {"stream": f"Successfully tagged {ref.familiar()}\n"}
        if self.options.quiet:
            yield {"stream": image_id + "\n"}

    # ---- services for the steps ------------------------------------------------------------

    def run_container(self, lower_dirs: list[str], scratch: Path, op: RunOp, emit: Any,
                      cid: str, started: Callable[[], None] | None = None) -> None:
        """Run a RUN step's container (:func:`.executor.run_container`); ``started`` is
        called once it runs (its ``start`` event)."""
        from .executor import run_container

        if self.abort.is_set():
            raise BuildError("build cancelled")

        def track(container: Any) -> None:
            with self._bases_lock:
                if container is None:
                    self.running.pop(cid, None)
                    return
                self.running[cid] = container
            if started is not None:
                started()
            if self.abort.is_set():
                container.kill()

        run_container(self.builder.runtime, lower_dirs, scratch, op, emit, cid, track,
                      self.daemon_defaults)

    @property
    def daemon_defaults(self) -> DaemonDefaults:
        """The daemon's container defaults a RUN gets (:class:`.executor.DaemonDefaults`)."""
        from .executor import DaemonDefaults

        return DaemonDefaults.of(getattr(self.builder.engine, "config", None))

    def download(self, url: str, checksum: str = "") -> Path:
        """``ADD <URL>``: fetched once per build (the key and the copy share it)."""
        with self._downloads_lock:
            found = self.downloads.get(url)
            if found is None:
                found = remote.download(url, self.builder.root / "tmp")
                self.downloads[url] = found
        remote.verify(found, checksum)
        return found

    def temp_dir(self) -> AbstractContextManager[Path]:
        return temp_dir(self.builder.root / "tmp")

    def cache_mount(self, m: Any) -> Path:
        digest = hashlib.sha256(m.id.encode()).hexdigest()[:32]
        path = self.builder.root / "mounts" / digest
        if not path.is_dir():
            path.mkdir(parents=True, exist_ok=True)
            os.chown(path, m.uid or 0, m.gid or 0)
            os.chmod(path, m.mode if m.mode is not None else 0o755)
        return path

    def secret_file(self, m: Any, stack: ExitStack) -> Path | None:
        data = self.options.secrets.get(m.id)
        if data is None:
            if m.required:
                raise BuildError(f"secret {m.id}: not found")
            return None
        path = stack.enter_context(self.temp_dir()) / "secret"
        path.write_bytes(data)
        os.chown(path, m.uid or 0, m.gid or 0)
        os.chmod(path, m.mode if m.mode is not None else 0o400)
        return path


def _unmount_leftovers(snapshots_root: Path) -> None:
    """A crash during COPY --from or a bind mount can leave a read-only view mounted under
    ``snapshots/tmp-ro-*`` (the store's recovery cannot delete it): detach and remove it."""
    from ..linux import syscalls

    prefix = str(snapshots_root / "tmp-ro-")
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as f:
            points = [line.split()[4] for line in f if line.split()[4].startswith(prefix)]
    except OSError:
        return
    for point in points:
        try:
            syscalls.umount2(point, syscalls.MNT_DETACH)
        except OSError:
            continue
        shutil.rmtree(Path(point).parent, ignore_errors=True)


def _replay(inst: Instruction, state: StageState) -> None:
    """What a cache hit must still do to the stage state beyond the config (ARG scope)."""
    if isinstance(inst, Arg):
        for d in inst.args:
            if d.value is not None:
                state.args[d.key] = d.value
    if isinstance(inst, Cmd):
        state.config.cmd_set = True


def _reload(config: dict[str, Any], image_id: str, old: ImageConfig) -> ImageConfig:
    new = ImageConfig(config, image_id, ("", "", ""))
    new.cmd_set = old.cmd_set
    return new


def _labels_step(labels: dict[str, str]) -> Label:
    """``--label`` becomes a last LABEL step of the target stage, as in the classic builder."""
    pairs = tuple(KeyValue(k, v) for k, v in sorted(labels.items()))
    text = "LABEL " + " ".join(f"{_q(k)}='{v}'" for k, v in sorted(labels.items()))
    return Label(pairs=pairs, original=text)


def _q(text: str) -> str:
    from ..gostrconv import quote as go_quote

    return go_quote(text)


def named_images(inst: Instruction) -> list[str]:
    """The stages or images a step's ``--from`` values name (COPY, RUN --mount)."""
    names = [getattr(inst, "from_", "")]
    if isinstance(inst, Run):
        names += [m.from_ for m in inst.mounts]
    return [n for n in names if n]


def stage_line(stage: ResolvedStage | PlannedStage, df: Dockerfile | None) -> str:
    if df is not None:
        return " ".join(df.stages[stage.index].source.original.split())
    return f"FROM {stage.base}"


def step_line(inst: Instruction) -> str:
    """The instruction as the classic builder echoes it: its source text, one line."""
    text = inst.original.strip()
    if isinstance(inst, Run) and inst.heredocs:
        return text.splitlines()[0]
    return " ".join(text.split("\\\n")) if "\n" in text else text


def classic_parse_error(exc: DockerfileParseError) -> BuildError:
    """The classic builder's wording: ``dockerfile parse error line N: …`` (no hint)."""
    message = re.sub(r" \(did you mean [^)]*\?\)$", "", exc.message)
    if not exc.line:
        return BuildError(message)
    return BuildError(f"dockerfile parse error line {exc.line}: {message}")


def parse_build_args(value: dict[str, str | None]) -> dict[str, str]:
    """``buildargs`` JSON: a null value means "take it from the daemon's environment"."""
    out = {}
    for key, val in value.items():
        if val is None:
            val = os.environ.get(key)
            if val is None:
                continue
        if not isinstance(val, str):
            raise InvalidArgument(f"build arg {key}: value must be a string")
        out[key] = val
    return out
