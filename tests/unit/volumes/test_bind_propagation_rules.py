"""The bind propagation rules of dockerd 20.10, pure: the daemon-root rule at create
(``validateBindDaemonRoot``), the start's choice from the daemon's mountinfo (``setMounts``:
``ensureShared``, ``ensureSharedOrSlave``, the fallback for an implied ``rslave``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dockyard.containers.spec import Mount
from dockyard.linux.mounts import bind_propagation, source_mount, unescape
from dockyard.volumes import parse
from dockyard.volumes.parse import InvalidBind, InvalidMount
from dockyard.volumes.propagation import PropagationRefused, rootfs_propagation

ROOT = "/var/lib/dy-root"


def _one(host_config: dict[str, Any]) -> parse.MountRequest:
    (req,) = parse.requests({}, host_config, checked=True, daemon_root=ROOT)
    return req


@pytest.mark.parametrize("source", ["/", "/var", "/var/lib/dy", ROOT, ROOT + "/volumes/x",
                                    ROOT + "2/x"])
def test_a_source_in_the_root_either_way_gets_rslave_unasked(source: str) -> None:
    req = _one({"Binds": [f"{source}:/h"]})
    assert (req.propagation, req.implied, req.mode) == ("rslave", True, "")
    req = _one({"Mounts": [{"Type": "bind", "Source": source, "Target": "/h",
                            "BindOptions": {"CreateMountpoint": True}}]})
    assert (req.propagation, req.implied) == ("rslave", True)


def test_a_source_outside_the_root_or_a_volume_keeps_rprivate() -> None:
    for raw in ("/etc:/h", "/var/lib/other:/h", "vol:/h"):
        req = _one({"Binds": [raw]})
        assert not req.implied and req.propagation == ("" if raw.startswith("vol") else "rprivate")


@pytest.mark.parametrize("asked", ["rslave", "rshared"])
def test_rslave_or_rshared_asked_in_the_root_is_kept_not_implied(asked: str) -> None:
    req = _one({"Binds": [f"/var:/h:ro,{asked}"]})
    assert (req.propagation, req.implied, req.read_only) == (asked, False, True)


@pytest.mark.parametrize("raw, source, asked", [
    ("/var:/h:rprivate", "/var", "rprivate"),
    ("/var/:/h:private", "/var/", "private"),  # the source as written
    ("/:/h:slave", "/", "slave"),
    ("/var:/h:shared", "/var", "shared"),
])
def test_another_propagation_in_the_root_is_refused_in_dockerds_words(raw: str, source: str,
                                                                      asked: str) -> None:
    with pytest.raises(InvalidMount) as refused:
        _one({"Binds": [raw]})
    assert refused.value.status == 400
    assert str(refused.value) == (
        'invalid mount config: must use either propagation mode "rslave" or "rshared" when '
        f'mount source is within the daemon root, daemon root: "{ROOT}", bind mount source: '
        f'"{source}", propagation: "{asked}"')


def test_no_daemon_root_no_rule() -> None:
    (req,) = parse.requests({}, {"Binds": ["/var:/h:private"]})
    assert (req.propagation, req.implied) == ("private", False)


@pytest.mark.parametrize("host_config, words", [
    ({"Binds": ["/etc:/x", "/var:/x:private"]}, "must use either"),   # before its duplicate
    ({"Binds": ["/var:/x:private", "a:b:c:d"]}, "must use either"),   # each bind in turn
    ({"Binds": ["a:b:c:d", "/var:/x:private"]}, "invalid volume specification"),
    ({"Binds": ["/etc:/x", "bad@name:/x"]}, "Duplicate mount point: /x"),  # before the name
    ({"Binds": ["/var:/x:private"],
      "Mounts": [{"Type": "volume", "Source": "bad@name", "Target": "/y"}]}, "must use either"),
    ({"Binds": ["a:b:c:d"],
      "Mounts": [{"Type": "volume", "Source": "bad@name", "Target": "/y"}]}, "invalid volume spec"),
    ({"Binds": ["/etc:/x"], "Mounts": [{"Type": "bind", "Source": "/etc", "Target": "/x/"}]},
     "Duplicate mount point: /x/"),                                   # a Mount's target as written
])
def test_registration_order_as_dockerd(host_config: dict[str, Any], words: str) -> None:
    with pytest.raises((InvalidMount, InvalidBind)) as refused:
        parse.requests({}, host_config, checked=True, daemon_root=ROOT)
    assert words in str(refused.value)


MOUNTINFO = """\
1 0 8:1 / / rw,relatime - ext4 /dev/sda1 rw
2 1 0:40 / /srv/shared rw,relatime shared:4 - tmpfs t rw
3 1 0:41 / /srv/slave rw,relatime master:7 - tmpfs t rw
4 1 0:42 / /srv/both rw,relatime shared:9 master:3 - tmpfs t rw
5 1 0:43 / /srv/priv rw,relatime - tmpfs t rw
6 5 0:44 / /srv/priv/inner\\040dir rw,relatime shared:12 - tmpfs t rw
7 1 0:45 / /srv/sha rw,relatime - tmpfs t rw
"""


@pytest.fixture
def srv(tmp_path: Path) -> Path:
    """Real directories (their links are resolved) named as MOUNTINFO's mount points."""
    for name in ("shared/d", "slave/d", "both", "priv/d", "priv/inner dir", "sha"):
        (tmp_path / name).mkdir(parents=True)
    return tmp_path


