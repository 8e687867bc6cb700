"""Record the fidelity fixtures: build every Dockerfile case with a real dockerd and save what
it produced as ``tests/fixtures/dockerfiles/<case>/expected.json`` (see ``buildcompare``).

``python3 -m dockyard.testing.record_builds [--dockerd PATH] [CASE …]`` starts a private dockerd
(Debian's docker.io 20.10 unless ``--dockerd`` names another one; its directory goes first on
``PATH`` so that its own containerd and shim are used), loads the busybox test image, and builds
each case as ``case.json`` says (build args, target, platform): cases that ``require`` only the
classic builder with dockerd's classic builder (``DOCKER_BUILDKIT=0``, the Engine API's ``POST
/build``), the others with BuildKit through Debian's docker 20.10 CLI (``DOCKER_BUILDKIT=1``,
``--docker`` for another). The fixture says which dockerd (its ``/version``) and builder made it.

Nothing is fetched from a network: dockerd's proxy is a closed loopback port, so a pull fails at
once. A ``# syntax=docker/dockerfile:<version>`` line would make BuildKit pull that frontend
image; the case is built with the daemon's *built-in* Dockerfile frontend instead, the line
replaced by ``# escape=\\`` (the default: same line numbers, the directives after it still read
as directives), and the fixture notes it. A case the built-in frontend cannot build (a ``-labs``
syntax, flags newer than the daemon's BuildKit) is listed as skipped. A case that fails on dockerd
too is recorded as ``{"error": …}``: dockyard must fail it the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .buildcompare import Snapshot, case_context, snapshot_image
from .dockerd import DOCKERD, Dockerd, load_busybox, start_dockerd, stop_dockerd

CORPUS = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "dockerfiles"
DOCKER_2010 = "/usr/bin/docker"  # Debian's CLI: BuildKit built in, no buildx plugin needed
DEAD_PROXY = "http://127.0.0.1:9"  # the discard port, closed here: any registry request fails at once
SYNTAX_LINE = re.compile(r"#[ \t]*syntax[ \t]*=[ \t]*(\S+)[ \t]*\n")
BUILTIN_DIRECTIVE = "# escape=\\\n"


@dataclass
class Recorder:
    """The dockerd that records, the CLI that drives its BuildKit, and what the fixtures say."""
    daemon: Dockerd
    docker_cli: str
    version: str  # dockerd's /version "Version", e.g. "20.10.24+dfsg1"


def use_builtin_frontend(context: Path) -> str | None:
    """Replace a first-line ``# syntax=`` directive by a no-op one; the frontend it named, if any."""
    dockerfile = context / "Dockerfile"
    text = dockerfile.read_text()
    match = SYNTAX_LINE.match(text)
    if match is None:
        return None
    dockerfile.write_text(BUILTIN_DIRECTIVE + text[match.end():])
    return match.group(1)


def case_config(case: Path) -> dict[str, Any]:
    return dict(json.loads((case / "case.json").read_text()))


def builder_for(cfg: dict[str, Any]) -> str:
    return "classic" if cfg.get("requires") == "classic" else "buildkit"


def build_classic(daemon: Dockerd, case: Path, cfg: dict[str, Any], tag: str) -> str | None:
    """Build with dockerd's classic builder; the error text when the build fails."""
    client = daemon.client()
    try:
        for message in client.api.build(path=str(case), tag=tag, buildargs=cfg.get("build_args") or None,
                                        target=cfg.get("target"), rm=True, forcerm=True, decode=True,
                                        platform=cfg.get("target_platform"), network_mode="none"):
            if "error" in message:
                return str(message["error"]).strip()
        return None
    finally:
        client.close()


