"""``--cache-from IMAGE``: reuse the steps of an image whose intermediate images are gone
(pulled, or loaded from ``docker save``), as the classic builder's image cache does.

A step with parent P (history of length n) is served by a source image T when T's first n
history entries and its layers so far equal P's, and T's entry n was made by the same step
(same ``created_by``). The step's image is then *restored*: the builder commits the config it
would have produced itself, with T's layer for that entry (already stored with T, so nothing
runs and nothing is unpacked). COPY/ADD match on the classic ``file:<hash>`` names in
``created_by``, which come from the content; COPY --from and RUN --mount steps are not served
from other images (their inputs are not visible in the history).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import DockyardError
from ..oci import mediatypes as mt
from ..store.images import ImageStore, LayerInput
from .context import multi_hash
from .instructions import Copy, CopyLike, Instruction, Run, Workdir, command_argv
from .steps import apply_meta, meta_comment, workdir_path

if TYPE_CHECKING:
    from .steps import StepRunner


class CacheSources:
    """The ``--cache-from`` images found locally (missing ones are ignored, as dockerd)."""

    def __init__(self, store: ImageStore, names: list[str]) -> None:
        self.store = store
        self.images: list[tuple[str, dict[str, Any]]] = []
        for name in names:
            try:
                image_id = store.resolve(name)
            except DockyardError:  # an unknown cache source is not an error
                image_id = ""
            if image_id:
                self.images.append((image_id, store.config(image_id)))

    def restore(self, runner: StepRunner, inst: Instruction) -> str | None:
        """The image for ``inst`` restored from a cache source, or None."""
        if not self.images:
            return None
        created_by = _created_by(runner, inst)
        if created_by is None:
            return None
        parent = runner.state.config
        history = parent.data.get("history") or []
        n = len(history)
        for image_id, config in self.images:
            theirs = config.get("history") or []
            if len(theirs) <= n or theirs[n].get("created_by") != created_by:
                continue
            if [_key(h) for h in theirs[:n]] != [_key(h) for h in history]:
                continue
            layers = self.store.meta.layers(image_id)
            used = len(parent.diff_ids)
            if [x.diff_id for x in layers[:used]] != parent.diff_ids:
                continue
            layer = None if theirs[n].get("empty_layer") else layers[used]
            restored = _commit(runner, inst, created_by, layer)
            if n == len(theirs) - 1 and _same(runner.store.config(restored), config):
                runner.state.config.image_id = image_id  # the source image itself, as dockerd
                return image_id
            return restored
        return None


def _same(mine: dict[str, Any], theirs: dict[str, Any]) -> bool:
    def strip(config: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in (config.get("config") or {}).items() if k != "Image"}
    return strip(mine) == strip(theirs) and mine.get("rootfs") == theirs.get("rootfs")


def _key(entry: dict[str, Any]) -> tuple[str, bool]:
    return entry.get("created_by", ""), bool(entry.get("empty_layer"))


def _created_by(runner: StepRunner, inst: Instruction) -> str | None:
    cfg = runner.state.config
    if isinstance(inst, Run):
        if inst.mounts:
            return None
        argv, _files = command_argv(inst, tuple(cfg.shell))
        build_env = runner._run_args()
        cmd = [f"|{len(build_env)}", *build_env, *argv] if build_env else list(argv)
        return " ".join(cmd)
    if isinstance(inst, CopyLike):
        if isinstance(inst, Copy) and inst.from_:
            return None
        label = multi_hash(runner._copy_digests(inst))
        return " ".join(cfg.nop_cmd(f"{inst.keyword} {label} in {inst.dest} ", one_word=True))
    if isinstance(inst, Workdir):
        return " ".join(cfg.nop_cmd(f"WORKDIR {workdir_path(inst, runner.state)}", one_word=True))
    return " ".join(cfg.nop_cmd(meta_comment(inst, runner.state)))


def _commit(runner: StepRunner, inst: Instruction, created_by: str, layer: Any) -> str:
    """Commit the step's image with the source image's layer (no run, no unpack)."""
    state = runner.state
    if isinstance(inst, Workdir):
        state.config.config["WorkingDir"] = workdir_path(inst, state)
    elif not isinstance(inst, (Run, CopyLike)):
        apply_meta(inst, state)
    store = runner.store
    parent = state.image_id
    layers = runner.layer_inputs(parent)
    diff_id = None
    if layer is not None:
        layers.append(LayerInput(layer.blob_digest, layer.media_type or mt.OCI_LAYER))
        diff_id = layer.diff_id
    cmd = created_by.split(" ")  # only joined again: the history text is what matters
    with store.adding() as session:
        config = state.config.commit(cmd, diff_id)
        image_id = store.add(config, layers, parent=parent, session=session)
    state.config.image_id = image_id
    return image_id
