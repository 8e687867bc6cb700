"""One Dockerfile step of one stage: its cache key, and what it does on a miss.

Metadata instructions change only the config (an empty layer); RUN, COPY, ADD (and WORKDIR
when the directory is missing) produce a layer from an upper dir (see :mod:`.executor`).
:class:`StageState` is the stage's image so far; :class:`StepRunner` commits each step's
image into the store with the previous step's image as its parent, as the classic builder.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import gosignal
from ..containers.spec import Mount as SpecMount
from ..gostrconv import quote as go_quote
from ..oci import mediatypes as mt
from ..store.diff import adopt_snapshot, write_layer
from ..store.images import ImageStore, LayerInput
from ..store.snapshots import chain_ids
from . import executor, initlayer, remote
from .cache import step_key
from .context import BuildContext, classic_hash, multi_hash
from .errors import BuildError, StepFailed
from .imageconfig import ImageConfig, go_duration, go_list, go_rune
from .instructions import (
    Add,
    Arg,
    Cmd,
    CopyLike,
    Entrypoint,
    Env,
    Expose,
    Healthcheck,
    Instruction,
    Label,
    Maintainer,
    Onbuild,
    Run,
    Shell,
    StopSignal,
    User,
    Volume,
    Workdir,
    command_argv,
)
from .remote import is_url
from .stepevents import StepContainer
from .stubs import mount_stubs, remove_mount_stubs

if TYPE_CHECKING:
    from .builder import BuildJob


@dataclass
class StageState:
    config: ImageConfig
    args: dict[str, str] = field(default_factory=dict)
    comments: dict[int, str] = field(default_factory=dict)  # id(inst) -> classic comment
    remove_containers: bool = True  # the API's rm: print "Removing intermediate container"
    force_remove: bool = False  # forcerm: a failed RUN's container removed too

    @property
    def image_id(self) -> str:
        return self.config.image_id


# ---- metadata ---------------------------------------------------------------------------------


def _pairs_text(keyword: str, pairs: Any) -> str:
    return keyword + "".join(f" {p.key}={p.value}" for p in pairs)


def _command(inst: Cmd | Entrypoint, shell: list[str]) -> list[str]:
    if inst.shell_form:
        return [*shell, " ".join(inst.command)] if inst.command else []
    return list(inst.command)


def meta_comment(inst: Instruction, state: StageState) -> str:
    """The classic builder's comment for a metadata step (what ``#(nop)`` is followed by)."""
    if id(inst) in state.comments:
        return state.comments[id(inst)]
    cfg = state.config
    if isinstance(inst, (Env, Label)):
        return _pairs_text(inst.keyword, inst.pairs)
    if isinstance(inst, (Cmd, Entrypoint)):
        return f"{inst.keyword} {go_list(_command(inst, cfg.shell))}"
    if isinstance(inst, Expose):
        return "EXPOSE " + " ".join(inst.ports)
    if isinstance(inst, Volume):
        return "VOLUME [" + " ".join(inst.paths) + "]"
    if isinstance(inst, User):
        return "USER " + inst.user
    if isinstance(inst, Shell):
        return "SHELL [" + " ".join(inst.shell) + "]"
    if isinstance(inst, StopSignal):
        return "STOPSIGNAL " + inst.signal
    if isinstance(inst, Maintainer):
        return "MAINTAINER " + inst.name
    if isinstance(inst, Onbuild):
        return "ONBUILD " + inst.expression
    if isinstance(inst, Arg):
        return "ARG " + " ".join(d.key if d.value is None else f"{d.key}={d.value}"
                                 for d in inst.args)
    if isinstance(inst, Healthcheck):
        return "HEALTHCHECK " + _health_text(inst)
    raise BuildError(f"unsupported instruction {inst.keyword}")


def _health_text(inst: Healthcheck) -> str:
    if inst.test == ("NONE",):
        return '&{["NONE"] "0s" "0s" "0s" \'\\x00\'}'
    durations = " ".join(go_quote(go_duration(v)) for v in
                         (inst.interval, inst.timeout, inst.start_period))
    return f"&{{{go_list(list(inst.test))} {durations} {go_rune(inst.retries)}}}"


def dispatch_check(inst: Instruction) -> None:
    """What the classic builder's dispatcher refuses as it reaches a step, before the cache is
    looked at — in the stream, after the step's line: a STOPSIGNAL moby's ParseSignal cannot
    read (``0``, ``UNUSED``; any other nonzero number is taken, ``65`` too)."""
    if isinstance(inst, StopSignal):
        try:
            gosignal.parse(inst.signal)
        except ValueError as e:
            raise BuildError(str(e)) from None


