"""Mount requests parsed and refused with dockerd's wording."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.volumes import parse
from dockyard.volumes.parse import InvalidMount


def test_bind_with_mode_and_propagation() -> None:
    req = parse.parse_bind("/srv/data/:/data/:ro,rshared")
    assert (req.type, req.source, req.destination, req.read_only) == ("bind", "/srv/data", "/data", True)
    assert req.propagation == "rshared" and req.mode == "ro,rshared" and req.create_source


def test_bind_default_propagation_and_named_volume() -> None:
    assert parse.parse_bind("/a:/b").propagation == "rprivate"
    req = parse.parse_bind("cache:/var/cache:nocopy")
    assert (req.type, req.name, req.copy_data, req.read_only) == ("volume", "cache", False, False)
    anonymous = parse.parse_bind("/only/target")
    assert anonymous.type == "volume" and anonymous.name == "" and anonymous.destination == "/only/target"


@pytest.mark.parametrize("raw, message", [
    ("x", ("invalid volume specification: 'x': invalid mount config for type \"volume\": "
          "invalid mount path: 'x' mount path must be absolute")),
    ("/a:/b:/c:/d", "invalid volume specification: '/a:/b:/c:/d'"),
    (":/b", "invalid volume specification: ':/b'"),
    ("/foo:rw", "invalid volume specification: '/foo:rw'"),
    ("/a:/b:bogus", "invalid mode: bogus"),
    ("/a:/b:ro,rw", "invalid mode: ro,rw"),
    ("/a:/", ("invalid volume specification: '/a:/': invalid mount config for type \"bind\": "
             "invalid specification: destination can't be '/'")),
    ("../etc:/x", "create ../etc: \"../etc\" includes invalid characters for a local volume name"),
    ("v:/x", "create v: volume name is too short, names should be at least two alphanumeric characters"),
    ("/a:/b:ro,nocopy", ("invalid volume specification: '/a:/b:ro,nocopy': invalid mount config for "
                         "type \"bind\": field VolumeOptions must not be specified")),
    ("a/b:/x", ("includes invalid characters for a local volume name, only "
               "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host "
               "directory, use absolute path")),
])
def test_bad_binds(raw: str, message: str) -> None:
    with pytest.raises(InvalidMount) as info:
        parse.parse_bind(raw)
    assert message in str(info.value)


def test_mount_bind_source_must_exist(tmp_path: Path) -> None:
    with pytest.raises(InvalidMount, match='^invalid mount config for type "bind": '
                                          "bind source path does not exist: /nope$"):
        parse.parse_mount({"Type": "bind", "Source": "/nope", "Target": "/x"})
    req = parse.parse_mount({"Type": "bind", "Source": str(tmp_path), "Target": "/x", "ReadOnly": True,
                             "BindOptions": {"Propagation": "rslave"}})
    assert req.read_only and req.propagation == "rslave" and not req.create_source


@pytest.mark.parametrize("spec, message", [
    ({"Type": "bind", "Source": "/", "Target": "/x", "BindOptions": {"Propagation": "sideways"}},
     'invalid mount config for type "bind": invalid propagation mode: sideways'),
    ({"Type": "bind", "Target": "/x"}, 'invalid mount config for type "bind": field Source must not be empty'),
    ({"Type": "bind", "Source": "/", "Target": "rel"},
     "invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must be absolute"),
    ({"Type": "volume", "Target": "/x", "ReadOnly": True},
     'invalid mount config for type "volume": must not set ReadOnly mode when using anonymous volumes'),
    ({"Type": "volume", "Source": "v1", "Target": "/x", "BindOptions": {}},
     'invalid mount config for type "volume": field BindOptions must not be specified'),
    ({"Type": "tmpfs", "Source": "x", "Target": "/x"},
     'invalid mount config for type "tmpfs": field Source must not be specified'),
    ({"Type": "npipe", "Target": "/x"}, 'invalid mount config for type "npipe": mount type unknown'),
    ({"Type": "volume", "Source": "v1"}, 'invalid mount config for type "volume": field Target must not be empty'),
    ({"Type": "npipe", "Target": "rel"},
     "invalid mount config for type \"npipe\": invalid mount path: 'rel' mount path must be absolute"),
    ({"Type": "tmpfs", "Target": "/x/.."},
     "invalid mount config for type \"tmpfs\": invalid specification: destination can't be '/'"),
    ({"Type": "tmpfs", "Target": "//"},
     "invalid mount config for type \"tmpfs\": invalid specification: destination can't be '/'"),
])
def test_bad_mounts(spec: dict[str, object], message: str) -> None:
    """Each refused by the create's check (before the image) and by the parse unless told it
    was checked; the target before the type, cleaned as Go's ``path.Clean`` for the root."""
    for refuse in (parse.check_mount, parse.parse_mount):
        with pytest.raises(InvalidMount) as info:
            refuse(spec)
        assert str(info.value) == message


