"""POST /build end to end through docker-py: the classic stream, image config and history as
dockerd 20.10's classic builder makes them (tests/fixtures/dockerd-20.10-build.json), RUN
output, errors, and nothing left behind by a failing step."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker.errors
import pytest
from buildhelp import Built

from dockyard.testing.daemon import DaemonProcess

FIXTURE = Path(__file__).parents[2] / "fixtures" / "dockerd-20.10-build.json"
DOCKERFILE = """FROM busybox:latest
ENV GREETING=hello
COPY hello.txt /hello.txt
RUN echo "$GREETING" > /greeting && mkdir -p /data
LABEL org.example.fixture=dockyard
CMD ["cat", "/greeting"]
"""


def _reference() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FIXTURE.read_text())["images"][0]
    return data


def test_fixture_dockerfile_matches_dockerd(build: Callable[..., Built], client: Any) -> None:
    got = build({"Dockerfile": DOCKERFILE, "hello.txt": "hello from the build context\n"},
                tag="built:v1")
    assert got.error is None, got.text
    ref = _reference()
    inspect = client.api.inspect_image("built:v1")
    for key in ("Env", "Cmd", "Labels", "Entrypoint", "WorkingDir", "User", "Volumes"):
        assert inspect["Config"][key] == ref["inspect"]["Config"][key], key
    assert len(inspect["RootFS"]["Layers"]) == len(ref["inspect"]["RootFS"]["Layers"])
    assert inspect["Parent"] == inspect["Config"]["Image"] != ""
    history = client.api.history("built:v1")
    mine = [h["CreatedBy"] for h in history]
    theirs = [h["CreatedBy"] for h in ref["history"]]
    assert mine == theirs  # COPY's file:<hash> included: the classic builder's tarsum
    assert [h["Size"] for h in history] == [h["Size"] for h in ref["history"]]
    assert [h["Id"] != "<missing>" for h in history] == [h["Id"] != "<missing>" for h in ref["history"]]
    steps = [line for line in got.text.splitlines() if line.startswith("Step ")]
    assert steps[0] == "Step 1/6 : FROM busybox:latest"
    assert steps[5] == 'Step 6/6 : CMD ["cat", "/greeting"]'
    assert got.text.endswith("Successfully tagged built:v1\n")
    assert f"Successfully built {got.image_id.removeprefix('sha256:')[:12]}" in got.text  # type: ignore[union-attr]


def test_run_output_streams_and_changes_land_in_the_layer(build: Callable[..., Built],
                                                          client: Any) -> None:
    got = build({"Dockerfile": "FROM busybox\nRUN echo out; echo err >&2; echo x > /made\n"
                 "CMD cat /made\n"}, tag="runout:1")
    assert got.error is None
    lines = got.text.splitlines()
    running = next(i for i, line in enumerate(lines) if line.startswith(" ---> Running in"))
    assert "out" in lines[running + 1:running + 3] and "err" in lines[running + 1:running + 3]
    cfg = client.api.inspect_image("runout:1")["Config"]
    assert cfg["Cmd"] == ["/bin/sh", "-c", "cat /made"]


def test_failing_run_is_reported_classically_and_leaves_nothing(
        build: Callable[..., Built], daemon: DaemonProcess, client: Any) -> None:
    images = {i["Id"] for i in client.api.images(all=True)}
    got = build({"Dockerfile": "FROM busybox\nRUN echo before && false\n"})
    assert got.error == "The command '/bin/sh -c echo before && false' returned a non-zero code: 1"
    assert "before\n" in got.text
    cid = got.text.split(" ---> Running in ")[1][:12]
    assert client.api.containers(all=True) == [] and {i["Id"] for i in client.api.images(all=True)} == images
    assert not [p for p in os.listdir("/proc") if p.isdigit() and _in_cgroup_of(p, cid)]
    snapshots = daemon.root / "snapshots"
    assert not [p for p in os.listdir(snapshots) if p.startswith("tmp-")]
    deadline = time.monotonic() + 10  # the context is removed in the background
    while os.listdir(daemon.root / "build" / "tmp") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert os.listdir(daemon.root / "build" / "tmp") == []
    with open("/proc/self/mountinfo") as f:  # but the data root's own shared bind (daemonroot)
        assert not [line for line in f if str(daemon.root) in line and line.split()[4] != str(daemon.root)]


def _in_cgroup_of(pid: str, cid: str) -> bool:
    try:
        return cid in Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:
        return False


def test_errors_before_anything_runs(build: Callable[..., Built], client: Any) -> None:
    before = {i["Id"] for i in client.api.images(all=True)}
    with pytest.raises(docker.errors.APIError) as info:
        build({"Dockerfile": "FROM busybox\nRUN true\nCOPY missing.txt /\n"})
    assert "missing.txt" in str(info.value)
    with pytest.raises(docker.errors.APIError) as info:
        build({"Dockerfile": "FROM busybox AS a\nRUN true\n"}, target="nope")
    assert "failed to reach build target nope" in str(info.value)
    with pytest.raises(docker.errors.APIError) as info:
        build({"Dockerfile": "FROM busybox\nFOO bar\n"})
    assert info.value.explanation == "dockerfile parse error line 2: unknown instruction: FOO"
    with pytest.raises(docker.errors.APIError) as info:
        build({"Dockerfile": "FROM busybox\nCOPY ../../etc/passwd /x\n"})
    assert "file not found in build context" in str(info.value)
    assert {i["Id"] for i in client.api.images(all=True)} == before


def test_multistage_target_and_copy_from(build: Callable[..., Built], client: Any) -> None:
    dockerfile = """FROM busybox AS one
