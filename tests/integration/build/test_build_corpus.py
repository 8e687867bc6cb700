"""The Dockerfile corpus (tests/fixtures/dockerfiles) built on the dockyard daemon.

Each case must build (a case that needs something this machine lacks fails exactly as
expected), its image config must match what the front end's resolution of the Dockerfile
says (ENV, labels, ports, volumes, user, workdir, stop signal, CMD/ENTRYPOINT, healthcheck,
history length, layer count bound), chosen files must be in the image with the right content,
mode and owner, and a rebuild must be served entirely from the cache.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from buildhelp import Built

from dockyard.build.dockerfile import ResolvedBuild, ResolvedStage, parse, resolve
from dockyard.build.instructions import (
    Add,
    Cmd,
    Copy,
    Entrypoint,
    Expose,
    Healthcheck,
    Label,
    Run,
    StopSignal,
    User,
    Volume,
    Workdir,
)

CORPUS = Path(__file__).parents[2] / "fixtures" / "dockerfiles"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "case.json").is_file())
UNAVAILABLE = {"04-nonroot-user": ("Debian's busybox-static has no addgroup/adduser applets",
                                   "returned a non-zero code: 127")}
# path -> expected text, or (mode, uid) for metadata checks; None = must not exist
FILES: dict[str, dict[str, Any]] = {
    "03-multistage-compile": {"/usr/local/bin/app": (0o755, 0)},
    "05-heredoc-run": {"/opt/demo/one": "built at stage one\n",
                       "/opt/demo/two": "tabs stripped\n", "/opt/demo/four": "second $HOME\n"},
    "06-heredoc-copy": {"/etc/motd": 'hello from "dockyard"\n',
                        "/etc/raw.txt": "$GREETING stays literal\n",
                        "/opt/both/one": "1\n", "/opt/both/two": "2\n"},
    "07-cache-mount": {"/log": "cached\n"},
    "20-copy-flags": {"/usr/local/bin/script": (0o755, 0), "/data/a": (None, 1000),
                      "/data/b/c": (None, 1000), "/texts/one.txt": (None, 0),
                      "/spaced/file with space.txt": (None, 0)},
    "21-add-local-tar": {"/opt/pkg/README": (0o644, 0), "/opt/pkg/bin/tool": (0o755, 0),
                         "/opt/plain.txt": (None, 0)},
    "30-mount-bind-from-stage": {"/copied": "artifact\n"},
    "31-secret-mount": {"/secret-state": "absent\n"},
    "32-tmpfs-network": {"/from-tmpfs": "temp\n", "/scratch/t": None},
    "35-scratch-final": {"/etc/message": "static content\n", "/bin/busybox": None},
    "36-copy-parents-exclude": {"/configs/src/a/config.json": (None, 0),
                                "/configs/src/b/config.json": (None, 0),
                                "/docs/guide.txt": (None, 0), "/docs/README.md": None,
                                "/docs/tmp": None},
    "37-copy-link-add-flags": {"/app/app.txt": (None, 0), "/app/private.txt": (0o600, 0)},
}


def _resolve(case: Path, cfg: dict[str, Any], base_env: list[str]) -> ResolvedBuild:
    return resolve(parse((case / "Dockerfile").read_bytes()), cfg.get("build_args") or {},
                   cfg.get("target"), target_platform=cfg.get("target_platform"),
                   image_env=lambda _n, _p: base_env)


def _chain(build: ResolvedBuild) -> list[ResolvedStage]:
    stage: ResolvedStage | None = build.target_stage
    chain: list[ResolvedStage] = []
    while stage is not None:
        chain.insert(0, stage)
        stage = build.stage(stage.base_stage) if stage.base_stage is not None else None
    return chain


def _expected(build: ResolvedBuild, base: dict[str, Any]) -> dict[str, Any]:
    """The config the target stage's instructions imply (classic/BuildKit semantics)."""
    env = dict(build.target_stage.config_env)
    env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    out: dict[str, Any] = {"Env": env, "Labels": {}, "ExposedPorts": set(), "Volumes": set()}
    shell = ["/bin/sh", "-c"]
    for stage in _chain(build):
        for inst in stage.instructions:
            if isinstance(inst, Label):
                out["Labels"].update({p.key: p.value for p in inst.pairs})
            elif isinstance(inst, Expose):
                out["ExposedPorts"].update(inst.ports)
            elif isinstance(inst, Volume):
                out["Volumes"].update(inst.paths)
            elif isinstance(inst, (User, StopSignal)):
                out[type(inst).__name__] = inst.user if isinstance(inst, User) else inst.signal
            elif isinstance(inst, Workdir):
                out["WorkingDir"] = os.path.join(out.get("WorkingDir", "/"), inst.path)
            elif isinstance(inst, (Cmd, Entrypoint)):
                argv = [*shell, " ".join(inst.command)] if inst.shell_form else list(inst.command)
                out[type(inst).__name__] = argv
                if isinstance(inst, Entrypoint):
                    out.pop("Cmd", None)
            elif isinstance(inst, Healthcheck):
                out["Healthcheck"] = list(inst.test)
    out["steps"] = sum(len(s.instructions) for s in _chain(build))
    out["fs_steps"] = sum(isinstance(i, (Run, Copy, Add, Workdir))
                          for s in _chain(build) for i in s.instructions)
    return out


