"""``dockyard build`` / ``dockyard builder prune`` against the builder's own daemon."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

from buildhelp import write_context

from dockyard.testing.daemon import DaemonProcess


def _dockyard(daemon: DaemonProcess, *args: str, input: bytes | None = None
              ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOCKYARD_HOST": daemon.host}
    r = subprocess.run([sys.executable, "-m", "dockyard.cli.main", *args], env=env, input=input,
                       capture_output=True, timeout=60, check=False)
    return subprocess.CompletedProcess(r.args, r.returncode, r.stdout.decode(), r.stderr.decode())


def test_build_flags_step_view_and_iidfile(daemon: DaemonProcess, client: Any,
                                           tmp_path: Path) -> None:
    ctx = write_context(tmp_path / "ctx", {
        "Dockerfile": "FROM busybox\nARG WHO\nCOPY . /ctx\nRUN echo hi $WHO; ls /ctx\n",
        "keep.txt": "k", "drop.log": "d", ".dockerignore": "*.log\n"})
    iid = tmp_path / "iid"
    r = _dockyard(daemon, "build", "-t", "cli:a", "-t", "cli:b", "--build-arg", "WHO=you",
                  "--label", "l=1", "--iidfile", str(iid), str(ctx))
    assert r.returncode == 0, r.stderr
    assert "=> [4/5] RUN echo hi $WHO; ls /ctx" in r.stdout
    assert "   | hi you" in r.stdout and "   | keep.txt" in r.stdout
    assert "drop.log" not in r.stdout
    assert "=> tagged cli:b" in r.stdout
    image_id = iid.read_text()
    assert client.api.inspect_image("cli:a")["Id"] == image_id
    assert client.api.inspect_image("cli:a")["Config"]["Labels"] == {"l": "1"}
    again = _dockyard(daemon, "build", "-q", "--build-arg", "WHO=you", "--label", "l=1", str(ctx))
    assert again.stdout.strip() == image_id
    (ctx / "docker").mkdir()
    (ctx / "docker" / "Other.dockerfile").write_text("FROM busybox\nCOPY keep.txt /k\n")
    other = _dockyard(daemon, "build", "-q", "-f", "docker/Other.dockerfile", "-t", "cli:f",
                      str(ctx))
    assert other.returncode == 0, other.stderr
    history = client.api.history("cli:f")
    assert history[0]["CreatedBy"].startswith("/bin/sh -c #(nop) COPY file:")


def test_stdin_dockerfile_stdin_tar_and_errors(daemon: DaemonProcess, tmp_path: Path) -> None:
    ctx = write_context(tmp_path / "ctx", {"a.txt": "A"})
    r = _dockyard(daemon, "build", "-q", "-f", "-", str(ctx),
                  input=b"FROM busybox\nCOPY a.txt /\nRUN test \"$(cat /a.txt)\" = A\n")
    assert r.returncode == 0 and r.stdout.startswith("sha256:"), r.stderr
    tar_path = tmp_path / "ctx.tar"
    with tarfile.open(tar_path, "w:gz") as tar:
        (ctx / "Dockerfile").write_text("FROM busybox\nCOPY a.txt /b.txt\n")
        tar.add(ctx, arcname=".")
    r = _dockyard(daemon, "build", "-q", "-", input=tar_path.read_bytes())
    assert r.returncode == 0 and r.stdout.startswith("sha256:"), r.stderr
    bad = _dockyard(daemon, "build", "-f", "-", str(ctx), input=b"FROM busybox\nRUN exit 4\n")
    assert bad.returncode == 1
    assert bad.stderr.strip() == ("dockyard: The command '/bin/sh -c exit 4' returned a "
                                  "non-zero code: 4")
    (ctx / "Dockerfile").write_text("FROM busybox\n\nRUN true\nFOO bar\nRUN x\n")
    syntax = _dockyard(daemon, "build", str(ctx))
    assert syntax.returncode == 1
    assert syntax.stderr == ("Dockerfile:4\n--------------------\n   2 |     \n   3 |     RUN true\n"
                             "   4 | >>> FOO bar\n   5 |     RUN x\n   6 |     \n"
                             "--------------------\n"
                             "dockyard: dockerfile parse error line 4: unknown instruction: FOO\n")
    piped = _dockyard(daemon, "build", "-f", "-", str(ctx), input=b"FROM busybox\nRUN a \\\n  b\n"
                      b"COPY --nope=1 a b\n")
    assert piped.stderr.startswith("Dockerfile:4\n") and " >>> COPY --nope=1 a b" in piped.stderr
    missing = _dockyard(daemon, "build", str(tmp_path / "nope"))
    assert missing.returncode == 1 and "unable to prepare context" in missing.stderr


def test_secret_mount_and_builder_prune(daemon: DaemonProcess, tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("s3cret")
    ctx = write_context(tmp_path / "ctx", {"Dockerfile": (
        "FROM busybox\nRUN --mount=type=secret,id=token test \"$(cat /run/secrets/token)\" = s3cret"
        " && echo ok > /checked\n")})
    r = _dockyard(daemon, "build", "--secret", f"id=token,src={secret}", str(ctx))
    assert r.returncode == 0, r.stdout + r.stderr
    r = _dockyard(daemon, "builder", "prune", "-f")
    assert r.returncode == 0 and "Total reclaimed space:" in r.stdout
