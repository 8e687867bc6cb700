"""Containers with volumes, bind mounts and tmpfs through docker-py: data persists across
containers, read-only is read-only, the image's content is copied into a new volume, and bad
mounts are refused with dockerd's wording before anything is made."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import docker.errors
import pytest


def test_named_volume_persists_between_containers(client: Any, run: Any) -> None:
    run("echo x > /data/f", volumes=["data-h4:/data"])
    assert run("cat /data/f", volumes={"data-h4": {"bind": "/data", "mode": "ro"}}) == "x\n"
    out = run("{ echo y > /data/g; } 2>&1; echo $?", volumes=["data-h4:/data:ro"])
    assert "Read-only file system" in out and out.strip().endswith("1")


def test_mount_points_in_inspect(client: Any, tmp_path: Path) -> None:
    api = client.api
    hc = api.create_host_config(binds=[f"{tmp_path}:/host:ro", "named-h4:/named", "/anon2"],
                                mounts=[docker.types.Mount("/t", None, type="tmpfs", tmpfs_size=1 << 20)],
                                tmpfs={"/run": "size=1m"}, network_mode="none")
    ctr = api.create_container("busybox", ["true"], volumes=["/anon"], host_config=hc)
    mounts = {m["Destination"]: m for m in api.inspect_container(ctr["Id"])["Mounts"]}
    assert set(mounts) == {"/host", "/named", "/anon", "/anon2", "/t"}
    assert mounts["/host"] == {"Type": "bind", "Source": str(tmp_path), "Destination": "/host",
                               "Mode": "ro", "RW": False, "Propagation": "rprivate"}
    named = mounts["/named"]
    assert (named["Type"], named["Name"], named["Driver"], named["Mode"], named["RW"]) == \
        ("volume", "named-h4", "local", "z", True)
    assert named["Source"] == api.inspect_volume("named-h4")["Mountpoint"]
    assert mounts["/anon"]["Mode"] == "" and len(mounts["/anon"]["Name"]) == 64
    assert mounts["/t"] == {"Type": "tmpfs", "Source": "", "Destination": "/t", "Mode": "", "RW": True,
                            "Propagation": ""}
    anon = api.inspect_volume(mounts["/anon"]["Name"])
    assert anon["Labels"] == {"com.docker.volume.anonymous": ""}


def test_copy_up_of_image_content(client: Any, run: Any) -> None:
    api = client.api
    listing = run("ls -ln /bin | sed -n 2p", volumes=["etc-h4:/etc", "/bin"])
    assert listing.split()[0] == "-rwxr-xr-x" and int(listing.split()[1]) > 50  # hardlinks kept
    mountpoint = api.inspect_volume("etc-h4")["Mountpoint"]
    assert Path(mountpoint, "passwd").read_text().startswith("root:")
    assert stat.S_IMODE(os.stat(mountpoint).st_mode) == 0o755
    Path(mountpoint, "passwd").write_text("mine\n")  # not empty any more: never copied again
    assert run("cat /etc/passwd", volumes=["etc-h4:/etc"]) == "mine\n"
    assert run("ls /etc | wc -l", volumes=["empty-h4:/etc:nocopy"]).split()[-1] in ("0", "3")


def test_bind_mounts(client: Any, run: Any, tmp_path: Path) -> None:
    (tmp_path / "in").write_text("from host\n")
    assert run("cat /h/in; echo out > /h/out", volumes=[f"{tmp_path}:/h"]) == "from host\n"
    assert (tmp_path / "out").read_text() == "out\n"
    out = run("touch /h/x 2>&1; echo $?", volumes=[f"{tmp_path}:/h:ro"])
    assert "Read-only file system" in out and not (tmp_path / "x").exists()
    missing = tmp_path / "made" / "by-v"
    run("true", volumes=[f"{missing}:/m"])  # -v makes a missing host directory, as dockerd
    assert missing.is_dir()
    single = tmp_path / "in"
    assert run("cat /etc/greeting", volumes=[f"{single}:/etc/greeting:ro"]) == "from host\n"


def test_tmpfs_mounts(client: Any, run: Any) -> None:
    mounts = [docker.types.Mount("/t", None, type="tmpfs", tmpfs_size=2 << 20, tmpfs_mode=0o1770)]
    out = run("grep ' /t \\| /run ' /proc/mounts; stat -c %a /t", mounts=mounts, tmpfs={"/run": "size=1m,exec"})
    lines = out.splitlines()
    run_line = next(line for line in lines if " /run " in line)
    t_line = next(line for line in lines if " /t " in line)
    assert run_line.startswith("tmpfs /run tmpfs") and "size=1024k" in run_line and "noexec" not in run_line
    assert "size=2048k" in t_line and "noexec" in t_line and "mode=1770" in t_line
    assert lines[-1] == "1770"


@pytest.mark.parametrize("kwargs, status, message", [
    ({"mounts": [docker.types.Mount("/x", "/nope", type="bind")]}, 400,
     'invalid mount config for type "bind": bind source path does not exist: /nope'),
    ({"binds": ["/a:/data", "vol-h4x:/data"]}, 400, "Duplicate mount point: /data"),
    ({"binds": ["x"]}, 500, "invalid volume specification: 'x'"),  # dockerd 20.10's statuses
    ({"binds": ["foo/bar:/x"]}, 400, "includes invalid characters for a local volume name"),
    ({"binds": ["/a:rel"]}, 500, "invalid mount path: 'rel' mount path must be absolute"),
    ({"binds": ["vol-h4y:/etc/passwd"]}, 0, None),  # fine: a named volume over a file is allowed
])
def test_bad_mounts_refused_before_anything_is_made(client: Any, kwargs: dict[str, Any], status: int,
                                                    message: str | None) -> None:
    api = client.api
    before_volumes = {v["Name"] for v in api.volumes()["Volumes"] or []}
    before = {c["Id"] for c in api.containers(all=True)}
    hc = api.create_host_config(network_mode="none", **kwargs)
    if message is None:
        api.create_container("busybox", ["true"], host_config=hc)
        return
    with pytest.raises(docker.errors.APIError) as info:
        api.create_container("busybox", ["true"], volumes=["/anon-x"], host_config=hc)
    assert info.value.status_code == status and message in info.value.explanation
    assert {c["Id"] for c in api.containers(all=True)} == before
    assert {v["Name"] for v in api.volumes()["Volumes"] or []} == before_volumes


def test_anonymous_volume_over_a_file_is_refused(client: Any) -> None:
    with pytest.raises(docker.errors.APIError, match="cannot mount volume over existing file, file exists"):
        client.api.create_container("busybox", ["true"], volumes=["/etc/passwd"],
                                    host_config=client.api.create_host_config(network_mode="none"))


def test_volumes_from_and_rm_keeps_named_volumes(client: Any, run: Any) -> None:
    api = client.api
    src = api.create_container("busybox", ["true"], volumes=["/shared"], host_config=api.create_host_config(
        binds=["keep-h4:/keep"], network_mode="none"))
    run("echo hi > /shared/f; echo k > /keep/f", volumes_from=[src["Id"]])
    assert run("cat /shared/f /keep/f", volumes_from=[f"{src['Id']}:ro"]) == "hi\nk\n"
    anon = next(m["Name"] for m in api.inspect_container(src["Id"])["Mounts"] if m["Destination"] == "/shared")
    api.remove_container(src["Id"], v=True)
    names = {v["Name"] for v in api.volumes()["Volumes"]}
    assert "keep-h4" in names and anon not in names


def test_auto_remove_removes_anonymous_volumes(client: Any) -> None:
    """``--rm`` (HostConfig.AutoRemove): the daemon removes the container and its anonymous
    volumes, never named ones."""
    api = client.api
    before = {v["Name"] for v in api.volumes()["Volumes"] or []}
    ctr = api.create_container("busybox", ["sh", "-c", "echo x > /scratch/f"], volumes=["/scratch"],
                               host_config=api.create_host_config(binds=["named-rm-h4:/n"],
                                                                  auto_remove=True, network_mode="none"))
    api.start(ctr["Id"])
    try:
        api.wait(ctr["Id"], condition="removed", timeout=20)
    except docker.errors.NotFound:
        pass
    after = {v["Name"] for v in api.volumes()["Volumes"] or []}
    assert after - before == {"named-rm-h4"}


def test_device_volume_tmpfs(client: Any, run: Any) -> None:
    api = client.api
    vol = api.create_volume("dev-h4", driver_opts={"type": "tmpfs", "device": "tmpfs", "o": "size=1m,uid=1000"})
    assert vol["Options"] == {"type": "tmpfs", "device": "tmpfs", "o": "size=1m,uid=1000"}
    out = run("grep ' /d ' /proc/mounts; stat -c %u /d; echo a > /d/f", volumes=["dev-h4:/d"])
    assert out.startswith("tmpfs /d tmpfs") and "size=1024k" in out and out.splitlines()[-1] == "1000"
    assert run("cat /d/f", volumes=["dev-h4:/d"]) == "a\n"  # shared while mounted
    assert os.path.ismount(vol["Mountpoint"])
    api.remove_volume("dev-h4")
    assert not os.path.exists(vol["Mountpoint"])


def test_device_volume_bind(client: Any, run: Any, tmp_path: Path) -> None:
    api = client.api
    api.create_volume("bind-h4", driver_opts={"type": "none", "device": str(tmp_path), "o": "bind"})
    run("echo b > /b/f", volumes=["bind-h4:/b"])
    assert (tmp_path / "f").read_text() == "b\n"
    api.remove_volume("bind-h4")
    assert (tmp_path / "f").exists()  # removing the volume unmounts, never deletes the device


def test_a_failed_create_removes_the_volumes_it_made(client: Any) -> None:
    api = client.api
    hc = api.create_host_config(binds=["fresh-h4:/a"], network_mode="none")
    with pytest.raises(docker.errors.APIError, match="cannot mount volume over existing file"):
        api.create_container("busybox", ["true"], volumes=["/etc/passwd"], host_config=hc)
    assert "fresh-h4" not in {v["Name"] for v in api.volumes()["Volumes"] or []}


def test_image_volume_gets_the_image_content(dockyard_clean_images: Any, client: Any, run: Any) -> None:
    """``VOLUME`` in a Dockerfile: every container gets an anonymous volume seeded from the
    image (owner and mode kept), and a named volume over it is seeded the same way."""
    import io

    dockerfile = (b"FROM busybox\nRUN mkdir -p /srv/sub && echo seed > /srv/sub/f && chown -R 123:45 /srv "
                  b"&& chmod 0710 /srv && ln -s sub/f /srv/link\nVOLUME /srv\n")
    client.images.build(fileobj=io.BytesIO(dockerfile), tag="h4-volimage:latest", rm=True)
    out = run("stat -c '%u:%g %a' /srv; cat /srv/link; echo more > /srv/more", image="h4-volimage")
    assert out == "123:45 710\nseed\n"
    api = client.api
    ctr = api.create_container("h4-volimage", ["true"], host_config=api.create_host_config(
        binds=["seeded-h4:/srv"], network_mode="none"))
    [mount] = api.inspect_container(ctr["Id"])["Mounts"]
    assert (mount["Name"], mount["Destination"]) == ("seeded-h4", "/srv")
    source = Path(mount["Source"])
    assert (source / "sub" / "f").read_text() == "seed\n" and os.readlink(source / "link") == "sub/f"
    assert not (source / "more").exists()


def test_bind_options_non_recursive_and_create_mountpoint(client: Any, run: Any, tmp_path: Path) -> None:
    from dockyard.linux import syscalls

    (tmp_path / "sub").mkdir()
    syscalls.mount("tmpfs", str(tmp_path / "sub"), "tmpfs", 0, "size=64k")
    try:
        (tmp_path / "sub" / "on-submount").write_text("x")
        flat = {"Type": "bind", "Source": str(tmp_path), "Target": "/flat", "BindOptions": {"NonRecursive": True}}
        deep = {"Type": "bind", "Source": str(tmp_path), "Target": "/deep"}
        made = {"Type": "bind", "Source": str(tmp_path / "made"), "Target": "/made",
                "BindOptions": {"CreateMountpoint": True}}
        out = run("ls /flat/sub; echo -; ls /deep/sub; echo -; ls -d /made", mounts=[flat, deep, made])
        assert out == "-\non-submount\n-\n/made\n"
        assert (tmp_path / "made").is_dir()
    finally:
        syscalls.umount2(str(tmp_path / "sub"), 2)
