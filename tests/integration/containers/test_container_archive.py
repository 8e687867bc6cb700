"""docker cp and docker export through the daemon (docker-py): running and stopped containers,
dockerd's stat header and errors, and paths that must never leave the container's root."""

from __future__ import annotations

import base64
import io
import json
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest


def tar_of(files: dict[str, bytes | None], links: dict[str, str] | None = None) -> bytes:
    """A tar: ``None`` content makes a directory; ``links`` are symlinks."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.mtime = 1700000000
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size, info.mode, info.uid, info.gid = len(data), 0o640, 1234, 5678
                tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return buf.getvalue()


def members(stream: Iterator[bytes]) -> dict[str, tarfile.TarInfo | bytes]:
    data = b"".join(stream)
    out: dict[str, tarfile.TarInfo | bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for m in tar.getmembers():
            f = tar.extractfile(m) if m.isreg() else None
            out[m.name] = f.read() if f is not None else m
    return out


@pytest.fixture
def box(client: Any) -> Any:
    return client.containers.run("busybox", ["sleep", "1000"], detach=True, name="cpbox")


@pytest.fixture
def host_secret(tmp_path: Path) -> Path:
    """A host directory with a file no container may read or write through."""
    secret = tmp_path / "hostside"
    secret.mkdir()
    (secret / "secret.txt").write_text("host only\n")
    return secret


def test_put_then_get_running(box: Any) -> None:
    assert box.put_archive("/tmp", tar_of({"d": None, "d/hello.txt": b"hi there\n"}))
    assert box.exec_run("cat /tmp/d/hello.txt").output == b"hi there\n"
    assert box.exec_run("stat -c %u:%g:%a /tmp/d/hello.txt").output == b"1234:5678:640\n"
    stream, stat = box.get_archive("/tmp/d/hello.txt")
    assert stat["name"] == "hello.txt" and stat["size"] == 9 and stat["mode"] == 0o640
    assert stat["linkTarget"] == "" and stat["mtime"].startswith("2023-11-14T22:13:20")
    assert members(stream) == {"hello.txt": b"hi there\n"}
    stream, stat = box.get_archive("/tmp/d")
    assert stat["mode"] == (1 << 31) | 0o755
    got = members(stream)
    assert set(got) == {"d", "d/hello.txt"}


def test_stat_header_and_not_found(box: Any, client: Any) -> None:
    res = client.api.head(client.api._url("/containers/cpbox/archive"), params={"path": "/etc/passwd"})
    assert res.status_code == 200
    header = res.headers["X-Docker-Container-Path-Stat"]
    assert json.loads(base64.urlsafe_b64decode(header))["name"] == "passwd"
    with pytest.raises(docker.errors.NotFound) as info:
        box.get_archive("/nope")
    assert info.value.explanation == f"Could not find the file /nope in container {box.id}"
    with pytest.raises(docker.errors.NotFound):
        box.put_archive("/nope", tar_of({"f": b"x"}))
    with pytest.raises(docker.errors.APIError, match="extraction point is not a directory"):
        box.put_archive("/etc/passwd", tar_of({"f": b"x"}))


def test_symlinks_resolve_inside_the_container(box: Any, host_secret: Path) -> None:
    """Absolute and climbing links point into the container's root, never the host's."""
    outside = str(host_secret)
    box.exec_run(["sh", "-c", (f"ln -s {outside} /tmp/abs; ln -s ../../../../../..{outside} /tmp/up; "
                              "mkdir -p /inside; echo in > /inside/f; ln -s /inside /tmp/ok")])
    for link in ("/tmp/abs/", "/tmp/up/", "/tmp/up/secret.txt", "/tmp/abs/secret.txt",
                 f"/../../..{outside}/secret.txt"):
        with pytest.raises(docker.errors.NotFound):
            box.get_archive(link)
    stream, stat = box.get_archive("/tmp/abs")  # the link itself, not followed
    assert stat["mode"] & (1 << 27) and stat["linkTarget"] == outside
    assert members(stream)["abs"].linkname == outside  # type: ignore[union-attr]
    stream, _ = box.get_archive("/tmp/ok/f")
    assert members(stream) == {"f": b"in\n"}
    # writing through them: into the container's own /hostside…, never the host's
    box.exec_run(["mkdir", "-p", outside])
    box.put_archive("/tmp/abs", tar_of({"planted.txt": b"x"}))
    box.put_archive("/tmp", tar_of({}, links={"esc": outside}))
    box.put_archive("/tmp/esc", tar_of({"planted2.txt": b"y"}))
    assert sorted(os.listdir(host_secret)) == ["secret.txt"]
    assert box.exec_run(["ls", outside]).output.split() == [b"planted.txt", b"planted2.txt"]


def test_hostile_tar_entries_are_refused(box: Any, host_secret: Path) -> None:
    bad = tar_of({f"../../../../../../..{host_secret}/evil.txt": b"evil"})
    with pytest.raises(docker.errors.APIError, match="outside of"):
        box.put_archive("/etc", bad)
    box.put_archive("/tmp", bad)  # climbs out of /tmp and back in: lands in the container's /tmp
    assert box.exec_run(["cat", f"{host_secret}/evil.txt"]).output == b"evil"
    assert sorted(os.listdir(host_secret)) == ["secret.txt"]


def test_no_overwrite_dir_non_dir(box: Any, client: Any) -> None:
    box.exec_run(["mkdir", "-p", "/tmp/adir"])
    res = client.api._put(client.api._url("/containers/{0}/archive", box.id),
                          params={"path": "/tmp", "noOverwriteDirNonDir": "1"},
                          data=tar_of({"adir": b"file now"}))
    assert res.status_code == 400 and "cannot overwrite directory" in res.json()["message"]
    # without the flag, the directory is replaced, as dockerd does
    assert box.put_archive("/tmp", tar_of({"adir": b"file now"}))
    assert box.exec_run("cat /tmp/adir").output == b"file now"


def test_stopped_container_and_export(client: Any) -> None:
    created = client.containers.create("busybox", ["cat", "/seeded"], name="cpstopped")
    created.put_archive("/", tar_of({"seeded": b"put while created\n"}))
    stream, _stat = created.get_archive("/seeded")
    assert members(stream) == {"seeded": b"put while created\n"}
    assert created.id not in Path("/proc/self/mountinfo").read_text()  # the helper's mount died with it
    created.start()
    assert created.wait()["StatusCode"] == 0
    assert created.logs() == b"put while created\n"
    exported = members(created.export())
    assert exported["seeded"] == b"put while created\n" and "bin/busybox" in exported
    assert not [n for n in exported if n.startswith("proc/")]


def test_export_of_a_running_container_skips_proc_and_sys(box: Any) -> None:
    box.exec_run(["sh", "-c", "echo live > /live"])
    exported = members(box.export())
    assert exported["live"] == b"live\n"
    assert "proc" in exported and not [n for n in exported if n.startswith(("proc/", "sys/"))]


def test_get_of_the_root_leaves_out_proc_sys_dev(box: Any) -> None:
    stream, stat = box.get_archive("/")
    assert stat["name"] == "/"
    names = set(members(stream))
    assert {"bin/busybox", "etc/passwd", "proc", "sys", "dev"} <= names
    assert not [n for n in names if n.startswith(("proc/", "sys/", "dev/"))]
