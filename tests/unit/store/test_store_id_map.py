"""The store's id map (dockyard.store.owners.StoreIdMap): the one answer the unpacker, the
layer writer, commit and the builder ask about how the owners of the store's files relate to
the containers' ids — a plain root daemon's, a ``--userns-remap`` daemon's, and a rootless
daemon's, the last seen from outside (the daemon's user: host ids) and from inside its user
namespace (its helper: the containers' ids), with the same object on both sides. The rootless
daemon end to end is tests/integration/rootless; the remapped store, test_store_remap.py."""

from __future__ import annotations

import io
import os
import pickle
import shutil
import tarfile
import tempfile
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from store_helpers import F, make_tar

from dockyard.errors import Unavailable
from dockyard.linux import idmap, syscalls, userns
from dockyard.store.diff import layer_tar
from dockyard.store.owners import StoreIdMap, UnmappedId
from dockyard.store.snapshots import unpack

NOBODY = 65534
PR_SET_DUMPABLE = 4
SHIFT = 300000
REMAP = idmap.UserNamespace([(0, SHIFT, 65536)], [(0, SHIFT, 70000)])
SINGLE = idmap.UserNamespace([(0, NOBODY, 1)], [(0, NOBODY, 1)])  # nobody has no subordinate ids


@pytest.fixture(autouse=True)
def _root_in_the_initial_namespace() -> None:
    if os.geteuid() != 0 or userns.inside():
        pytest.skip("switches to another user and makes a user namespace, as root of the host")


@pytest.fixture
def shared() -> Iterator[Path]:
    """A directory another user may reach (pytest's tmp_path is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="dy-idmap-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def _as_nobody(fn: Callable[[], Any], enter: bool = False) -> Any:
    """``fn()`` in a forked child running as nobody — and, with ``enter``, as root of a user
    namespace of its own mapping nobody (a rootless daemon's helper with a single-id map)."""
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read)
        try:
            os.setgroups([])
            os.setresgid(NOBODY, NOBODY, NOBODY)
            os.setresuid(NOBODY, NOBODY, NOBODY)
            syscalls.prctl(PR_SET_DUMPABLE, 1)  # the id change cleared it: /proc/self is root's
            if enter:
                userns.enter(SINGLE)
            result: tuple[bool, Any] = (True, fn())
        except BaseException:  # noqa: BLE001 — handed to the parent
            result = (False, traceback.format_exc())
        with os.fdopen(write, "wb") as out:
            out.write(pickle.dumps(result))
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        ok, value = pickle.loads(f.read())
    os.waitpid(child, 0)
    assert ok, value
    return value


def _headers(chunks: Iterator[bytes]) -> dict[str, tuple[int, int]]:
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:
        return {m.name.rstrip("/"): (m.uid, m.gid) for m in tar}


def test_a_root_daemons_map_is_the_host_ids() -> None:
    ids = StoreIdMap.of_process()
    assert ids.kind == "host" and ids.remap is None
    assert ids.read_maps() is None and ids.owner_map().ns is None and ids.namespace() is None
    assert ids.to_disk(1000, 70000) == (1000, 70000) and ids.root_owner() is None
    assert ids.root_on_disk() == (0, 0)
    ids.check_owner(70000, 70000)  # any id


def test_a_remapping_daemons_map_shifts_and_refuses_what_it_lacks() -> None:
    ids = StoreIdMap.of_process(REMAP)
    assert ids.kind == "remap" and ids.remap is REMAP
    assert ids.read_maps() == (REMAP.uid_map, REMAP.gid_map)
    assert ids.to_disk(1000, 66000) == (SHIFT + 1000, SHIFT + 66000)
    assert ids.root_owner() == ids.root_on_disk() == (SHIFT, SHIFT)
    owners = ids.owner_map()
    assert owners.shift and owners.owner("f", 5, 5) == (SHIFT + 5, SHIFT + 5)
    with pytest.raises(UnmappedId, match="^Container ID 65536 cannot be mapped to a host ID$"):
        ids.to_disk(65536, 0)


def _outside() -> dict[str, Any]:
    ids = StoreIdMap.of_process()
    return {"kind": ids.kind, "inside": ids.inside(), "maps": ids.read_maps(),
            "ns": ids.namespace(), "root": ids.root_on_disk(), "same": ids == StoreIdMap("userns")}


def test_a_rootless_daemons_map_seen_from_outside_is_its_user_namespaces() -> None:
    seen = _as_nobody(_outside)
    assert seen["kind"] == "userns" and seen["same"] and not seen["inside"]
    assert seen["maps"] == ([(0, NOBODY, 1)], [(0, NOBODY, 1)])  # idmap.rootless() for nobody
    assert seen["ns"].uid_map == SINGLE.uid_map and seen["root"] == (NOBODY, NOBODY)


def _layer_and_unpack(upper: str, dest: str, ids: StoreIdMap) -> tuple[dict[str, tuple[int, int]], str]:
    owned = make_tar([F("mine", b"x"), F("theirs", b"y", uid=1000, gid=1000)])
    result = unpack(io.BytesIO(owned), Path(dest), what="the test layer", id_map=ids)
    return _headers(layer_tar(upper, ids)), result.unmapped


def test_one_rootless_map_reads_the_same_owners_from_both_sides(shared: Path) -> None:
    """The daemon's own files are its containers' root's, another host id is 65534 — read back
    outside through the inverse of the map, inside by the kernel; an unpack on either side
    gives an id the map lacks to root, and says so. The object crossed as it is."""
    upper = shared / "upper"
    upper.mkdir()
    (upper / "mine").write_text("x")
    (upper / "far").write_text("y")
    os.chown(upper, NOBODY, NOBODY)
    os.chown(upper / "mine", NOBODY, NOBODY)
    os.chown(upper / "far", 1234, 1234)
    for side in ("out", "in"):
        (shared / side).mkdir()
        os.chown(shared / side, NOBODY, NOBODY)
    ids = StoreIdMap("userns")
    out_headers, out_note = _as_nobody(lambda: _layer_and_unpack(str(upper), str(shared / "out"), ids))
    in_headers, in_note = _as_nobody(lambda: _layer_and_unpack(str(upper), str(shared / "in"), ids), enter=True)
    assert out_headers == in_headers == {"mine": (0, 0), "far": (NOBODY, NOBODY)}
    for side, note in (("out", out_note), ("in", in_note)):
        assert (shared / side / "theirs").stat().st_uid == NOBODY, side  # root's: the daemon's user
        assert note.startswith("the test layer: 1 entry owned by ids outside") and "only id 0 is" in note


def _refused_inside() -> str:
    ids = StoreIdMap("userns")
    assert ids.inside() and ids.namespace() is not None and ids.read_maps() is None
    ids.check_owner(0, 0)
    try:
        ids.check_owner(1000, 0)
    except Unavailable as exc:
        return str(exc)
    return ""


def test_an_explicit_owner_the_rootless_map_lacks_is_named_inside() -> None:
    message = _as_nobody(_refused_inside, enter=True)
    assert message.startswith("user 1000:0 is not mapped in the rootless user namespace")
    StoreIdMap("userns").check_owner(1000, 0)  # outside (here: root of the host) nothing to check
