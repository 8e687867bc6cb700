"""A ``--userns-remap`` store (the store's id map set): layers unpacked with every owner shifted
through the map, read back (diff, commit, build layers) with the container's ids; the
container's and a volume's directories owned by the remapped root; dockerd's create-time
refusals. Root: the unpack gives other owners with lchown, as dockerd's. The daemon end to
end is tests/integration/containers/test_userns_remap_daemon.py."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest
from store_helpers import F, make_tar

from dockyard.containers import create, skeleton
from dockyard.errors import InvalidArgument
from dockyard.linux import idmap
from dockyard.store.diff import layer_tar, write_layer
from dockyard.store.owners import StoreIdMap, UnmappedId, to_host
from dockyard.store.snapshots import SnapshotStore, unpack
from dockyard.volumes.local import LocalDriver

SHIFT = 300000
REMAP = idmap.UserNamespace([(0, SHIFT, 65536)], [(0, SHIFT, 65536)])
IDS = StoreIdMap.of_process(REMAP)  # the store's id map of a remapping daemon
LAYER = [
    F("etc/", type=tarfile.DIRTYPE, mode=0o755),
    F("etc/passwd", b"root:x:0:0::/root:/bin/sh\n"),
    F("home/app/", type=tarfile.DIRTYPE, mode=0o750, uid=1000, gid=1000),
    F("home/app/notes", b"hi", uid=1000, gid=100, mode=0o600),
    F("home/app/link", type=tarfile.SYMTYPE, linkname="notes", uid=1000, gid=1000),
    F("home/app/hard", type=tarfile.LNKTYPE, linkname="home/app/notes", uid=1000, gid=100, mode=0o600),
    F("usr/lib/deep/file", b"x", uid=65535, gid=65535),  # parents not listed: made by the unpack
    F("tmp/.wh.gone", uid=0, gid=0),
    F("sbin/su", b"#!", mode=0o4755),
]


@pytest.fixture(autouse=True)
def _root() -> None:
    if os.geteuid() != 0:
        pytest.skip("a remapped store gives owners with lchown, as root")


def _owner(path: Path) -> tuple[int, int]:
    st = os.lstat(path)
    return st.st_uid, st.st_gid


def test_to_host_shifts_and_names_an_id_the_map_lacks() -> None:
    assert to_host(REMAP, 0, 0) == (SHIFT, SHIFT)
    assert to_host(REMAP, 65535, 1) == (SHIFT + 65535, SHIFT + 1)
    with pytest.raises(UnmappedId, match="^Container ID 70000 cannot be mapped to a host ID$"):
        to_host(REMAP, 70000, 0)
    with pytest.raises(UnmappedId, match="Container ID 65536 cannot"):
        to_host(REMAP, 0, 65536)


def test_a_layer_unpacks_with_every_owner_shifted(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path, durable=False, id_map=IDS)
    store.create("sha256:" + "a" * 64, io.BytesIO(make_tar(LAYER)))
    fs = store.path("sha256:" + "a" * 64)
    assert _owner(fs) == (SHIFT, SHIFT)  # the layer's root dir: the remapped root's, as dockerd's
    assert _owner(fs / "etc") == _owner(fs / "etc/passwd") == (SHIFT, SHIFT)
    assert _owner(fs / "home/app") == (SHIFT + 1000, SHIFT + 1000)
    assert _owner(fs / "home/app/notes") == (SHIFT + 1000, SHIFT + 100)
    assert _owner(fs / "home/app/link") == (SHIFT + 1000, SHIFT + 1000)
    assert os.lstat(fs / "home/app/hard").st_ino == os.lstat(fs / "home/app/notes").st_ino
    for parent in ("home", "usr", "usr/lib", "usr/lib/deep"):  # not in the tar: remapped root's
        assert _owner(fs / parent) == (SHIFT, SHIFT), parent
    assert _owner(fs / "usr/lib/deep/file") == (SHIFT + 65535, SHIFT + 65535)
    whiteout = os.lstat(fs / "tmp/gone")
    assert stat.S_ISCHR(whiteout.st_mode) and (whiteout.st_uid, whiteout.st_gid) == (SHIFT, SHIFT)
    assert stat.S_IMODE(os.lstat(fs / "sbin/su").st_mode) == 0o4755  # set after the chown


def test_an_owner_outside_the_map_stops_the_unpack_in_dockerds_words(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path, durable=False, id_map=IDS)
    layer = make_tar([F("ok"), F("far", b"x", uid=70000, gid=70000)])
    with pytest.raises(UnmappedId, match=r"^Error processing tar file\(exit status 1\): Container ID 70000 "
                                         "cannot be mapped to a host ID$"):
        store.create("sha256:" + "b" * 64, io.BytesIO(layer))
    assert not store.exists("sha256:" + "b" * 64)
    far_dir = make_tar([F("d/", type=tarfile.DIRTYPE, uid=0, gid=80000)])  # checked last, as dirs are
    with pytest.raises(UnmappedId, match=r"^Error processing tar file\(exit status 1\): Container ID 80000"):
        store.create("sha256:" + "c" * 64, io.BytesIO(far_dir))
    assert [e.name for e in os.scandir(store.root)] == []  # the half-made tmp dir is gone


def test_without_a_map_owners_are_the_tars(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    unpack(io.BytesIO(make_tar(LAYER)), tmp_path / "plain")
    assert _owner(tmp_path / "plain/home/app/notes") == (1000, 100)
    assert _owner(tmp_path / "plain/usr") == (0, 0)


def _headers(chunks: list[bytes]) -> dict[str, tuple[int, int]]:
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:
        return {m.name.rstrip("/"): (m.uid, m.gid) for m in tar}


def test_a_layer_read_back_carries_the_containers_ids(tmp_path: Path) -> None:
    """An upper dir as a remapped container leaves it (host ids) → the layer tar a commit or
    build stores has the ids the container saw; unpacked again, the same host ids."""
    upper = tmp_path / "upper"
    upper.mkdir()
    unpack(io.BytesIO(make_tar(LAYER)), upper, id_map=IDS)
    os.chown(upper / "etc/passwd", 12345, 12345)  # an owner outside the map: the kernel's nobody
    headers = _headers(list(layer_tar(upper, IDS)))
    assert headers["home/app/notes"] == (1000, 100) and headers["etc"] == (0, 0)
    assert headers["usr/lib/deep/file"] == (65535, 65535) and headers["tmp/.wh.gone"] == (0, 0)
    assert headers["etc/passwd"] == (65534, 65534)
    assert _headers(list(layer_tar(upper)))["home/app/notes"] == (SHIFT + 1000, SHIFT + 100)

    from dockyard.store.content import ContentStore

    content = ContentStore(tmp_path / "content")
    layer = write_layer(content, upper, exclude=["sbin/su"], id_map=IDS)
    with content.open(layer.blob_digest) as blob:
        stored = _headers([blob.read()])
    assert stored["home/app"] == (1000, 1000) and "sbin/su" not in stored


def test_a_containers_directory_and_init_layer_are_the_remapped_roots(tmp_path: Path) -> None:
    skeleton.make(tmp_path / "c", owner=(SHIFT, SHIFT))
    upper = tmp_path / "c/upper"
    for rel in ("", "etc", "dev", "dev/pts", "dev/shm", ".dockerenv", "etc/hosts", "etc/mtab",
                "dev/console"):
        assert _owner(upper / rel) == (SHIFT, SHIFT), rel
    skeleton.make(tmp_path / "plain")
    assert _owner(tmp_path / "plain/upper/etc/hosts") == (0, 0)


def test_a_new_volumes_data_is_the_remapped_roots(tmp_path: Path) -> None:
    volume, made = LocalDriver(tmp_path / "volumes", owner=(SHIFT, SHIFT)).create("vol1", None, None)
    assert made and _owner(volume.data) == (SHIFT, SHIFT)
    assert stat.S_IMODE(os.stat(volume.data).st_mode) == 0o755
    plain, _ = LocalDriver(tmp_path / "plain").create("vol1", None, None)
    assert _owner(plain.data) == (0, 0)


@pytest.mark.parametrize(("hc", "message"), [
    ({"Privileged": True}, ("privileged mode is incompatible with user namespaces.  You must run the "
                           "container in the host namespace when running privileged mode")),
    ({"Privileged": True, "NetworkMode": "host"}, "privileged mode is incompatible"),
    ({"NetworkMode": "host"}, "cannot share the host's network namespace when user namespaces are enabled"),
    ({"PidMode": "host"}, "cannot share the host PID namespace when user namespaces are enabled"),
    ({"PidMode": "host", "UsernsMode": "private"}, "cannot share the host PID namespace"),
])
def test_create_refusals_are_dockerds(hc: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        create.check_userns(hc, REMAP)
    assert str(caught.value).startswith(message)
    create.check_userns({**hc, "UsernsMode": "host"}, REMAP)  # opted out: all taken
    create.check_userns(hc, None)  # no remap: nothing to refuse


def test_which_containers_are_remapped() -> None:
    """dockerd 20.10 takes any UsernsMode at create and remaps every one but "host"."""
    for mode in ("", "private", "foo", "container:x"):
        assert create.remapped({"UsernsMode": mode}, REMAP)
    assert create.remapped({}, REMAP)
    assert not create.remapped({"UsernsMode": "host"}, REMAP)
    assert not create.remapped({}, None)
    create.check_userns({"IpcMode": "host", "UTSMode": "host", "CapAdd": ["SYS_ADMIN"]}, REMAP)