def test_what_a_mounts_check_leaves_to_its_parse() -> None:
    """A volume's name and a tmpfs size are refused once the image is found (dockerd 20.10:
    when it registers the mounts), not by the create's check; a parse told the entry was
    checked does not look again (a bind source is looked up once)."""
    named = {"Type": "volume", "Source": "a/b", "Target": "/x"}
    sized = {"Type": "tmpfs", "Target": "/x", "TmpfsOptions": {"SizeBytes": -1}}
    for spec, words in ((named, 'create a/b: "a/b" includes invalid characters'),
                        (sized, 'invalid mount config for type "tmpfs": invalid tmpfs size: -1')):
        parse.check_mount(spec)
        with pytest.raises(InvalidMount, match=words):
            parse.parse_mount(spec, checked=True)
    gone = {"Type": "bind", "Source": "/dy-nope", "Target": "/x"}
    assert parse.parse_mount(gone, checked=True).source == "/dy-nope"
    assert [r.source for r in parse.requests({}, {"Mounts": [gone]}, checked=True)] == ["/dy-nope"]
    with pytest.raises(InvalidMount, match="bind source path does not exist: /dy-nope"):
        parse.requests({}, {"Mounts": [gone]})


@pytest.mark.parametrize("destination, message", [
    ("rel", "invalid mount path: 'rel' mount path must be absolute"),
    ("", "invalid mount path: '' mount path must be absolute"),
    ("/", "invalid specification: destination can't be '/'"),
    ("/x/..", "invalid specification: destination can't be '/'"),
    ("//", "invalid specification: destination can't be '/'"),
])
def test_bad_tmpfs_destinations(destination: str, message: str) -> None:
    """dockerd's ``ValidateTmpfsMountDestination``: its words name no mount type."""
    for refuse in (parse.check_tmpfs_destination, lambda d: parse.parse_tmpfs(d, "")):
        with pytest.raises(InvalidMount) as info:
            refuse(destination)
        assert str(info.value) == message
    assert parse.parse_tmpfs(destination, "", checked=True).type == "tmpfs"


def test_volume_and_tmpfs_mounts() -> None:
    req = parse.parse_mount({"Type": "volume", "Source": "v1", "Target": "/x",
                             "VolumeOptions": {"NoCopy": True, "Labels": {"a": "b"}}})
    assert (req.name, req.copy_data, req.labels) == ("v1", False, {"a": "b"})
    tmp = parse.parse_mount({"Type": "tmpfs", "Target": "/t",
                             "TmpfsOptions": {"SizeBytes": 64 << 20, "Mode": 0o1770}})
    assert tmp.tmpfs_data == ["mode=1770", "size=64m"]
    assert parse.tmpfs_options({"SizeBytes": 1000}) == ["size=1000"]
    assert parse.tmpfs_options({"SizeBytes": 3 << 30}) == ["size=3g"]


def test_requests_sorted_deduplicated_and_image_volumes_fill_gaps() -> None:
    reqs = parse.requests({"Volumes": {"/data": {}, "/a": {}}},
                          {"Binds": ["/h:/a/b", "v1:/a"], "Tmpfs": {"/run": "size=1m,exec"}})
    assert [(r.type, r.destination) for r in reqs] == [
        ("volume", "/a"), ("volume", "/data"), ("tmpfs", "/run"), ("bind", "/a/b")]
    assert reqs[0].name == "v1" and reqs[1].name == ""
    assert reqs[2].tmpfs_data == ["size=1m", "exec"] and not reqs[2].listed