def build_buildkit(daemon: Dockerd, case: Path, cfg: dict[str, Any], tag: str,
                   docker_cli: str = DOCKER_2010) -> str | None:
    argv = [docker_cli, "build", "-q", "--network", "none", "-t", tag]
    for key, value in (cfg.get("build_args") or {}).items():
        argv += ["--build-arg", f"{key}={value}"]
    if cfg.get("target"):
        argv += ["--target", cfg["target"]]
    if cfg.get("target_platform"):
        argv += ["--platform", cfg["target_platform"]]
    env = {**os.environ, "DOCKER_HOST": daemon.host, "DOCKER_BUILDKIT": "1",
           "DOCKER_CONFIG": str(daemon.root / "cli")}
    result = subprocess.run([*argv, str(case)], env=env, capture_output=True, text=True, timeout=300, check=False)
    return None if result.returncode == 0 else (result.stderr.strip().splitlines() or ["failed"])[-1]


def record(rec: Recorder, case: Path) -> tuple[str, Snapshot | None]:
    """Build one case; (status line, snapshot or error record)."""
    cfg = case_config(case)
    builder = builder_for(cfg)
    tag = f"fidelity/{case.name}:latest"
    with case_context(case) as context:
        frontend = use_builtin_frontend(context) if builder == "buildkit" else None
        if builder == "classic":
            error = build_classic(rec.daemon, context, cfg, tag)
        else:
            error = build_buildkit(rec.daemon, context, cfg, tag, rec.docker_cli)
    meta: dict[str, Any] = {"recorded_with": f"dockerd {rec.version} {builder}"}
    if frontend is not None:
        meta["frontend"] = f"built-in (the Dockerfile's '# syntax={frontend}' line read as '# escape=\\')"
    if error is not None:
        if frontend is not None or "frontend" in error:
            return f"skipped ({builder}: {error[:120]})", None
        return f"error ({error[:120]})", {**meta, "error": error}
    client = rec.daemon.client()
    try:
        snap = snapshot_image(client.api, tag)
    finally:
        client.close()
    return f"recorded ({builder}, {len(snap['tree'])} paths)", {**meta, **snap}


def dump(snap: Snapshot) -> str:
    """JSON with one line per tree path (reviewable diffs, files a tenth the size)."""
    tree = snap.get("tree")
    head = json.dumps({k: v for k, v in snap.items() if k != "tree"}, indent=1, sort_keys=True)
    if tree is None:
        return head + "\n"
    rows = ",\n".join(f"  {json.dumps(path)}: {json.dumps(entry, sort_keys=True)}" for path, entry in tree.items())
    return head[:-2] + ',\n "tree": {\n' + rows + "\n }\n}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m dockyard.testing.record_builds", description=__doc__.split("\n")[0])
    parser.add_argument("cases", nargs="*", help="case directory names (default: all)")
    parser.add_argument("--dockerd", default=DOCKERD,
                        help="the dockerd to record with; its directory goes first on PATH (its containerd, shim, runc)")
    parser.add_argument("--docker", default=DOCKER_2010, help="the docker CLI driving BuildKit (DOCKER_BUILDKIT=1)")
    args = parser.parse_args(argv)
    cases = [CORPUS / name for name in args.cases] or sorted(p.parent for p in CORPUS.glob("*/case.json"))
    env = {**os.environ, "PATH": f"{Path(args.dockerd).parent}:{os.environ.get('PATH', '')}",
           "HTTP_PROXY": DEAD_PROXY, "HTTPS_PROXY": DEAD_PROXY, "NO_PROXY": ""}
    daemon = start_dockerd(binary=args.dockerd, env=env)
    try:
        load_busybox(daemon)
        client = daemon.client()
        try:
            version = str(client.version()["Version"])
        finally:
            client.close()
        rec = Recorder(daemon, args.docker, version)
        print(f"recording with dockerd {version} ({args.dockerd})", flush=True)
        for case in cases:
            status, snap = record(rec, case)
            if snap is not None:
                (case / "expected.json").write_text(dump(snap))
            print(f"{case.name}: {status}", flush=True)
    finally:
        stop_dockerd(daemon)
    return 0


if __name__ == "__main__":
    sys.exit(main())