def apply_meta(inst: Instruction, state: StageState) -> None:
    cfg, c = state.config, state.config.config
    if isinstance(inst, Env):
        for p in inst.pairs:
            cfg.set_env(p.key, p.value)
    elif isinstance(inst, Label):
        c["Labels"] = {**(c.get("Labels") or {}), **{p.key: p.value for p in inst.pairs}}
    elif isinstance(inst, Cmd):
        c["Cmd"] = _command(inst, cfg.shell) or None
        cfg.cmd_set = True
    elif isinstance(inst, Entrypoint):
        c["Entrypoint"] = _command(inst, cfg.shell) or None
        if not cfg.cmd_set:
            c["Cmd"] = None
    elif isinstance(inst, Expose):
        c["ExposedPorts"] = {**(c.get("ExposedPorts") or {}), **{p: {} for p in inst.ports}}
    elif isinstance(inst, Volume):
        c["Volumes"] = {**(c.get("Volumes") or {}), **{p: {} for p in inst.paths}}
    elif isinstance(inst, User):
        c["User"] = inst.user
    elif isinstance(inst, Shell):
        c["Shell"] = list(inst.shell)
    elif isinstance(inst, StopSignal):
        c["StopSignal"] = inst.signal
    elif isinstance(inst, Maintainer):
        cfg.data["author"] = inst.name
    elif isinstance(inst, Onbuild):
        c["OnBuild"] = [*(c.get("OnBuild") or []), inst.expression]
    elif isinstance(inst, Arg):
        for d in inst.args:
            if d.value is not None:
                state.args[d.key] = d.value
    elif isinstance(inst, Healthcheck):
        c["Healthcheck"] = _health_config(inst)


def _health_config(inst: Healthcheck) -> dict[str, Any]:
    out: dict[str, Any] = {"Test": list(inst.test)}
    for key, value in (("Interval", inst.interval), ("Timeout", inst.timeout),
                       ("StartPeriod", inst.start_period), ("StartInterval", inst.start_interval),
                       ("Retries", inst.retries)):
        if value:
            out[key] = value
    return out


def workdir_path(inst: Workdir, state: StageState) -> str:
    current = state.config.config.get("WorkingDir") or "/"
    return os.path.normpath(os.path.join(current, inst.path))


# ---- the runner -------------------------------------------------------------------------------


