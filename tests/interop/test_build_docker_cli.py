"""The docker 28.x CLI's classic builder (and its fallback without buildx) and docker-py's
``images.build`` against the dockyard daemon's POST /build."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker.errors
import pytest

pytestmark = [pytest.mark.interop, pytest.mark.usefixtures("busybox_image", "dockyard_clean_images")]

DOCKER = shutil.which("docker") or "/usr/local/bin/docker"
Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def docker_cli(dockyard_daemon: Any, busybox_image: str, tmp_path: Path) -> Run:
    if os.geteuid() != 0:
        pytest.skip("RUN steps need root")
    env = {**os.environ, "DOCKER_HOST": dockyard_daemon.host, "DOCKER_CONFIG": str(tmp_path),
           "DOCKER_BUILDKIT": "0"}
    env.pop("DOCKER_CONTEXT", None)

    def run(*args: str, input: str | None = None, buildkit: str | None = "0",
            stdin: Any = None) -> Any:
        run_env = {k: v for k, v in env.items() if k != "DOCKER_BUILDKIT" or buildkit}
        if buildkit:
            run_env["DOCKER_BUILDKIT"] = buildkit
        return subprocess.run([DOCKER, *args], env=run_env, input=input, stdin=stdin,
                              capture_output=True, text=True, timeout=60, check=False)
    return run


@pytest.fixture
def context(tmp_path: Path) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nARG WHO=nobody\nCOPY msg.txt /msg\n"
                                    "RUN echo \"hello $WHO\" && cat /msg\nCMD [\"cat\", \"/msg\"]\n")
    (ctx / "msg.txt").write_text("from the context\n")
    (ctx / "secret.key").write_text("must not be sent")
    (ctx / ".dockerignore").write_text("*.key\n")
    return ctx


def test_classic_build_tags_args_and_iidfile(docker_cli: Run, context: Path,
                                             dockyard_client: Any) -> None:
    iid = context.parent / "iid"
    r = docker_cli("build", "-t", "clib:1", "-t", "clib:2", "--build-arg", "WHO=docker",
                   "--iidfile", str(iid), str(context))
    assert r.returncode == 0, r.stderr
    assert "Step 4/5 : RUN echo \"hello $WHO\" && cat /msg" in r.stdout
    assert "hello docker\nfrom the context\n" in r.stdout
    assert "Successfully tagged clib:1" in r.stdout and "Successfully tagged clib:2" in r.stdout
    image_id = iid.read_text().strip()
    assert dockyard_client.api.inspect_image("clib:2")["Id"] == image_id
    again = docker_cli("build", "-q", "--build-arg", "WHO=docker", str(context))
    assert again.stdout.strip() == image_id


def test_dockerfile_from_stdin_and_failing_run(docker_cli: Run, context: Path) -> None:
    r = docker_cli("build", "-q", "-f", "-", str(context), input="FROM busybox\nCOPY . /ctx\n"
                   "RUN test ! -e /ctx/secret.key && test -e /ctx/msg.txt\n")
    assert r.returncode == 0, r.stderr
    bad = docker_cli("build", "-f", "-", str(context), input="FROM busybox\nRUN exit 3\n")
    assert bad.returncode == 3  # errorDetail's code, as dockerd 20.10 sends it
    assert "The command '/bin/sh -c exit 3' returned a non-zero code: 3" in bad.stderr


def test_tarball_on_stdin_label_and_network(docker_cli: Run, context: Path,
                                            dockyard_client: Any) -> None:
    """``docker build - < ctx.tar`` (the context is the tarball), ``--label``, ``--network``."""
    import tarfile

    (context / "Dockerfile").write_text("FROM busybox\nCOPY msg.txt /m\n"
                                        "RUN cat /proc/net/dev | tail -n +3 | wc -l > /nets\n")
    tar_path = context.parent / "ctx.tar"
    with tarfile.open(tar_path, "w", format=tarfile.USTAR_FORMAT) as tar:  # the CLI sniffs
        # 512 bytes: a PAX header first would make it send the tar as a Dockerfile
        tar.add(context, arcname=".")
    with open(tar_path, "rb") as stdin:
        r = docker_cli("build", "-q", "--label", "from=stdin", "--network", "host", "-t",
                       "clitar:1", "-", stdin=stdin)
    assert r.returncode == 0, r.stderr
    inspect = dockyard_client.api.inspect_image("clitar:1")
    assert r.stdout.strip() == inspect["Id"] and inspect["Config"]["Labels"] == {"from": "stdin"}
    upper = Path(inspect["GraphDriver"]["Data"]["UpperDir"])
    assert int((upper / "nets").read_text()) > 1  # the host's interfaces, not just lo


def test_without_docker_buildkit_the_cli_falls_back_to_the_classic_builder(
        docker_cli: Run, context: Path) -> None:
    """/_ping says Builder-Version 1; the 28.x CLI without a buildx plugin then uses the
    legacy builder (printing its deprecation notice) instead of failing."""
    r = docker_cli("build", "-q", str(context), buildkit=None)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("sha256:")
    assert "legacy builder is deprecated" in r.stderr


def test_docker_py_images_build_streams_steps(dockyard_client: Any, busybox_image: str,
                                              context: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("RUN steps need root")
    image, logs = dockyard_client.images.build(path=str(context), tag="pyb:1",
                                               buildargs={"WHO": "py"})
    lines = "".join(chunk.get("stream", "") for chunk in logs)
    assert "Step 1/5 : FROM busybox" in lines and "hello py\n" in lines
    assert image.tags == ["pyb:1"]
    with pytest.raises(docker.errors.BuildError) as info:
        dockyard_client.images.build(fileobj=__import__("io").BytesIO(b"FROM busybox\nRUN false\n"))
    assert "returned a non-zero code: 1" in str(info.value)


def test_the_cli_shows_a_base_images_pull_as_docker_pull_does(
        docker_cli: Run, tmp_path: Path, dockyard_registry: Any) -> None:
    """``docker build`` of a base only the registry (on loopback) has: the pull's lines after
    ``Step 1/2 : FROM``, before the step's `` ---> <id>``; a base that cannot be pulled ends
    the build with dockerd's one-line message."""
    from dockyard.testing.busybox import make_image
    from dockyard.testing.registry import push_image

    image = make_image("cli/base:1", extra_files={"/note": os.urandom(8).hex().encode()})
    push_image(dockyard_registry.url, "cli/base", image)
    name = f"{dockyard_registry.host}/cli/base:1"
    ctx = tmp_path / "pull"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM {name}\nRUN cat /note\n")
    r = docker_cli("build", str(ctx))
    assert r.returncode == 0, r.stderr
    layer = image.layers[1].digest[7:19]
    expected = [f"Step 1/2 : FROM {name}\n1: Pulling from cli/base\n",
                f"{image.layers[0].digest[7:19]}: Already exists\n", f"{layer}: Pulling fs layer\n",
                f"{layer}: Pull complete\nDigest: {image.manifest.digest}\n",
                f"Status: Downloaded newer image for {name}\n ---> {image.config.digest[7:19]}\n",
                "Step 2/2 : RUN cat /note\n"]
    at = [r.stdout.find(part) for part in expected]
    assert -1 not in at and at == sorted(at), r.stdout
    (ctx / "Dockerfile").write_text(f"FROM {dockyard_registry.host}/cli/nope:1\nRUN true\n")
    bad = docker_cli("build", str(ctx))
    assert bad.returncode == 1 and bad.stdout.endswith(f"Step 1/2 : FROM {dockyard_registry.host}/cli/nope:1\n")
    assert bad.stderr.splitlines()[-1] == (f"repository {dockyard_registry.host}/cli/nope not found: "
                                           "name unknown: repository name not known to registry")


