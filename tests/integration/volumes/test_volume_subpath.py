"""Volume subpaths (``--mount type=volume,…,volume-subpath=…``; API 1.45's
``VolumeOptions.Subpath``) through the real docker CLI and docker-py against the session daemon,
and through a ``--userns-remap`` daemon (its binds are made by another code path).

dockerd 20.10 here predates subpaths; the words and statuses are moby's (daemon 26+):
``volume/mounts`` (create-time checks), ``internal/safepath`` (start-time resolution) and the
container create router (the API version gate). The escapes are the security boundary: a
symlink the volume's users put there must never let a container mount a host path."""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from dockyard.linux.mounts import open_beneath
from dockyard.testing.daemon import DaemonProcess, DockerCLI, remapped_daemon

RUN = ("run", "--rm", "--network", "none")


@pytest.fixture
def cli(client: Any, dockyard_daemon: Any) -> DockerCLI:
    return DockerCLI(dockyard_daemon.host)


def _data(client: Any, name: str) -> Path:
    return Path(client.api.inspect_volume(name)["Mountpoint"])


def _seed(client: Any, name: str) -> Path:
    """Volume ``name`` holding sub/dir/f and the would-be escapes: links to /etc, up and
    inside."""
    client.volumes.create(name)
    data = _data(client, name)
    (data / "sub" / "dir").mkdir(parents=True)
    (data / "sub" / "dir" / "f").write_text("in the subpath\n")
    (data / "etc-link").symlink_to("/etc")
    (data / "up-link").symlink_to("../../..")
    (data / "sub" / "abs-up").symlink_to("/")
    (data / "in-link").symlink_to("sub/dir")
    return data


def test_cli_mounts_the_subpath_read_write_and_read_only(client: Any, cli: DockerCLI) -> None:
    data = _seed(client, "sp-cli")
    ran = cli(*RUN, "--mount", "type=volume,src=sp-cli,dst=/data,volume-subpath=sub/dir",
              "busybox", "sh", "-c", "cat /data/f; ls /data; echo new > /data/g")
    assert (ran.returncode, ran.stdout) == (0, "in the subpath\nf\n"), ran.stderr
    assert (data / "sub" / "dir" / "g").read_text() == "new\n"
    ro = cli(*RUN, "--mount", "type=volume,src=sp-cli,dst=/data,volume-subpath=sub/dir,readonly",
             "busybox", "sh", "-c", "cat /data/g; touch /data/h || echo refused")
    assert ro.stdout == "new\nrefused\n", ro.stderr
    assert not (data / "sub" / "dir" / "h").exists()
    # a link inside the volume to a place inside it is followed, as dockerd's safepath does
    inside = cli(*RUN, "--mount", "type=volume,src=sp-cli,dst=/data,volume-subpath=in-link",
                 "busybox", "cat", "/data/f")
    assert inside.stdout == "in the subpath\n", inside.stderr
    # a file subpath is bound as a file
    one = cli(*RUN, "--mount", "type=volume,src=sp-cli,dst=/one,volume-subpath=sub/dir/f",
              "busybox", "cat", "/one")
    assert one.stdout == "in the subpath\n", one.stderr


def test_inspect_shows_the_volume_and_the_request(client: Any, cli: DockerCLI) -> None:
    data = _seed(client, "sp-inspect")
    cid = cli("create", "--network", "none", "--mount",
              "type=volume,src=sp-inspect,dst=/data,volume-subpath=sub/dir", "busybox", "true")
    assert cid.returncode == 0, cid.stderr
    [info] = json.loads(cli("inspect", cid.stdout.strip()).stdout)
    assert info["Mounts"] == [{"Type": "volume", "Name": "sp-inspect", "Source": str(data),
                               "Destination": "/data", "Driver": "local", "Mode": "z", "RW": True,
                               "Propagation": ""}]  # a --mount's local volume: dockerd's "z"
    [spec] = info["HostConfig"]["Mounts"]
    assert spec["VolumeOptions"]["Subpath"] == "sub/dir"
    # docker cp mounts the volumes as a start does: the subpath's file is at /data/f
    copied = cli("cp", f"{cid.stdout.strip()}:/data/f", "-", text=False)
    assert copied.returncode == 0, copied.stderr
    assert b"in the subpath\n" in copied.stdout


