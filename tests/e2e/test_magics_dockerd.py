"""The magics in a real IPython shell against a private real dockerd (docker-py end to end)."""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from dockyard.testing.dockerd import Dockerd
from dockyard.testing.fifogate import FifoGate
from dockyard_jupyter import client as clients

pytestmark = pytest.mark.interop


@pytest.fixture
def shell(real_dockerd: Dockerd, monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    monkeypatch.setenv("DOCKYARD_HOST", real_dockerd.host)
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "dockyard_jupyter")
    yield ip
    clients.forget_client(real_dockerd.host)


@pytest.fixture
def engine(real_dockerd: Dockerd) -> Iterator[docker.DockerClient]:
    client = real_dockerd.client()
    yield client
    client.close()


def docker_(ip: InteractiveShell, line: str) -> object:
    return ip.run_line_magic("docker", line)


def container_ids(engine: docker.DockerClient) -> set[str]:
    return {c.id for c in engine.containers.list(all=True)}


def test_images_table_and_quiet(shell: InteractiveShell, engine: docker.DockerClient) -> None:
    table = docker_(shell, "images")
    assert repr(table).splitlines()[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED",
                                                    "SIZE"]
    assert any(line.startswith("busybox ") for line in repr(table).splitlines())
    assert "<td>busybox</td>" in table._repr_html_()  # type: ignore[attr-defined]
    busybox_id = engine.images.get("busybox").id
    assert busybox_id.split(":")[1][:12] in docker_(shell, "images -q busybox")  # type: ignore


def test_run_streams_stdout_and_stderr_and_removes(
        shell: InteractiveShell, engine: docker.DockerClient,
        capsys: pytest.CaptureFixture[str]) -> None:
    before = container_ids(engine)
    code = docker_(shell, "run --rm --network none busybox sh -c 'echo out; echo err >&2; exit 3'")
    captured = capsys.readouterr()
    assert code == 3 and shell.user_ns["_exit_code"] == 3
    assert captured.out == "out\n"
    assert captured.err.startswith("err\n") and "exited with status 3" in captured.err
    assert container_ids(engine) == before


def test_raise_error_is_one_line(shell: InteractiveShell) -> None:
    with pytest.raises(UsageError, match=r"exited with status 7$"):
        docker_(shell, "run --rm --raise-error --network none busybox sh -c 'exit 7'")