def test_docker_py_images_build_logs_a_base_images_pull(dockyard_client: Any,
                                                        dockyard_registry: Any) -> None:
    """docker-py's ``images.build`` on a base only the registry has: the logs it returns hold
    the pull's messages after the FROM step; a base that cannot be pulled is a BuildError
    with dockerd's message."""
    import io

    from dockyard.testing.busybox import make_image
    from dockyard.testing.registry import push_image

    image = make_image("py/base:1", extra_files={"/note": os.urandom(8).hex().encode()})
    push_image(dockyard_registry.url, "py/base", image)
    name = f"{dockyard_registry.host}/py/base:1"
    built, logs = dockyard_client.images.build(fileobj=io.BytesIO(f"FROM {name}\nLABEL k=v\n".encode()))
    chunks = list(logs)
    assert built.labels == {"k": "v"}
    assert chunks[0] == {"stream": f"Step 1/2 : FROM {name}\n"}
    assert chunks[1] == {"status": "Pulling from py/base", "id": "1"}
    statuses = [c.get("status") for c in chunks]
    assert statuses.index(f"Status: Downloaded newer image for {name}") \
        < chunks.index({"stream": "Step 2/2 : LABEL k=v\n"})
    with pytest.raises(docker.errors.BuildError) as info:
        dockyard_client.images.build(fileobj=io.BytesIO(f"FROM {name[:-2]}:2\n".encode()))
    assert str(info.value) == f"manifest for {name[:-2]}:2 not found: manifest unknown: manifest unknown"