@pytest.mark.parametrize("link", ["etc-link", "up-link", "sub/abs-up", "sub/abs-up/etc"])
def test_a_link_out_of_the_volume_fails_the_start(client: Any, cli: DockerCLI, link: str) -> None:
    data = _seed(client, "sp-escape")
    ran = cli("run", "--network", "none", "--mount",
              f"type=volume,src=sp-escape,dst=/data,volume-subpath={link}",
              "busybox", "cat", "/data/passwd", "/data/etc/passwd")
    assert ran.returncode != 0 and "root:x:0:0" not in ran.stdout
    assert ("Error response from daemon: path concatenation escapes the base directory, "
            f"base: {data}, subpath: {link}") in ran.stderr


def test_escapes_through_the_api_statuses(client: Any) -> None:
    """Create-time refusals (lexical) are 400s at create; start-time ones 400 (escape) and 404
    (missing), and the container keeps dockerd's exit code 128."""
    data = _seed(client, "sp-api")
    api = client.api

    def mount(subpath: str, source: str = "sp-api") -> dict[str, Any]:
        return {"Type": "volume", "Source": source, "Target": "/data",
                "VolumeOptions": {"Subpath": subpath}}

    for subpath in ("../x", "sub/../../x", "/etc", ".."):
        with pytest.raises(docker.errors.APIError) as refused:
            api.create_container("busybox", "true", host_config={"Mounts": [mount(subpath)]})
        assert refused.value.status_code == 400
        assert refused.value.explanation == ('invalid mount config for type "volume": subpath '
                                             "must be a relative path within the volume")
    with pytest.raises(docker.errors.APIError) as anon:
        api.create_container("busybox", "true", host_config={"Mounts": [mount("a", "")]})
    assert anon.value.status_code == 400
    assert anon.value.explanation == ('invalid mount config for type "volume": must not set '
                                      "Subpath when using anonymous volumes")
    cid = api.create_container("busybox", "true",
                               host_config={"Mounts": [mount("sub/nope/deeper")]})["Id"]
    with pytest.raises(docker.errors.APIError) as missing:
        api.start(cid)
    assert missing.value.status_code == 404
    assert missing.value.explanation == (f"cannot access path {data}/sub/nope/deeper: "
                                         f"lstat {data}/sub/nope: no such file or directory")
    assert api.inspect_container(cid)["State"]["ExitCode"] == 128
    cid = api.create_container("busybox", "true", host_config={"Mounts": [mount("etc-link")]})["Id"]
    with pytest.raises(docker.errors.APIError) as escape:
        api.start(cid)
    assert escape.value.status_code == 400
    # a lexically local subpath through "..": fine when it stays inside
    out = client.containers.run("busybox", ["cat", "/data/f"], remove=True, network_mode="none",
                                mounts=[_subpath_mount("sp-api", "sub/x/../dir")])
    assert out == b"in the subpath\n"


def _subpath_mount(volume: str, subpath: str, **kwargs: Any) -> docker.types.Mount:
    """docker-py 7 has no subpath parameter: its Mount is the API's dict, the field set on it."""
    m = docker.types.Mount("/data", volume, **kwargs)
    m.setdefault("VolumeOptions", {})["Subpath"] = subpath
    return m


def test_docker_py_and_the_api_version_gate(client: Any, dockyard_daemon: Any) -> None:
    _seed(client, "sp-py")
    out = client.containers.run("busybox", ["sh", "-c", "cat /data/f; touch /data/x || echo ro"],
                                remove=True, network_mode="none",
                                mounts=[_subpath_mount("sp-py", "sub/dir", read_only=True)])
    assert out == b"in the subpath\nro\n"
    old = docker.DockerClient(base_url=dockyard_daemon.host, version="1.44")
    try:
        with pytest.raises(docker.errors.APIError) as gated:
            old.api.create_container("busybox", "true", host_config={
                "Mounts": [_subpath_mount("sp-py", "sub/dir")]})
    finally:
        old.close()
    assert gated.value.status_code == 400
    assert gated.value.explanation == "VolumeOptions.Subpath needs API v1.45 or newer"


