"""The real docker 28.x CLI against the dockyard daemon (DOCKER_HOST=unix://…)."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard import API_VERSION
from dockyard.testing.daemon import DaemonProcess

pytestmark = [pytest.mark.interop, pytest.mark.usefixtures("dockyard_clean_images")]


@pytest.fixture(scope="module")
def dockyard_daemon() -> Iterator[DaemonProcess]:
    """This module asserts on a daemon's whole state (df, prune -a, no images left): its own
    daemon, so what other modules leave on the session daemon cannot change the outcome."""
    with DaemonProcess() as daemon:
        yield daemon


DOCKER = shutil.which("docker") or "/usr/local/bin/docker"


@pytest.fixture
def docker(dockyard_daemon, tmp_path_factory):
    config = tmp_path_factory.mktemp("docker-config")
    env = {**os.environ, "DOCKER_HOST": dockyard_daemon.host, "DOCKER_CONFIG": str(config)}
    env.pop("DOCKER_CONTEXT", None)

    def run(*args: str, input: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        r = subprocess.run([DOCKER, *args], env=env, input=input, capture_output=True, timeout=60,
                           check=False)
        result = subprocess.CompletedProcess(r.args, r.returncode, r.stdout.decode(errors="replace"),
                                             r.stderr.decode(errors="replace"))
        if check and r.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} failed: {result.stderr}")
        return result

    return run


def test_the_cli_is_docker_28() -> None:
    out = subprocess.run([DOCKER, "--version"], capture_output=True, text=True, check=True).stdout
    assert out.startswith("Docker version 28.")


def test_version_negotiates_down_to_our_api(docker) -> None:
    out = docker("version").stdout
    assert "Server: dockyard" in out
    assert f"API version:       {API_VERSION} (downgraded from" in out
    assert docker("version", "-f", "{{.Server.APIVersion}}").stdout.strip() == API_VERSION
    assert "Experimental:     false" in out


def test_info_has_no_errors(docker, busybox_image: str, dockyard_daemon) -> None:
    r = docker("info")
    assert "Server Version:" in r.stdout and f"Docker Root Dir: {dockyard_daemon.root}" in r.stdout
    assert "ERROR" not in r.stdout + r.stderr and "error" not in r.stderr.lower()
    assert int(docker("info", "-f", "{{.Images}}").stdout) >= 1


def test_load_images_inspect_history(docker, busybox_archive: Path) -> None:
    r = docker("load", "-i", str(busybox_archive))
    assert r.stdout.strip() == "Loaded image: busybox:latest"
    lines = docker("images").stdout.splitlines()
    assert lines[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert any(line.split()[:2] == ["busybox", "latest"] for line in lines[1:])
    inspected = json.loads(docker("image", "inspect", "busybox").stdout)[0]
    assert inspected["RepoTags"] == ["busybox:latest"] and inspected["Os"] == "linux"
    assert docker("image", "inspect", "-f", "{{.Config.Cmd}}", "busybox").stdout.strip() == "[sh]"
    history = docker("history", "busybox").stdout.splitlines()
    assert history[0].split()[:3] == ["IMAGE", "CREATED", "CREATED"] and len(history) >= 2


def test_load_from_stdin_quiet(docker, busybox_archive: Path) -> None:
    r = docker("load", "-q", input=busybox_archive.read_bytes())
    assert "Loaded image: busybox:latest" in r.stdout


def test_dockyard_and_docker_cli_print_the_same_images_table(docker, busybox_image: str,
                                                               dockyard_daemon) -> None:
    docker("tag", "busybox", "localhost:5000/team/app:1.0")
    for flags in ([], ["--digests"], ["--format", "json"], ["-q", "--no-trunc"],
                  ["--format", "table {{.Repository}}\\t{{.ID}}\\t{{.VirtualSize}}"]):
        ours = subprocess.run(["dockyard", "-H", dockyard_daemon.host, "images", *flags],
                              capture_output=True, text=True, check=True).stdout
        theirs = docker("images", *flags).stdout
        assert sorted(ours.splitlines()) == sorted(theirs.splitlines()), flags


def test_tag_save_rmi(docker, busybox_image: str, tmp_path: Path) -> None:
    docker("tag", "busybox", "localhost:5000/team/app:1.0")
    out = docker("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").stdout
    assert f"localhost:5000/team/app:1.0 {busybox_image[7:19]}" in out
    target = tmp_path / "saved.tar"
    docker("save", "-o", str(target), "localhost:5000/team/app:1.0")
    with tarfile.open(target) as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert "manifest.json" in names and manifest[0]["RepoTags"] == ["localhost:5000/team/app:1.0"]
    r = docker("rmi", "localhost:5000/team/app:1.0")
    assert r.stdout.strip() == "Untagged: localhost:5000/team/app:1.0"


def test_errors_read_as_dockerd_errors(docker) -> None:
    r = docker("rmi", "nope", check=False)
    assert r.returncode == 1
    assert r.stderr.strip() == "Error response from daemon: No such image: nope:latest"
    r = docker("image", "inspect", "nope", check=False)
    assert r.returncode == 1 and "No such image: nope" in r.stderr


def test_rmi_conflict_needs_force(docker, busybox_image: str) -> None:
    docker("tag", "busybox", "second:tag")
    r = docker("rmi", busybox_image[7:19], check=False)
    assert r.returncode == 1 and "must be forced" in r.stderr
    r = docker("rmi", "-f", busybox_image[7:19])
    assert "Untagged: second:tag" in r.stdout and f"Deleted: {busybox_image}" in r.stdout


def test_system_df_and_prune(docker, busybox_image: str) -> None:
    lines = docker("system", "df").stdout.splitlines()
    assert lines[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    assert lines[1].startswith("Images")
    r = docker("image", "prune", "-a", "-f")
    assert "untagged: busybox:latest" in r.stdout and "Total reclaimed space:" in r.stdout
    assert docker("images", "-q").stdout.strip() == ""


def test_import(docker, tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs"
    (rootfs / "etc").mkdir(parents=True)
    (rootfs / "etc" / "hello").write_text("hi\n")
    archive = tmp_path / "rootfs.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(rootfs, arcname=".")
    r = docker("import", "-c", "CMD [\"/bin/sh\"]", "-m", "from docker", str(archive), "imported:1")
    assert r.stdout.strip().startswith("sha256:")
    assert docker("image", "inspect", "-f", "{{.Comment}} {{.Config.Cmd}}", "imported:1").stdout.strip() == \
        "from docker [/bin/sh]"


def test_dockyard_and_docker_cli_print_the_same_history_and_df(docker, busybox_image: str,
                                                                 dockyard_daemon) -> None:
    cases = [["history", "busybox"], ["history", "--no-trunc", "busybox"],
             ["history", "--human=false", "busybox"], ["history", "--format", "json", "busybox"],
             ["history", "-q", "busybox"], ["image", "inspect", "busybox"],
             ["image", "inspect", "-f", "{{.Config.Cmd}} {{json .Config.Env}} {{.RootFS.Type}}", "busybox"]]
    for args in cases:
        ours = subprocess.run(["dockyard", "-H", dockyard_daemon.host, *args],
                              capture_output=True, text=True, check=True).stdout
        assert ours == docker(*args).stdout, args


@pytest.fixture
def df_scene(dockyard_client, busybox_image: str) -> Iterator[object]:
    """Something in every /system/df section: a build (an image and its build cache), a running
    container using a volume, an exited one that wrote a file, an unused volume. Removed after."""
    client = dockyard_client
    dockerfile = b"FROM busybox\nRUN echo hi > /x\n"
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
    context.seek(0)
    client.images.build(fileobj=context, custom_context=True, tag="df-built:1")
    client.api.tag("busybox", "df-second", "tag")
    exited = client.containers.run("busybox", ["sh", "-c", "echo hello > /f"], detach=True, network_mode="none")
    exited.wait()
    running = client.containers.run("busybox", ["sleep", "300"], detach=True, network_mode="none",
                                    volumes={"df-used": {"bind": "/data", "mode": "rw"}})
    client.volumes.create("df-spare")
    try:
        yield client
    finally:
        for container in (running, exited):
            container.remove(force=True)
        for name in ("df-used", "df-spare"):
            client.volumes.get(name).remove()
        client.api.prune_builds(all=True)  # df-built:1 is tagged: its cache goes with all alone


def test_system_df_sections_as_dockerd_shapes_them(df_scene, dockyard_daemon) -> None:
    usage = df_scene.df()
    containers = {c["Command"]: c for c in usage["Containers"]}
    assert set(containers) == {"sh -c 'echo hello > /f'", "sleep 300"}
    wrote, sleeping = containers["sh -c 'echo hello > /f'"], containers["sleep 300"]
    assert wrote["SizeRw"] == 6 and wrote["State"] == "exited" and wrote["Names"][0].startswith("/")
    layers = {i["Id"]: i for i in usage["Images"]}[wrote["ImageID"]]["Size"]
    assert wrote["SizeRootFs"] == layers + 6 and sleeping["SizeRootFs"] == layers
    assert "SizeRw" not in sleeping  # dockerd leaves a 0 out
    assert sleeping["Mounts"][0]["Name"] == "df-used" and sleeping["HostConfig"]["NetworkMode"] == "none"
    volumes = {v["Name"]: v["UsageData"] for v in usage["Volumes"]}
    assert volumes == {"df-used": {"Size": 0, "RefCount": 1}, "df-spare": {"Size": 0, "RefCount": 0}}
    [record] = usage["BuildCache"]
    assert record["Description"] == "RUN echo hi > /x" and record["Size"] == 3 and len(record["ID"]) == 25
    assert record["Parents"] and "Parent" not in record and "BuilderSize" not in usage
    assert {i["Containers"] for i in usage["Images"] if "busybox:latest" in i["RepoTags"]} == {2}
    import docker

    with docker.APIClient(base_url=dockyard_daemon.host, version="1.41") as api:
        old = api.df()
    assert old["BuilderSize"] == 3 and old["BuildCache"][0]["Parent"] and "Parents" not in old["BuildCache"][0]


def test_dockyard_and_docker_cli_print_the_same_system_df(df_scene, docker, dockyard_daemon) -> None:
    """Ages ("2 seconds ago") move on: each pair is taken back to back, and taken again when
    a second boundary fell between the two."""
    cases = [[], ["-v"], ["--format", "json"], ["--format", "{{.Type}} {{.Size}}"],
             ["--format", "table {{.Type}}\t{{.Active}}\t{{.Reclaimable}}"]]
    for flags in cases:
        for _attempt in range(3):
            ours = subprocess.run(["dockyard", "-H", dockyard_daemon.host, "system", "df", *flags],
                                  capture_output=True, text=True, check=True).stdout
            theirs = docker("system", "df", *flags).stdout
            if ours == theirs:
                break
        # under load each pair can straddle a second boundary: then only the ages may differ
        assert ours == theirs or same_but_ages(ours, theirs), flags
    verbose = docker("system", "df", "-v").stdout
    assert verbose.count(busybox_short(df_scene)) == 1  # one row per image, under its first tag
    assert "\nBuild cache usage: 0B\n" in verbose  # the only record is shared with its image


AGE = re.compile(r"\b(?:(\d+) (second|minute|hour)s?|Less than a second|About a minute|About an hour) ago\b")
_UNIT = {"second": 1, "minute": 60, "hour": 3600}


def _span(age: re.Match[str]) -> tuple[float, float]:
    """The ages in seconds a go-units text stands for (hours are rounded, the rest cut)."""
    text = age.group(0)
    if age.group(1):
        n, unit = int(age.group(1)), _UNIT[age.group(2)]
        return ((n - 0.5) * unit, (n + 0.5) * unit) if unit == 3600 else (n * unit, (n + 1) * unit)
    return {"Less than a second ago": (0, 1), "About a minute ago": (60, 120),
            "About an hour ago": (3600, 5400)}[text]


def same_but_ages(ours: str, theirs: str) -> bool:
    """Equal once ages are blanked, no age apart by more than two seconds — and, where an age's
    text changed its width ("Less than a second" beside "1 second"), equal but for padding."""
    ages = list(zip(AGE.finditer(ours), AGE.finditer(theirs), strict=False))
    close = all(max(_span(a)[0], _span(b)[0]) - min(_span(a)[1], _span(b)[1]) <= 2 for a, b in ages)
    ours, theirs = AGE.sub("AGE", ours), AGE.sub("AGE", theirs)
    if all(len(a.group(0)) == len(b.group(0)) for a, b in ages):
        return close and ours == theirs
    return close and re.sub(r" +", " ", ours) == re.sub(r" +", " ", theirs)


def test_same_but_ages_takes_each_go_units_form() -> None:
    assert same_but_ages("x  Less than a second ago  y", "x  1 second ago  y")
    assert same_but_ages("59 seconds ago", "About a minute ago")
    assert same_but_ages("About a minute ago", "2 minutes ago")
    assert not same_but_ages("3 seconds ago", "9 seconds ago")
    assert not same_but_ages("3 seconds ago  a", "4 seconds ago  b")
    assert not same_but_ages("3 seconds ago  a", "3 seconds ago a")  # same widths: padding counts


def busybox_short(client) -> str:
    return client.images.get("busybox").id[7:19]