def _info(srv: Path) -> str:
    return MOUNTINFO.replace("/srv/", f"{srv}/")


def _bind(source: Path | str, propagation: str, implied: bool = False) -> Mount:
    return Mount("bind", "/m", str(source), options=[propagation], implied=implied)


def test_the_source_mount_is_the_longest_string_prefix(srv: Path) -> None:
    info = _info(srv)
    assert source_mount(f"{srv}/shared/d", info) == (f"{srv}/shared", "shared:4")
    assert source_mount(f"{srv}/priv/inner dir", info) == (f"{srv}/priv/inner dir", "shared:12")
    assert source_mount(f"{srv}/shax", info) == (f"{srv}/sha", "")  # a string prefix, as Go
    assert source_mount("/elsewhere", info) == ("/", "")


def test_shared_needs_a_shared_mount_and_makes_the_root_shared(srv: Path) -> None:
    info = _info(srv)
    assert rootfs_propagation([_bind(srv / "shared/d", "rshared")], ROOT, mountinfo=info) == "shared"
    assert rootfs_propagation([_bind(srv / "both", "shared")], ROOT, mountinfo=info) == "shared"
    for source in ("slave/d", "priv/d"):
        with pytest.raises(PropagationRefused) as refused:
            rootfs_propagation([_bind(srv / source, "rshared")], ROOT, mountinfo=info)
        mountpoint = str(srv / source.split("/")[0])
        assert str(refused.value) == (f"path {srv / source} is mounted on {mountpoint} but it "
                                      "is not a shared mount")
        assert refused.value.status == 500


def test_slave_needs_a_shared_or_slave_mount_and_makes_the_root_rslave(srv: Path) -> None:
    info = _info(srv)
    for source in ("shared/d", "slave/d", "both"):
        assert rootfs_propagation([_bind(srv / source, "rslave")], ROOT, mountinfo=info) == "rslave"
    with pytest.raises(PropagationRefused, match=f"^path {srv}/priv/d is mounted on {srv}/priv "
                                                 "but it is not a shared or slave mount$"):
        rootfs_propagation([_bind(srv / "priv/d", "slave")], ROOT, mountinfo=info)


def test_shared_wins_over_slave_and_private_binds_ask_nothing(srv: Path) -> None:
    info = _info(srv)
    binds = [_bind(srv / "slave/d", "rslave"), _bind(srv / "shared/d", "rshared"),
             _bind(srv / "slave/d", "rslave")]
    assert rootfs_propagation(binds, ROOT, mountinfo=info) == "shared"
    private = [_bind(srv / "priv/d", "rprivate"), Mount("bind", "/n", str(srv / "priv/d")),
               Mount("tmpfs", "/t", options=["rslave"])]
    assert rootfs_propagation(private, ROOT, mountinfo=info) == ""


def test_an_implied_rslave_in_the_daemon_root_falls_back_to_private(srv: Path) -> None:
    info = _info(srv)
    source = srv / "priv/d"
    fallback = _bind(source, "rslave", implied=True)
    assert rootfs_propagation([fallback], str(source / "data"), mountinfo=info) == ""
    assert rootfs_propagation([fallback], str(srv), mountinfo=info) == ""  # either way
    with pytest.raises(PropagationRefused):  # asked for: no fallback
        rootfs_propagation([_bind(source, "rslave")], str(srv), mountinfo=info)
    with pytest.raises(PropagationRefused):  # not in this daemon's root (a volumes-from copy)
        rootfs_propagation([fallback], "/var/lib/other", mountinfo=info)


def test_a_missing_source_in_gos_words(srv: Path) -> None:
    with pytest.raises(PropagationRefused, match=f"^lstat {srv}/gone: no such file or directory$"):
        rootfs_propagation([_bind(srv / "gone/deeper", "rslave")], ROOT, mountinfo=_info(srv))


def test_mountinfo_words() -> None:
    assert unescape("/a\\040b\\134c") == "/a b\\c"
    assert bind_propagation(["norbind", "rshared"]) == "rshared"
    assert bind_propagation(["norbind"]) == ""