def _check_config(config: dict[str, Any], want: dict[str, Any]) -> None:
    assert dict(e.split("=", 1) for e in config["Env"]) == want["Env"]
    assert (config.get("Labels") or {}) == want["Labels"]
    assert set(config.get("ExposedPorts") or {}) == want["ExposedPorts"]
    assert set(config.get("Volumes") or {}) == want["Volumes"]
    assert config.get("User", "") == want.get("User", "")
    assert config.get("WorkingDir", "") == want.get("WorkingDir", "")
    assert config.get("StopSignal") == want.get("StopSignal")
    for key in ("Cmd", "Entrypoint"):
        if key in want:
            assert config[key] == want[key], key
    if "Healthcheck" in want:
        assert config["Healthcheck"]["Test"] == want["Healthcheck"]


def _layers(inspect: dict[str, Any]) -> list[Path]:
    """The image's layer dirs, top first (GraphDriver names the snapshot dirs)."""
    data = inspect["GraphDriver"]["Data"]
    lowers = data.get("LowerDir", "")
    return [Path(data["UpperDir"]), *(Path(p) for p in lowers.split(":") if p)]


def _lookup(layers: list[Path], path: str) -> Path | None:
    rel = path.lstrip("/")
    for layer in layers:
        candidate = layer / rel
        if os.path.lexists(candidate):
            st = os.lstat(candidate)
            return None if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0 else candidate
    return None


def _check_files(inspect: dict[str, Any], files: dict[str, Any]) -> None:
    layers = _layers(inspect)
    for path, want in files.items():
        found = _lookup(layers, path)
        if want is None:
            assert found is None, f"{path} should not be in the image"
            continue
        assert found is not None, f"{path} missing from the image"
        if isinstance(want, str):
            assert found.read_text() == want, path
        else:
            st = os.lstat(found)
            mode, uid = want
            assert mode is None or stat.S_IMODE(st.st_mode) == mode, path
            assert st.st_uid == uid, path


@pytest.mark.parametrize("name", CASES)
def test_corpus_case(name: str, build: Callable[..., Built], client: Any) -> None:
    case = CORPUS / name
    cfg = json.loads((case / "case.json").read_text())
    kwargs: dict[str, Any] = {"buildargs": cfg.get("build_args") or None,
                              "target": cfg.get("target") or None,
                              "platform": cfg.get("target_platform")}
    got = build(path=case, **kwargs)
    if name in UNAVAILABLE:
        _reason, error = UNAVAILABLE[name]
        assert got.error is not None and error in got.error
        return
    assert got.error is None, got.text
    inspect = client.api.inspect_image(got.image_id)
    base = client.api.inspect_image("busybox:latest")
    resolved = _resolve(case, cfg, base["Config"]["Env"])
    want = _expected(resolved, base)
    _check_config(inspect["Config"], want)
    from_scratch = _chain(resolved)[0].base == "scratch"
    base_history = 0 if from_scratch else len(client.api.history("busybox:latest"))
    assert len(client.api.history(got.image_id)) == base_history + want["steps"]
    base_layers = 0 if from_scratch else len(base["RootFS"]["Layers"])
    assert len(inspect["RootFS"]["Layers"]) <= base_layers + want["fs_steps"]
    _check_files(inspect, FILES.get(name, {}))
    again = build(path=case, **kwargs)
    all_steps = sum(len(stage.instructions) for stage in resolved.stages)
    assert again.image_id == got.image_id and again.cached == all_steps, again.text