def test_output_arrives_while_the_container_runs(shell: InteractiveShell, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The container prints "first", then waits on a gate this test opens only once "first"
    reached the cell's output: buffered output would never get there first."""
    gate = FifoGate(tmp_path / "gate", patience=60)

    class Recorder(io.StringIO):
        def write(self, text: str) -> int:
            super().write(text)
            if "first" in self.getvalue():
                gate.seen()
            return len(text)

    recorder = Recorder()
    monkeypatch.setattr(sys, "stdout", recorder)
    docker_(shell, f"run --rm --network none -v {gate.path}:/gate busybox "
                   "sh -c 'echo first; read x < /gate; echo second'")
    monkeypatch.undo()
    assert recorder.getvalue() == "first\nsecond\n"
    assert gate.opened_after_seen()


def test_interpolation_from_the_user_namespace(shell: InteractiveShell,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    shell.run_cell("word = 'dock'\n%docker run --rm --network none busybox echo {word.upper()} $word")
    assert capsys.readouterr().out == "DOCK dock\n"


def test_relative_volume_resolves_against_the_notebook_dir(
        shell: InteractiveShell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    docker_(shell, "run --rm --network none -v ./data:/data busybox sh -c 'echo hi > /data/out'")
    assert (tmp_path / "data" / "out").read_text() == "hi\n"


def test_detached_container_lifecycle(shell: InteractiveShell, engine: docker.DockerClient,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    c = docker_(shell, "run -d --name lifecycle --network none busybox sh -c 'echo ready; sleep 60'")
    try:
        assert "lifecycle" in c._repr_html_() and "running" in c._repr_html_()  # type: ignore
        assert "lifecycle" in repr(docker_(shell, "ps"))
        assert repr(docker_(shell, "inspect -f '{{.State.Status}}' lifecycle")) == "running"
        docker_(shell, "exec lifecycle echo from-exec")
        time.sleep(0.2)
        docker_(shell, "logs lifecycle")
        assert capsys.readouterr().out == "from-exec\nready\n"
        docker_(shell, "kill lifecycle")
        assert engine.containers.get("lifecycle").status == "exited"
        assert "lifecycle" not in repr(docker_(shell, "ps"))
        assert "lifecycle" in repr(docker_(shell, "ps -a"))
    finally:
        docker_(shell, "rm -f lifecycle")
    assert "lifecycle" not in {x.name for x in engine.containers.list(all=True)}


def test_dockerfile_cell_builds_step_by_step(shell: InteractiveShell, tmp_path: Path,
                                             engine: docker.DockerClient,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "app.txt").write_text("payload\n")
    cell = ("%%dockerfile -t nb-env:1 --context {ctx} --build-arg GREETING=hey\n"
            "FROM busybox\nARG GREETING\nENV G=$GREETING\nLABEL made.by=notebook\n"
            "COPY app.txt /app.txt\nRUN echo $G > /greeting\n")
    shell.user_ns["ctx"] = str(tmp_path)
    shell.run_cell(cell, store_history=True)
    out = capsys.readouterr().out
    assert "Step 1/6 : FROM busybox" in out and "Successfully tagged nb-env:1" in out
    image = shell.user_ns["_"]
    assert image.tags == ["nb-env:1"] and image.labels == {"made.by": "notebook"}
    docker_(shell, "run --rm --network none nb-env:1 cat /app.txt /greeting")
    assert capsys.readouterr().out == "payload\nhey\n"
    docker_(shell, "rmi nb-env:1")
    assert "nb-env:1" not in {t for i in engine.images.list() for t in i.tags}


def test_dockerfile_error_is_one_line_and_leaves_no_container(
        shell: InteractiveShell, engine: docker.DockerClient) -> None:
    before = container_ids(engine)
    with pytest.raises(UsageError, match="Error response from daemon: .*returned a non-zero code"):
        shell.run_cell_magic("dockerfile", "", "FROM busybox\nRUN exit 4\n")
    assert container_ids(engine) == before


def test_build_tag_save_load(shell: InteractiveShell, tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch, engine: docker.DockerClient) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "Dockerfile").write_text("FROM busybox\nLABEL v=1\n")
    image = docker_(shell, "build -q -t built:1 -t built:2 ctx")
    assert sorted(image.tags) == ["built:1", "built:2"]  # type: ignore[attr-defined]
    docker_(shell, "tag built:1 localhost:5000/built:copy")
    docker_(shell, "save -o saved.tar built:1")
    assert (tmp_path / "saved.tar").stat().st_size > 1000
    docker_(shell, "rmi built:1 built:2 localhost:5000/built:copy")
    assert not engine.images.list(name="built")
    docker_(shell, "load -i saved.tar")
    assert engine.images.get("built:1").labels == {"v": "1"}
    docker_(shell, "rmi built:1")


def test_networks_volumes_and_system(shell: InteractiveShell, engine: docker.DockerClient,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    docker_(shell, "volume create nbvol")
    docker_(shell, "network create -d bridge --label a=b nbnet")
    try:
        assert "nbvol" in repr(docker_(shell, "volume ls"))
        assert "nbnet" in repr(docker_(shell, "network ls"))
        assert docker_(shell, "network inspect nbnet")[0]["Labels"] == {"a": "b"}  # type: ignore
        # a taken name is refused, as by the docker CLI (dockerd 20.10 makes a second network
        # unless the create asks it to check)
        with pytest.raises(UsageError, match="^Error response from daemon: network with name nbnet already exists$"):
            docker_(shell, "network create nbnet")
    finally:
        docker_(shell, "volume rm nbvol")
        docker_(shell, "network rm nbnet")
    assert "nbvol" not in {v.name for v in engine.volumes.list()}
    assert repr(docker_(shell, "system df")).splitlines()[0].split()[:2] == ["TYPE", "TOTAL"]
    assert docker_(shell, "version")["ApiVersion"] == "1.41"  # type: ignore[index]
    assert "ServerVersion" in docker_(shell, "info")  # type: ignore[operator]


@pytest.mark.parametrize(("line", "message"), [
    ("--host unix:///nonexistent/dockyard.sock images",
     (r"^Cannot connect to the dockyard daemon at unix:///nonexistent/dockyard.sock\. "
      r"Is the daemon running\? \(no such socket\)$")),
    ("run --bogus busybox", "unrecognized arguments: --bogus"),
    ("rmi no-such-image:here", "Error response from daemon: No such image: no-such-image:here"),
    ("login -u me -p secret", "refusing -p/--password"),
    ("", "usage: %docker"),
    ("run -i busybox", "-i is not supported"),
])
def test_bad_input_and_unreachable_daemon_are_one_line(shell: InteractiveShell, line: str,
                                                       message: str) -> None:
    with pytest.raises(UsageError, match=message) as info:
        docker_(shell, line)
    assert "\n" not in str(info.value)


def test_logs_follow_returns_when_the_container_exits(shell: InteractiveShell,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    c = docker_(shell, "run -d --network none busybox sh -c 'echo a; sleep 0.5; echo b'")
    try:
        docker_(shell, f"logs -f {c.id}")  # type: ignore[attr-defined]  # returns at the exit
        assert capsys.readouterr().out == "a\nb\n"
    finally:
        docker_(shell, f"rm -f {c.id}")  # type: ignore[attr-defined]


def test_exec_exit_status_and_raise_error(shell: InteractiveShell,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    c = docker_(shell, "run -d --name exec-target --network none busybox sleep 60")
    try:
        assert docker_(shell, "exec -e X=1 exec-target sh -c 'echo $X; exit 5'") == 5
        captured = capsys.readouterr()
        assert captured.out == "1\n" and "exec-target exited with status 5" in captured.err
        with pytest.raises(UsageError, match="exited with status 2"):
            docker_(shell, "exec --raise-error exec-target sh -c 'exit 2'")
    finally:
        docker_(shell, f"rm -f {c.id}")  # type: ignore[attr-defined]


def test_tty_run_and_usage_help(shell: InteractiveShell,
                                capsys: pytest.CaptureFixture[str]) -> None:
    docker_(shell, "run --rm -t --network none busybox echo tty")
    assert capsys.readouterr().out == "tty\r\n"                     # a terminal's line ending
    docker_(shell, "--help")
    assert "verbs: build, exec, images" in capsys.readouterr().out
    docker_(shell, "run --help")
    assert "--raise-error" in capsys.readouterr().out