def test_copy_up_goes_into_the_subpath(client: Any, cli: DockerCLI) -> None:
    """dockerd's populateVolume mounts the subpath as a start would: the image's /etc lands in
    an empty subpath directory, not in the volume's root; a missing subpath gets nothing at
    create and fails the start."""
    client.volumes.create("sp-copy")
    data = _data(client, "sp-copy")
    (data / "etcs" / "one").mkdir(parents=True)
    ran = cli(*RUN, "--mount", "type=volume,src=sp-copy,dst=/etc,volume-subpath=etcs/one",
              "busybox", "cat", "/etc/group")
    assert ran.returncode == 0 and ran.stdout.startswith("root:x:0:"), ran.stderr
    assert (data / "etcs" / "one" / "passwd").is_file()
    assert sorted(os.listdir(data)) == ["etcs"]
    missing = cli(*RUN, "--mount", "type=volume,src=sp-copy,dst=/etc,volume-subpath=etcs/two",
                  "busybox", "true")
    assert missing.returncode != 0 and "cannot access path" in missing.stderr
    assert sorted(os.listdir(data / "etcs")) == ["one"]
    (data / "etc-link").symlink_to("/etc")
    refused = cli("create", "--network", "none", "--mount",
                  "type=volume,src=sp-copy,dst=/etc,volume-subpath=etc-link", "busybox", "true")
    assert refused.returncode != 0
    assert ("failed to populate volume: path concatenation escapes the base directory, "
            f"base: {data}, subpath: etc-link") in refused.stderr


def test_the_launcher_refuses_a_link_swapped_in(tmp_path: Path) -> None:
    """The daemon resolves the subpath's links first; the launcher then opens the result with
    openat2 and mounts that fd: a link put there since is refused, not followed."""
    (tmp_path / "a").mkdir()
    (tmp_path / "link").symlink_to("/etc")
    fd = open_beneath(str(tmp_path), "a")
    os.close(fd)
    for path, code in (("link", errno.ELOOP), ("a/../link", errno.ELOOP), ("link/passwd", errno.ELOOP),
                       ("../", errno.EXDEV), ("a/../../x", errno.EXDEV)):
        with pytest.raises(OSError) as refused:
            open_beneath(str(tmp_path), path)
        assert refused.value.errno == code, path


@pytest.fixture(scope="module")
def remapped(busybox_archive: Path) -> Iterator[DaemonProcess]:
    with remapped_daemon() as daemon:
        yield daemon.load(busybox_archive)


def test_under_userns_remap(remapped: DaemonProcess) -> None:
    cli = DockerCLI(remapped.host)
    assert cli("volume", "create", "sp-remap").returncode == 0
    [info] = json.loads(cli("volume", "inspect", "sp-remap").stdout)
    data = Path(info["Mountpoint"])
    (data / "sub").mkdir()
    (data / "sub" / "f").write_text("remapped\n")
    (data / "etc-link").symlink_to("/etc")
    ran = cli(*RUN, "--mount", "type=volume,src=sp-remap,dst=/data,volume-subpath=sub,readonly",
              "busybox", "sh", "-c", "cat /data/f; touch /data/x || echo ro")
    assert ran.stdout == "remapped\nro\n", ran.stderr
    escape = cli(*RUN, "--mount", "type=volume,src=sp-remap,dst=/data,volume-subpath=etc-link",
                 "busybox", "cat", "/data/passwd")
    assert escape.returncode != 0 and "root:x:0:0" not in escape.stdout
    assert "path concatenation escapes the base directory" in escape.stderr
    assert cli("volume", "rm", "sp-remap").returncode == 0
