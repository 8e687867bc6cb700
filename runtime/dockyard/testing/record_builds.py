"""Record the fidelity fixtures: build every Dockerfile case with a real dockerd and save what
it produced as ``tests/fixtures/dockerfiles/<case>/expected.json`` (see ``buildcompare``).

``python3 -m dockyard.testing.record_builds [CASE …]`` starts a private dockerd (Debian's
docker.io 20.10), loads the busybox test image, and builds each case as ``case.json`` says
(build args, target, platform): cases that ``require`` only the classic builder with dockerd's
classic builder (``DOCKER_BUILDKIT=0``, the Engine API's ``POST /build``), the others with
BuildKit through Debian's docker 20.10 CLI (``DOCKER_BUILDKIT=1``). Nothing is fetched from a
network, so a case whose ``# syntax=`` frontend must be pulled cannot be recorded; it is listed
as skipped. A case that fails on dockerd too is recorded as ``{"error": …}``: dockyard must
fail it the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from .buildcompare import Snapshot, case_context, snapshot_image
from .dockerd import Dockerd, load_busybox, start_dockerd, stop_dockerd

CORPUS = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "dockerfiles"
DOCKER_2010 = "/usr/bin/docker"  # Debian's CLI: BuildKit built in, no buildx plugin needed
DOCKERD_VERSION = "20.10"


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


def build_buildkit(daemon: Dockerd, case: Path, cfg: dict[str, Any], tag: str) -> str | None:
    argv = [DOCKER_2010, "build", "-q", "--network", "none", "-t", tag]
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


def record(daemon: Dockerd, case: Path) -> tuple[str, Snapshot | None]:
    """Build one case; (status line, snapshot or error record)."""
    cfg = case_config(case)
    builder = builder_for(cfg)
    tag = f"fidelity/{case.name}:latest"
    build = build_classic if builder == "classic" else build_buildkit
    with case_context(case) as context:
        error = build(daemon, context, cfg, tag)
    recorded_with = f"dockerd {DOCKERD_VERSION} {builder}"
    if error is not None:
        if "syntax" in (case / "Dockerfile").read_text().split("\n", 1)[0] or "frontend" in error:
            return f"skipped ({builder}: {error[:120]})", None
        return f"error ({error[:120]})", {"recorded_with": recorded_with, "error": error}
    client = daemon.client()
    try:
        snap = snapshot_image(client.api, tag)
    finally:
        client.close()
    return f"recorded ({builder}, {len(snap['tree'])} paths)", {"recorded_with": recorded_with, **snap}


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
    args = parser.parse_args(argv)
    cases = [CORPUS / name for name in args.cases] or sorted(p.parent for p in CORPUS.glob("*/case.json"))
    daemon = start_dockerd()
    try:
        load_busybox(daemon)
        for case in cases:
            status, snap = record(daemon, case)
            if snap is not None:
                (case / "expected.json").write_text(dump(snap))
            print(f"{case.name}: {status}", flush=True)
    finally:
        stop_dockerd(daemon)
    return 0


if __name__ == "__main__":
    sys.exit(main())
