"""``docker import``: a rootfs tarball becomes a one-layer image, with ``--change`` applied.

The upload (plain, gzip, zstd, xz or bzip2) is stored decompressed — a plain tar blob whose
digest is the layer's diff_id — then unpacked like any layer. ``changes`` are the Dockerfile
instructions dockerd accepts for import and commit, applied to an empty container config.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from .. import __version__
from ..errors import InvalidArgument
from ..oci import mediatypes as mt
from ..oci import platform as _platform
from .compression import ChunkStream, decompressed_chunks
from .images import ImageStore, LayerInput, asked_reference, disk_errors, tag_reference
from .timefmt import rfc3339_now
from .views import EMPTY_CONFIG

CHANGE_COMMANDS = {"CMD", "ENTRYPOINT", "ENV", "EXPOSE", "HEALTHCHECK", "LABEL", "ONBUILD",
                   "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"}


def import_rootfs(store: ImageStore, stream: BinaryIO, repo: str | None = None,
                  tag: str | None = None, changes: list[str] | None = None, message: str = "",
                  platform: str | None = None) -> Iterator[dict[str, Any]]:
    """Import; yields ``{"status": "sha256:…"}`` once the image is committed (after any
    ``{"stream": "WARNING: …"}`` about owners a rootless daemon could not keep)."""
    ref = tag_reference(repo, tag) if repo else None
    asked = asked_reference(repo, tag).familiar() if repo else ""
    config_obj = apply_changes(dict(EMPTY_CONFIG), changes or [])
    return _run(store, stream, ref, asked, config_obj, message or "Imported from -",
                import_architecture(platform))


def _run(store: ImageStore, stream: BinaryIO, ref: Any, asked: str, config_obj: dict[str, Any],
         message: str, architecture: str) -> Iterator[dict[str, Any]]:
    """``asked``: the reference as asked, which the tag event names ("" for none)."""
    with store.adding() as session, disk_errors(store.root):
        upload = ChunkStream(decompressed_chunks(stream))
        diff_id, _ = store.content.write(upload)
        session.blob(diff_id)  # kept if an image uses it, else removed on exit
        config = _config(diff_id, config_obj, message, architecture)
        layer = LayerInput(diff_id, mt.OCI_LAYER)
        prepared = store.prepare(config, [layer], [ref] if ref else [], session=session)
        store.commit([prepared])
    image_id = prepared.image.id
    if asked:  # dockerd 20.10: its tag event, then the import's
        store.log_event("tag", image_id, asked)
    store.log_event("import", image_id, image_id)
    yield from session.warnings()  # a rootless daemon's layer owners it could not keep
    yield {"status": prepared.image.id}


def _config(diff_id: str, config_obj: dict[str, Any], message: str, architecture: str) -> bytes:
    created = rfc3339_now()
    out: dict[str, Any] = {"architecture": architecture, "comment": message, "config": config_obj,
                           "container_config": dict(EMPTY_CONFIG), "created": created,
                           "docker_version": __version__,
                           "history": [{"created": created, "comment": message}], "os": "linux",
                           "rootfs": {"type": "layers", "diff_ids": [diff_id]}}
    return json.dumps(out, separators=(",", ":")).encode()


def import_architecture(text: str | None) -> str:
    """The architecture an import of ``--platform`` records, as dockerd 20.10's: the platform
    parsed as containerd does, then only its OS kept — the image is linux with this machine's
    architecture and no variant (its ``Architecture: runtime.GOARCH``), and an OS other than
    linux is refused."""
    here = _platform.default()
    wanted = _platform.parse(text) if text else here
    if wanted.os != "linux":
        raise InvalidArgument("operating system is not supported")
    return here.architecture


def apply_changes(config: dict[str, Any], changes: list[str]) -> dict[str, Any]:
    for change in changes:
        word, _, rest = change.strip().partition(" ")
        cmd = word.upper()
        if cmd not in CHANGE_COMMANDS:
            raise InvalidArgument(f"{word.lower()} is not a valid change command")
        _APPLY[cmd](config, rest.strip())
    return config


def _exec_form(rest: str, shell: bool = True) -> list[str]:
    if rest.startswith("["):
        try:
            value = json.loads(rest)
            if isinstance(value, list) and all(isinstance(x, str) for x in value):
                return value
        except ValueError:
            pass
    return ["/bin/sh", "-c", rest] if shell else shlex.split(rest)


def _pairs(rest: str, what: str) -> list[tuple[str, str]]:
    words = shlex.split(rest)
    if words and "=" not in words[0]:  # legacy one-pair form: ENV KEY value with spaces
        key, _, value = rest.partition(" ")
        return [(key, value.strip())]
    out = []
    for w in words:
        key, eq, value = w.partition("=")
        if not eq or not key:
            raise InvalidArgument(f"{what} names can not be blank" if not key else f"Syntax error - can't find = in {w!r}. Must be of the form: name=value")
        out.append((key, value))
    return out


def _env(config: dict[str, Any], rest: str) -> None:
    env = list(config.get("Env") or [])
    for key, value in _pairs(rest, "ENV"):
        env = [e for e in env if e.partition("=")[0] != key] + [f"{key}={value}"]
    config["Env"] = env


def _label(config: dict[str, Any], rest: str) -> None:
    config["Labels"] = {**(config.get("Labels") or {}), **dict(_pairs(rest, "LABEL"))}


def _expose(config: dict[str, Any], rest: str) -> None:
    ports = dict(config.get("ExposedPorts") or {})
    for p in rest.split():
        ports[p if "/" in p else f"{p}/tcp"] = {}
    config["ExposedPorts"] = ports


def _volume(config: dict[str, Any], rest: str) -> None:
    vols = dict(config.get("Volumes") or {})
    for v in (_exec_form(rest, shell=False) if rest.startswith("[") else rest.split()):
        vols[v] = {}
    config["Volumes"] = vols


def _setter(key: str) -> Callable[[dict[str, Any], str], None]:
    def apply(config: dict[str, Any], rest: str) -> None:
        config[key] = rest

    return apply


def _cmd(key: str) -> Callable[[dict[str, Any], str], None]:
    def apply(config: dict[str, Any], rest: str) -> None:
        config[key] = _exec_form(rest)

    return apply


def _healthcheck(config: dict[str, Any], rest: str) -> None:
    """As the Dockerfile instruction (flags, ``NONE``, exec or shell form), same words."""
    from ..build.errors import DockerfileParseError
    from ..build.instructions import Healthcheck, from_raw
    from ..build.syntax import node_from_line
    try:
        inst = from_raw(node_from_line(f"HEALTHCHECK {rest}", "\\"))
    except DockerfileParseError as exc:
        raise InvalidArgument(exc.message) from None
    assert isinstance(inst, Healthcheck)
    config["Healthcheck"] = {key: value for key, value in (
        ("Test", list(inst.test)), ("Interval", inst.interval), ("Timeout", inst.timeout),
        ("StartPeriod", inst.start_period), ("StartInterval", inst.start_interval),
        ("Retries", inst.retries)) if value}


def _onbuild(config: dict[str, Any], rest: str) -> None:
    config["OnBuild"] = [*(config.get("OnBuild") or []), rest]


_APPLY: dict[str, Callable[[dict[str, Any], str], None]] = {
    "CMD": _cmd("Cmd"),
    "ENTRYPOINT": _cmd("Entrypoint"),
    "ENV": _env,
    "LABEL": _label,
    "EXPOSE": _expose,
    "HEALTHCHECK": _healthcheck,
    "VOLUME": _volume,
    "USER": _setter("User"),
    "WORKDIR": _setter("WorkingDir"),
    "STOPSIGNAL": _setter("StopSignal"),
    "ONBUILD": _onbuild,
}

