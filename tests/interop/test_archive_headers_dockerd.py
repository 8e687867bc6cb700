"""The tar streams of ``docker cp CONTAINER:PATH -`` (GET /containers/{id}/archive) and ``docker
export``, byte for byte beside a private real dockerd 20.10: Go's headers as moby fills them —
the file type bits in the mode (0100644, 040755, 0120777, 020666…; a hard link's its file's),
user and group names from the container's /etc/passwd and /etc/group, USTAR with a long name
split into its prefix, ``PaxHeaders.0/<base>`` record files (keys sorted) for what USTAR cannot
hold, ``security.capability`` as a SCHILY.xattr record, two zero blocks at the end."""

from __future__ import annotations

import io
import os
import tarfile
import time
from typing import Any

import docker
import pytest

pytestmark = pytest.mark.slow

MTIME = 1_600_000_000
CAPABILITY = bytes.fromhex("0100000200200000000000000000000000000000")  # cap_net_raw+ep, v2


def _member(name: str, kind: bytes, mode: int, **fields: Any) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = kind, mode, MTIME
    info.uid, info.gid = fields.pop("uid", 0), fields.pop("gid", 0)
    for key, value in fields.items():
        setattr(info, key, value)
    return info


def _upload(big_ids: bool) -> bytes:
    """Every kind of entry a container's files hold, put in with PUT /archive: uid 7 has no
    name in busybox's passwd, gid 8 is mail there, 1000:100 is :users; ``big_ids``: an owner
    past USTAR's octal fields (which a remapped daemon cannot map)."""
    out = io.BytesIO()
    split = "t/" + "d" * 60 + "/" + "f" * 70
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(_member("t", tarfile.DIRTYPE, 0o755))
        tar.addfile(_member("t/" + "d" * 60, tarfile.DIRTYPE, 0o750, uid=7, gid=8))
        for name, mode, data in (("t/file", 0o644, b"hello\n"), ("t/suid", 0o4755, b"#!\n"),
                                 ("t/sgid", 0o2711, b""), (split, 0o600, b"x" * 600),
                                 ("t/" + "n" * 120, 0o640, b"long\n"), ("t/ping", 0o755, b"p")):
            tar.addfile(_member(name, tarfile.REGTYPE, mode, size=len(data), uid=1000, gid=100),
                        io.BytesIO(data))
        tar.addfile(_member("t/hard", tarfile.LNKTYPE, 0o644, linkname="t/file"))
        tar.addfile(_member("t/link", tarfile.SYMTYPE, 0o777, linkname="file"))
        tar.addfile(_member("t/abs", tarfile.SYMTYPE, 0o777, linkname="/" + "l" * 110))
        tar.addfile(_member("t/fifo", tarfile.FIFOTYPE, 0o644))
        tar.addfile(_member("t/null", tarfile.CHRTYPE, 0o666, devmajor=1, devminor=3))
        tar.addfile(_member("t/loop", tarfile.BLKTYPE, 0o660, devmajor=7, devminor=200))
        tar.addfile(_member("t/sticky", tarfile.DIRTYPE, 0o1777))
        if big_ids:
            tar.addfile(_member("t/big", tarfile.REGTYPE, 0o644, uid=3_000_000, gid=2_500_000))
    return out.getvalue()


def _container(client: Any, big_ids: bool = True) -> Any:
    """A created container holding the upload, ``t/ping`` given a file capability on its upper
    layer (neither daemon's PUT /archive takes one from busybox's tools)."""
    container = client.containers.create("busybox", ["true"], name="tarheaders")
    assert container.put_archive("/", _upload(big_ids))
    upper = container.attrs["GraphDriver"]["Data"]["UpperDir"]
    os.setxattr(os.path.join(upper, "t/ping"), "security.capability", CAPABILITY)
    os.utime(os.path.join(upper, "t/ping"), (MTIME, MTIME))
    return container


def _entries(data: bytes, since: int, under: str = "") -> list[bytes]:
    """The stream's headers with their data, each as its blocks, of the entries named ``under``
    a directory (all: ""); a header whose mtime is the create's (``since`` or later: the init
    layer's files, made anew by each daemon) has its mtime and checksum blanked."""
    out, at = [], 0
    while at < len(data):
        block = data[at:at + 512]
        empty = block == b"\0" * 512
        size = 0 if empty or block[156:157] in b"123456" else int(block[124:135], 8)
        end = at + 512 + -(-size // 512) * 512
        if not empty and int(block[136:147], 8) >= since:
            block = block[:136] + b"\0" * 20 + block[156:]
        name = (block[345:500].rstrip(b"\0") + b"/" + block[:100]).lstrip(b"/")
        if name.startswith(under.encode()):
            out.append(block + data[at + 512:end])
        at = end
    return out


def test_cp_and_export_streams_are_dockerds(both: dict[str, Any]) -> None:
    since = int(time.time()) - 1
    seen = {}
    for name, (cli, client) in both.items():
        container = _container(client)
        try:
            copies = [b"".join(container.get_archive(path)[0])
                      for path in ("/t", "/t/", "/t/.", "/t/hard", "/t/null", "/t/link", "/etc/passwd")]
            done = cli("cp", "tarheaders:/t", "-", text=False)
            assert done.returncode == 0, done.stderr
            seen[name] = (copies, done.stdout, _entries(b"".join(container.export()), since))
        finally:
            container.remove(force=True)
    assert seen["dockyard"] == seen["dockerd"]
    copies, cli_copy, _export = seen["dockerd"]
    assert cli_copy == copies[0]
    with tarfile.open(fileobj=io.BytesIO(copies[0])) as tar:
        headers = {m.name: m for m in tar}
    assert (headers["t"].mode, headers["t/file"].mode, headers["t/null"].mode) == (0o40755, 0o100644, 0o20666)
    assert (headers["t/hard"].type, headers["t/hard"].mode) == (tarfile.LNKTYPE, 0o100644)
    assert (headers["t/suid"].uname, headers["t/suid"].gname, headers["t/file"].uname) == ("", "users", "root")
    assert headers["t/ping"].pax_headers == {"SCHILY.xattr.security.capability": CAPABILITY.decode("latin-1")}
    assert copies[0].endswith(b"\0" * 1024) and len(copies[0]) % 10240



def test_a_remapped_containers_export_is_dockerds(remapped_pair: tuple[str, str]) -> None:
    """Under ``--userns-remap`` an export maps the ids back to the container's and looks the
    names up by the ids on disk (the remapped ones, which busybox does not name), as moby's
    addTarFile looks them up before it maps. (``docker cp`` out is left giving the container's
    ids where 20.10 gives the host's: docs/containers.md, moby#43698; the entries compared are
    the test's, as 20.10's remapped export leaves /etc/mtab out of its init layer.)"""
    since = int(time.time()) - 1
    seen = {}
    for name, host in zip(("dockerd", "dockyard"), remapped_pair, strict=True):
        client = docker.DockerClient(base_url=host, version="auto", timeout=30)
        container = _container(client, big_ids=False)
        try:
            seen[name] = _entries(b"".join(container.export()), since, under="t/")
        finally:
            container.remove(force=True)
            client.close()
    assert seen["dockyard"] == seen["dockerd"]
    with tarfile.open(fileobj=io.BytesIO(b"".join(seen["dockerd"]))) as tar:
        owners = {m.name: (m.uid, m.gid, m.uname, m.gname) for m in tar}
    assert owners["t/file"] == (0, 0, "", "") and owners["t/suid"] == (1000, 100, "", "")