class StepRunner:
    """Executes steps of one stage for a :class:`~.builder.BuildJob`."""

    def __init__(self, job: BuildJob, state: StageState, emit: Callable[[str], None]) -> None:
        self.job = job
        self.store: ImageStore = job.store
        self.state = state
        self.emit = emit

    # -- committing --

    def layer_inputs(self, image_id: str) -> list[LayerInput]:
        if not image_id:
            return []
        return [LayerInput(x.blob_digest, x.media_type) for x in self.store.meta.layers(image_id)]

    def lower_dirs(self, image_id: str | None = None) -> list[str]:
        image_id = self.state.image_id if image_id is None else image_id
        if not image_id:
            return []
        return [str(p) for p in self.store.rootfs_layers(image_id)]

    def commit(self, container_cmd: list[str], scratch: Path | None,
               container_env: list[str] | None = None) -> str:
        """Commit the step's image (``scratch`` = its upper dir, None = empty layer)."""
        parent = self.state.image_id
        layers = self.layer_inputs(parent)
        try:
            with self.store.adding() as session:
                diff_id = None
                if scratch is not None and not executor.upper_is_empty(scratch):
                    layer = write_layer(self.store.content, scratch / "fs", id_map=self.store.snapshots.id_map)
                    session.blob(layer.blob_digest)
                    chain = chain_ids([*self.state.config.diff_ids, layer.diff_id])[-1]
                    adopt_snapshot(self.store.snapshots, scratch, chain, layer)
                    session.chain(chain)
                    layers.append(LayerInput(layer.blob_digest, mt.OCI_LAYER))
                    diff_id = layer.diff_id
                config = self.state.config.commit(container_cmd, diff_id, container_env)
                image_id = self.store.add(config, layers, parent=parent, session=session)
        finally:
            if scratch is not None and scratch.exists():
                shutil.rmtree(scratch, ignore_errors=True)
        self.state.config.image_id = image_id
        return image_id

    # -- dispatch --

    def cache_text(self, inst: Instruction) -> tuple[str, list[str]]:
        """(description used in the key, content digests) — before running anything."""
        if isinstance(inst, Run):
            argv, files = command_argv(inst, tuple(self.state.config.shell))
            net = self._network(inst)
            text = (f"RUN {argv!r} {self._run_args()!r} {net} {inst.mount_specs!r} "
                    f"{[f.data for f in files]!r}")
            return text, self._mount_digests(inst)
        if isinstance(inst, CopyLike):
            fields = (inst.sources, inst.dest, inst.chown, inst.chmod, getattr(inst, "from_", ""),
                      inst.excludes, getattr(inst, "parents", False),
                      self.state.config.config.get("WorkingDir"))
            return f"{inst.keyword} {fields!r}", self._copy_digests(inst)
        if isinstance(inst, Workdir):
            return f"WORKDIR {workdir_path(inst, self.state)}", []
        return meta_comment(inst, self.state), []

    def key(self, inst: Instruction) -> str:
        text, digests = self.cache_text(inst)
        return step_key(self.state.image_id, text, self.state.args.items(), digests)

    def execute(self, inst: Instruction) -> str:
        if isinstance(inst, Run):
            return self.run(inst)
        if isinstance(inst, CopyLike):
            return self.copy(inst)
        if isinstance(inst, Workdir):
            return self.workdir(inst)
        cid = executor.container_id()
        self.emit(f" ---> Running in {cid[:12]}\n")
        comment = meta_comment(inst, self.state)
        apply_meta(inst, self.state)
        container = self._container(cid)  # the step's config: a LABEL's own label in it
        image_id = self.commit(self.state.config.nop_cmd(comment), None)
        self._removed(container)
        return image_id

    def _container(self, cid: str) -> StepContainer:
        """The step's container, created (:mod:`.stepevents`) on the parent image."""
        return StepContainer.of(self.job.builder.engine, cid, self.state.image_id,
                                self.state.config.config)

    def _removed(self, container: StepContainer) -> None:
        if self.state.remove_containers:
            self.emit(f"Removing intermediate container {container.id[:12]}\n")
            container("destroy")

    # -- WORKDIR --

    def workdir(self, inst: Workdir) -> str:
        path = workdir_path(inst, self.state)
        self.state.config.config["WorkingDir"] = path
        cmd = self.state.config.nop_cmd(f"WORKDIR {path}", one_word=True)
        cid = executor.container_id()
        self.emit(f" ---> Running in {cid[:12]}\n")
        container = self._container(cid)
        scratch = None
        if not self._exists(path):
            scratch = executor.new_scratch(self.store.snapshots)
            try:
                _isolated(_make_workdir, self.store.snapshots, self.lower_dirs(), scratch / "fs", path)
            except BaseException:
                shutil.rmtree(scratch, ignore_errors=True)
                raise
        image_id = self.commit(cmd, scratch)
        self._removed(container)
        return image_id

    def _exists(self, path: str) -> bool:
        from ..store.diff import is_whiteout

        rel = path.lstrip("/")
        if not rel:
            return True
        for layer in reversed(self.lower_dirs()):
            try:
                st = os.lstat(os.path.join(layer, rel))
            except (FileNotFoundError, NotADirectoryError):
                continue
            return not is_whiteout(st)
        return False

    # -- RUN --

    def _run_args(self) -> list[str]:
        env_keys = {e.partition("=")[0] for e in self.state.config.config.get("Env") or []}
        return sorted(f"{k}={v}" for k, v in self.state.args.items() if k not in env_keys)

    def run(self, inst: Run) -> str:
        cfg = self.state.config
        argv, files = command_argv(inst, tuple(cfg.shell))
        build_env = self._run_args()
        save_cmd = ([f"|{len(build_env)}", *build_env, *argv] if build_env else list(argv))
        env = [*(cfg.config.get("Env") or []), *build_env,
               *(f"{k}={v}" for k, v in self.job.proxy_env.items())]
        network = self._network(inst)
        cid = executor.container_id()
        self.emit(f" ---> Running in {cid[:12]}\n")
        container = self._container(cid)
        container("attach")
        scratch = executor.new_scratch(self.store.snapshots)
        try:
            with ExitStack() as stack:
                # dockerd names a step's container as any: the host's name with its network
                hostname = platform.node() if network == "host" else cid[:12]
                etc = executor.etc_mounts(stack.enter_context(self.job.temp_dir()), hostname,
                                          network, self.job.daemon_defaults,
                                          self.job.options.extra_hosts)
                own = [*self._inline_mounts(files, stack), *self._run_mounts(inst, stack)]
                op = executor.RunOp(list(argv), env, cfg.config.get("WorkingDir") or "/",
                                    cfg.config.get("User") or "", network, [*etc, *own],
                                    ulimits=self.job.options.ulimits,
                                    shm_size=self.job.options.shm_size,
                                    resources=self.job.options.resources,
                                    cgroup_parent=self.job.options.cgroup_parent,
                                    hostname=hostname)
                # BuildKit's stubs: what the step's own mounts make that the image lacks (the
                # /etc files' mountpoints are in the init layer, as the /etc a stub may copy up)
                stubs = mount_stubs(self.lower_dirs(), [m.target for m in own])
                self._run_in(container, scratch, op)
            remove_mount_stubs(scratch / "fs", stubs)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        image_id = self.commit(save_cmd, scratch)
        self._removed(container)
        return image_id

    def _run_in(self, container: StepContainer, scratch: Path, op: executor.RunOp) -> None:
        """Run the step; a failed one's container stays (no destroy) unless ``forcerm``."""
        try:
            self.job.run_container(self._run_lowers(), scratch, op, self.emit, container.id,
                                   started=lambda: container("start"))
        except StepFailed as exc:
            container.ran(exc.code)
            if self.state.force_remove:
                self._removed(container)
            raise
        container.ran(0)

    def _run_lowers(self) -> list[str]:
        """The parent image's layers with dockerd's init layer on top (:mod:`.initlayer`)."""
        lowers = self.lower_dirs()
        owner = self.store.snapshots.id_map.root_on_disk()
        return [*lowers, initlayer.lower_dir(self.store.snapshots.root, lowers, owner)]

    def _network(self, inst: Run) -> str:
        """``RUN --network`` wins over the build's ``--network`` (part of the cache key, as in
        BuildKit: a step run with the host's network is not the same step)."""
        return inst.network if inst.network in ("host", "none") else self.job.network

    def _inline_mounts(self, files: Any, stack: ExitStack) -> list[SpecMount]:
        out = []
        for f in files:
            tmp = stack.enter_context(self.job.temp_dir())
            path = tmp / "script"
            path.write_text(f.data)
            path.chmod(f.mode)
            out.append(SpecMount("bind", f.path, str(path), read_only=True))
        return out

    def _run_mounts(self, inst: Run, stack: ExitStack) -> list[SpecMount]:
        out: list[SpecMount] = []
        for m in inst.mounts:
            if m.type == "cache":
                out.append(SpecMount("bind", m.target, str(self.job.cache_mount(m))))
            elif m.type == "tmpfs":
                out.append(SpecMount("tmpfs", m.target, options=[f"size={m.size}"] if m.size else []))
            elif m.type == "bind":
                source = self._bind_source(m, stack)
                out.append(SpecMount("bind", m.target, str(source), read_only=m.readonly))
            elif m.type == "secret":
                secret = self.job.secret_file(m, stack)
                if secret is not None:
                    out.append(SpecMount("bind", m.target, str(secret), read_only=True))
            else:
                raise BuildError(f"RUN --mount=type={m.type} is not supported by this builder")
        return out

    def _bind_source(self, m: Any, stack: ExitStack) -> Path:
        if not m.from_:
            return self.job.context.resolve(m.source or "/")
        if os.geteuid() != 0:
            raise BuildError(f"RUN --mount=type=bind,from={m.from_} needs a mount of that image's "
                             "file system in the daemon's namespace, which a rootless daemon "
                             "cannot make (no CAP_SYS_ADMIN): copy the files with COPY --from instead")
        image_id = self.job.from_image(m.from_)
        root = stack.enter_context(executor.image_rootfs(self.store.snapshots,
                                                         self.lower_dirs(image_id)))
        from ..linux.mounts import in_root

        return Path(in_root(str(root), (m.source or "/").lstrip("/")))

    def _mount_digests(self, inst: Run) -> list[str]:
        out = []
        for m in inst.mounts:
            if m.type == "bind":
                out.append(self.job.from_image(m.from_) if m.from_ else
                           self.job.context.digest(self.job.context.resolve(m.source or "/")))
        return out

    # -- COPY / ADD --

    def _copy_digests(self, inst: CopyLike) -> list[str]:
        from_ = getattr(inst, "from_", "")
        if from_:
            return [self.job.from_image(from_)]
        digests = []
        for src in inst.sources:
            if is_url(src):  # dockerd names a download by its bare hash (no "file:")
                path = self.job.download(src, getattr(inst, "checksum", ""))
                if path.name == remote.UNNAMED and inst.dest.endswith("/"):
                    raise BuildError(f"cannot determine filename for source {src}")
                digests.append(classic_hash(path.parent, path, image=True).removeprefix("file:"))
            else:
                digests += [self.job.context.digest(p) for p in self.job.context.sources(src)]
        digests += ["file:" + hashlib.sha256(c.data.encode()).hexdigest() for c in inst.contents]
        return digests

    def copy(self, inst: CopyLike) -> str:
        digests = self._copy_digests(inst)
        from_ = getattr(inst, "from_", "")
        scratch = executor.new_scratch(self.store.snapshots)
        try:
            op = executor.CopyOp(
                [] if from_ else self._copy_sources(inst), inst.dest,
                self.state.config.config.get("WorkingDir") or "/", None,
                int(inst.chmod, 8) if inst.chmod else None, isinstance(inst, Add),
                [(c.path, c.data.encode()) for c in inst.contents], list(inst.excludes),
                self._parents_root(inst), link=not from_,
                downloads=frozenset(self.job.downloads.values()))
            from_lowers = self.lower_dirs(self.job.from_image(from_)) if from_ else None
            copied, notes = _isolated(_copy_files, self.store.snapshots, self.lower_dirs(),
                                      scratch / "fs", op, inst.chown, from_lowers, list(inst.sources))
            for note in notes:  # an ADDed archive's owners a rootless daemon cannot give
                self.emit(f"[WARNING]: {note}\n")
            if from_:  # name the files copied, as the classic builder
                digests = copied
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        comment = f"{inst.keyword} {multi_hash(digests)} in {inst.dest} "
        return self.commit(self.state.config.nop_cmd(comment, one_word=True), scratch)

    def _parents_root(self, inst: CopyLike) -> Path | None:
        if not getattr(inst, "parents", False):
            return None
        if getattr(inst, "from_", ""):
            raise BuildError("COPY --parents with --from is not supported by this builder")
        return self.job.context.root

    def _copy_sources(self, inst: CopyLike) -> list[Path]:
        """A COPY's sources from the context or downloads (``--from`` ones: :func:`_copy_files`)."""
        out: list[Path] = []
        for src in inst.sources:
            out += [self.job.download(src)] if is_url(src) else self.job.context.sources(src)
        return out