@pytest.mark.parametrize("host_config", [
    {"Binds": ["/a:/data", "vv:/data/"]},
    {"Binds": ["/a:/data"], "Mounts": [{"Type": "tmpfs", "Target": "/data"}]},
    {"Binds": ["/a:/data"], "Tmpfs": {"/data": ""}},
])
def test_duplicate_mount_point(host_config: dict[str, object]) -> None:
    with pytest.raises(InvalidMount, match="^Duplicate mount point: /data$"):
        parse.requests({}, host_config)


def test_a_mount_beside_a_tmpfs_is_taken() -> None:
    """dockerd 20.10: a tmpfs --mount is mounted over a Tmpfs one, a volume's is shown only."""
    reqs = parse.requests({"Volumes": {"/v": {}}}, {"Tmpfs": {"/t": "size=1m", "/v": ""}, "Mounts": [
        {"Type": "tmpfs", "Target": "/t"}, {"Type": "volume", "Source": "vv", "Target": "/v"}]})
    assert [(r.type, r.destination, r.listed, r.mounted) for r in reqs] == [
        ("tmpfs", "/t", False, True), ("tmpfs", "/t", True, True),
        ("volume", "/v", True, False), ("tmpfs", "/v", False, True)]


def test_tmpfs_keys_are_compared_as_sent() -> None:
    """dockerd 20.10 looks a ``Tmpfs`` key up as sent: two keys cleaning to one path are both
    mounted (in the order sent), a bind or a ``--mount`` at the path a key only cleans to is
    neither refused nor skipped (mounted first, under the tmpfs), nor is a ``Config.Volumes``
    one; one at a ``--volumes-from`` path is left out."""
    reqs = parse.requests({"Volumes": {"/v": {}, "/w": {}}}, {
        "Tmpfs": {"/t/.": "size=2m", "//t": "size=1m", "/b/": "", "/v/": ""},
        "Binds": ["/tmp:/b"]}, inherited={"/w"})
    assert [(r.type, r.destination, r.tmpfs_data, r.mounted) for r in reqs] == [
        ("bind", "/b", [], True), ("tmpfs", "/b", [], True), ("tmpfs", "/t", ["size=2m"], True),
        ("tmpfs", "/t", ["size=1m"], True), ("volume", "/v", [], True), ("tmpfs", "/v", [], True)]


def test_config_volume_relative_is_below_the_root_and_the_root_is_refused() -> None:
    """dockerd takes any ``Config.Volumes`` key, cleaned; only the root itself is refused here."""
    (data,) = parse.requests({"Volumes": {"data/../data/": {}}}, {})
    assert (data.type, data.destination, data.name) == ("volume", "data", "")
    for root in ("/", "", "/a/..", "a/.."):
        with pytest.raises(InvalidMount, match="invalid volume specification"):
            parse.requests({"Volumes": {root: {}}}, {})


def test_valid_modes() -> None:
    for mode in ("", "ro", "rw,z", "Z,rslave,nocopy", "delegated"):
        assert parse.valid_mode(mode)
    for mode in ("x", "z,Z", "shared,slave", "ro,ro", "nocopy,nocopy"):
        assert not parse.valid_mode(mode)


def test_bind_options(tmp_path: Path) -> None:
    req = parse.parse_mount({"Type": "bind", "Source": str(tmp_path / "new"), "Target": "/x",
                             "BindOptions": {"CreateMountpoint": True, "NonRecursive": True}})
    assert req.create_source and not req.recursive
    req = parse.parse_mount({"Type": "volume", "Source": "vv", "Target": "/x",
                             "VolumeOptions": {"Subpath": "a/../b"}})
    assert req.subpath == "a/../b"


@pytest.mark.parametrize(("source", "subpath", "words"), [
    ("", "a", "must not set Subpath when using anonymous volumes"),
    ("vv", "/etc", "subpath must be a relative path within the volume"),
    ("vv", "..", "subpath must be a relative path within the volume"),
    ("vv", "a/../../b", "subpath must be a relative path within the volume"),
])
def test_volume_subpath_refusals(source: str, subpath: str, words: str) -> None:
    """moby's linux parser (daemon 26+), checked lexically at create."""
    with pytest.raises(InvalidMount) as refused:
        parse.parse_mount({"Type": "volume", "Source": source, "Target": "/x",
                           "VolumeOptions": {"Subpath": subpath}})
    assert str(refused.value) == f'invalid mount config for type "volume": {words}'