RUN echo one > /one
FROM busybox AS two
RUN echo two > /two
FROM busybox AS unused
RUN false
FROM busybox
COPY --from=one /one /got/one
COPY --from=1 /two /got/two
RUN cat /got/one /got/two > /both
"""
    got = build({"Dockerfile": dockerfile}, tag="multi:1")
    assert got.error is None, got.text
    assert "Step 1/8 : FROM busybox AS one" in got.text
    assert "RUN false" not in got.text
    got = build({"Dockerfile": dockerfile}, target="two", tag="multi:two")
    assert got.error is None and "Step 2/2 : RUN echo two > /two" in got.text
    assert client.api.inspect_image("multi:two")["Id"] == got.image_id


def test_metadata_instructions(build: Callable[..., Built], client: Any) -> None:
    dockerfile = """FROM busybox
ARG V=1
ENV A=$V B="two words"
LABEL x=y
EXPOSE 80 53/udp
VOLUME /data
USER nobody
WORKDIR /srv/app
SHELL ["/bin/sh", "-ec"]
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --retries=3 CMD true
ONBUILD RUN echo hi
MAINTAINER Dockyard <team@example.com>
ENTRYPOINT ["/bin/echo"]
CMD ["x"]
"""
    got = build({"Dockerfile": dockerfile}, tag="meta:1", labels={"extra": "yes"})
    assert got.error is None, got.text
    inspect = client.api.inspect_image("meta:1")
    cfg = inspect["Config"]
    assert inspect["Author"] == "Dockyard <team@example.com>"
    assert cfg["Env"][1:] == ["A=1", "B=two words"]
    assert cfg["Labels"] == {"x": "y", "extra": "yes"}
    assert cfg["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}}
    assert cfg["Volumes"] == {"/data": {}}
    assert (cfg["User"], cfg["WorkingDir"], cfg["StopSignal"]) == ("nobody", "/srv/app", "SIGINT")
    assert cfg["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000,
                                  "Retries": 3}
    assert cfg["OnBuild"] == ["RUN echo hi"]
    assert (cfg["Entrypoint"], cfg["Cmd"]) == (["/bin/echo"], ["x"])
    created = [h["CreatedBy"] for h in client.api.history("meta:1")]
    assert "/bin/sh -c #(nop)  ENV A=1 B=two words" in created
    assert "/bin/sh -c #(nop) WORKDIR /srv/app" in created
    assert '/bin/sh -ec #(nop)  CMD ["x"]' in created
    assert "/bin/sh -ec #(nop)  HEALTHCHECK &{[\"CMD-SHELL\" \"true\"] \"5s\" \"0s\" \"0s\" '\\x03'}" in created
    assert created[0] == "/bin/sh -ec #(nop)  LABEL extra=yes"
    assert "Step 16/16 : LABEL \"extra\"='yes'" in got.text
    assert "/bin/sh -ec #(nop)  MAINTAINER Dockyard <team@example.com>" in created


def test_independent_stages_build_concurrently(build: Callable[..., Built],
                                               daemon: DaemonProcess) -> None:
    """Timing-free proof: each stage's RUN waits (up to 60 s) for a file the other stage's RUN
    creates in a shared cache mount, so the build succeeds only if both run at once; a stage
    the target does not need (RUN false) is never built."""
    cache_id = f"rendezvous-{uuid.uuid4().hex}"
    mount = f"--mount=type=cache,id={cache_id},target=/meet"

    def stage(me: str, other: str) -> str:
        return (f"FROM busybox AS {me}\nRUN {mount} touch /meet/{me} && i=0 && "
                f"while [ ! -e /meet/{other} ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done"
                f" && test -e /meet/{other} && echo {me} > /{me}\n")

    dockerfile = (stage("left", "right") + stage("right", "left")
                  + "FROM busybox AS unused\nRUN false\n"
                  + "FROM busybox\nCOPY --from=left /left /\nCOPY --from=right /right /\n")
    try:
        got = build({"Dockerfile": dockerfile})
    finally:
        digest = hashlib.sha256(cache_id.encode()).hexdigest()[:32]
        shutil.rmtree(daemon.root / "build" / "mounts" / digest, ignore_errors=True)
    assert got.error is None, got.text
    assert "RUN false" not in got.text
    steps = [line.split(" : ")[0] for line in got.text.splitlines() if line.startswith("Step ")]
    assert steps == [f"Step {i}/7" for i in range(1, 8)]


def test_a_client_that_hangs_up_cancels_the_build(daemon: DaemonProcess, tmp_path: Path) -> None:
    import io
    import socket
    import tarfile

    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        body = b"FROM busybox\nRUN echo started && sleep 60\n"
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    payload = data.getvalue()
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(str(daemon.socket))
    sock.sendall(b"POST /build HTTP/1.1\r\nHost: d\r\nContent-Type: application/x-tar\r\n"
                 + f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload)
    seen = b""
    while b"started" not in seen:
        chunk = sock.recv(4096)
        assert chunk, seen
        seen += chunk
    assert daemon.pid is not None
    deadline = time.monotonic() + 10
    while not _sleepers(daemon.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _sleepers(daemon.pid), "the RUN step's sleep never started"
    sock.close()
    while _sleepers(daemon.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _sleepers(daemon.pid)
    while os.listdir(daemon.root / "build" / "tmp") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in os.listdir(daemon.root / "snapshots") if p.startswith("tmp-")]


def _sleepers(daemon: int) -> list[str]:
    """The build step's ``sleep 60`` processes under ``daemon`` (its launcher's shims' inits):
    another test's or another user's ``sleep 60`` on this machine is none of ours."""
    out = []
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and Path(f"/proc/{pid}/cmdline").read_bytes() == b"sleep\x0060\x00" \
                    and daemon in _ancestors(int(pid)):
                out.append(pid)
        except OSError:
            continue
    return out


def _ancestors(pid: int) -> list[int]:
    chain = []
    while pid > 1:
        pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        chain.append(pid)
    return chain


def test_a_missing_base_image_is_pulled_and_pull_refreshes_it(
        build: Callable[..., Built], client: Any, dockyard_registry: Any) -> None:
    """Against the bundled registry on loopback: a missing base is pulled; an outdated local
    one is used as it is unless ``--pull`` fetches the registry's newer image."""
    repo = f"{dockyard_registry.host}/lib/bb"
    name = f"{repo}:1"

    def push() -> None:
        for message in client.api.push(repo, tag="1", stream=True, decode=True):
            assert "error" not in message, message

    client.api.tag("busybox:latest", repo, "1")
    push()
    client.api.remove_image(name)
    got = build({"Dockerfile": f"FROM {name}\nRUN true\n"})
    assert got.error is None, got.text
    old = client.api.inspect_image("busybox")["Id"]
    assert client.api.inspect_image(name)["Id"] == old
    newer = build({"Dockerfile": "FROM busybox\nRUN echo 2 > /v2\n"}, tag=name)
    assert newer.error is None, newer.text
    push()  # the registry now has a newer image; the local tag goes back to the old one
    client.api.tag("busybox:latest", repo, "1")
    stale = build({"Dockerfile": f"FROM {name}\nRUN true\n"})
    assert stale.error is None and stale.cached == 1 and f" ---> {old[7:19]}\n" in stale.text
    pulled = build({"Dockerfile": f"FROM {name}\nRUN true\n"}, pull=True)
    assert pulled.error is None and pulled.cached == 0, pulled.text
    assert client.api.inspect_image(name)["Id"] == newer.image_id
    assert f" ---> {newer.image_id[7:19]}\n" in pulled.text  # type: ignore[index]
    missing = build({"Dockerfile": f"FROM {dockyard_registry.host}/lib/nope:1\nRUN true\n"})
    assert missing.error is not None and "lib/nope not found" in missing.error  # in the stream
    client.api.remove_image(pulled.image_id)
    client.api.remove_image(name)  # the newer image and its parent chain go with it
    with pytest.raises(docker.errors.ImageNotFound):
        client.api.inspect_image(newer.image_id)