def _isolated(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` where it may mount an image's view and own files as its containers do:
    here as root; for a rootless daemon, in a helper in its user namespace
    (:mod:`dockyard.linux.userns`)."""
    if os.geteuid() == 0:
        return fn(*args)
    from ..linux import userns

    return userns.call(fn, *args)


def _make_workdir(snapshots: Any, lower_dirs: list[str], upper: Path, path: str) -> None:
    root_owner = snapshots.id_map.to_disk(0, 0)
    with executor.image_rootfs(snapshots, lower_dirs) as view:
        executor.Roots(view, upper, root_owner).makedirs(path)


def _copy_files(snapshots: Any, lower_dirs: list[str], upper: Path, op: executor.CopyOp, chown: str,
                from_lowers: list[str] | None, patterns: list[str]) -> tuple[list[str], list[str]]:
    """A COPY's file work: ``--from`` sources resolved in that image's view, the owner through
    the destination's /etc/passwd, the copy. Returns the classic builder's hashes of ``--from``
    files, and the notes for the build output."""
    with ExitStack() as stack:
        if from_lowers is not None:
            root = stack.enter_context(executor.image_rootfs(snapshots, from_lowers))
            op.sources = [p for s in patterns for p in BuildContext(root, owned=False).sources(s)]
        view = stack.enter_context(executor.image_rootfs(snapshots, lower_dirs))
        op.owner = executor.resolve_owner(chown, view)
        id_map = snapshots.id_map  # the store's id map: which owners the upper dir's files get
        if op.owner is not None:
            id_map.check_owner(*op.owner)
        if id_map.remap is not None:  # --userns-remap: the layer holds the shifted host ids
            op.owner = id_map.to_disk(*(op.owner or (0, 0)))
        op.id_map = id_map
        executor.apply_copy(executor.Roots(view, upper, id_map.to_disk(0, 0)), op)
        if from_lowers is None:
            return [], op.notes
        return [classic_hash(root, p, image=True) for p in op.sources], op.notes


@contextmanager
def temp_dir(parent: Path) -> Iterator[Path]:
    parent.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(dir=parent))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


__all__ = ["StageState", "StepRunner", "apply_meta", "dispatch_check", "meta_comment", "temp_dir"]
