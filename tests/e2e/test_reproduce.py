"""Reproducibility: builds, pushes and runs land in dockyard.lock.json beside the notebook, and
``%docker reproduce`` pulls the pushed digest or rebuilds on the pinned base."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from dockyard.testing.dockerd import Dockerd
from dockyard.testing.registry import DistributionProcess
from dockyard_jupyter import client as clients

pytestmark = [pytest.mark.interop, pytest.mark.slow]


@pytest.fixture
def shell(real_dockerd: Dockerd, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    monkeypatch.setenv("DOCKYARD_HOST", real_dockerd.host)
    monkeypatch.chdir(tmp_path)
    ip = InteractiveShell.instance()
    ip.extension_manager.load_extension("dockyard_jupyter")
    magics = ip.magics_manager.registry["DockerMagics"]
    magics.lock_file = True
    yield ip
    magics.lock_file = None
    clients.forget_client(real_dockerd.host)


def test_lock_records_and_reproduce_restores(shell: InteractiveShell, tmp_path: Path,
                                             real_dockerd: Dockerd,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    docker_ = lambda line: shell.run_line_magic("docker", line)
    engine = real_dockerd.client()
    with DistributionProcess() as registry:
        remote = f"{registry.host}/repro/app:1"
        try:
            image = shell.run_cell_magic("dockerfile", "-t repro/app:1 --build-arg V=7",
                                         "FROM busybox\nARG V\nRUN echo $V > /v\n")
            docker_("run --rm --network none repro/app:1 cat /v")
            docker_(f"tag repro/app:1 {remote}")
            docker_(f"push {remote}")
            lock = json.loads((tmp_path / "dockyard.lock.json").read_text())
            entry = lock["images"]["repro/app:1"]
            assert entry["build_args"] == {"V": "7"} and entry["image_id"] == image.id
            assert entry["base_images"] == {"busybox": engine.images.get("busybox").id}
            assert list(entry["pushed"]) == [remote]
            assert entry["pushed"][remote].startswith("sha256:")
            assert lock["runs"] == {"repro/app:1": image.id}

            docker_(f"rmi repro/app:1 {remote}")
            [pulled] = docker_("reproduce")
            assert pulled.id == image.id and "repro/app:1" in pulled.tags
            assert f"pulling {registry.host}/repro/app@sha256:" in capsys.readouterr().out

            docker_(f"rmi -f {image.id}")
            [rebuilt] = docker_("reproduce --build repro/app:1")
            capsys.readouterr()
            docker_("run --rm --network none repro/app:1 cat /v")
            assert capsys.readouterr().out == "7\n" and "repro/app:1" in rebuilt.tags
            with pytest.raises(UsageError, match="is not recorded"):
                docker_("reproduce nothing:here")
        finally:
            for ref in ("repro/app:1", remote):
                try:
                    engine.images.remove(ref, force=True)
                except docker.errors.NotFound:
                    pass
            engine.close()