def test_run_network_none_by_default_host_on_request(build: Callable[..., Built],
                                                     client: Any) -> None:
    dockerfile = "FROM busybox\nRUN cat /proc/net/dev | tail -n +3 | cut -d: -f1 > /nets\n"
    got = build({"Dockerfile": dockerfile}, tag="nets:none")
    host = build({"Dockerfile": dockerfile}, tag="nets:host", network_mode="host")
    per_step = build({"Dockerfile": dockerfile.replace("RUN ", "RUN --network=host ")},
                     tag="nets:step")
    assert got.error is None and host.error is None and per_step.error is None
    assert host.image_id != got.image_id  # the network is part of what the step did

    def nets(tag: str) -> list[str]:
        upper = Path(client.api.inspect_image(tag)["GraphDriver"]["Data"]["UpperDir"])
        return (upper / "nets").read_text().split()

    assert nets("nets:none") == ["lo"]
    with open("/proc/net/dev") as f:
        mine = sorted(line.split(":")[0].strip() for line in f.readlines()[2:])
    for tag in ("nets:host", "nets:step"):  # other tests add and remove veths meanwhile
        assert (set(nets(tag)) - {"lo"}) & set(mine), (nets(tag), mine)


def test_add_git_url_is_refused_clearly(build: Callable[..., Built]) -> None:
    got = build({"Dockerfile": "FROM busybox\nADD git@127.0.0.1:x/y.git /x\n"})
    assert got.error == ("ADD from a git repository is not supported by this builder: "
                         "git@127.0.0.1:x/y.git")
    unreachable = build({"Dockerfile": "FROM busybox\nADD http://127.0.0.1:9/x.tar /x\n"})
    assert unreachable.error is not None
    assert unreachable.error.startswith("error downloading http://127.0.0.1:9/x.tar:")


def test_run_output_arrives_while_the_step_runs(client: Any, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN echo first && sleep 1 && echo second\n")
    seen: dict[str, float] = {}
    for message in client.api.build(path=str(tmp_path), decode=True, nocache=True):
        for word in ("first", "second"):
            if word in message.get("stream", ""):
                seen[word] = time.monotonic()
    assert seen["second"] - seen["first"] > 0.8
