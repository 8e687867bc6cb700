"""A root daemon's remapped user namespace as a spec carries it (``idmap.remapped``)."""

from __future__ import annotations

import pytest

from dockyard.containers.spec import ContainerSpec
from dockyard.errors import Unavailable
from dockyard.linux import idmap


def test_remapped_maps_the_range_and_is_written_by_the_parent() -> None:
    ns = idmap.remapped(100000, 200000, 1000)
    assert (ns.uid_map, ns.gid_map) == ([(0, 100000, 1000)], [(0, 200000, 1000)])
    assert ns.by_parent and not ns.use_helpers and ns.from_outside
    assert ns.outside(0, 0) == (100000, 200000)
    assert ns.outside(999, 5) == (100999, 200005)
    assert ns.outside(1000, 0) == (-1, 200000)
    assert not idmap.UserNamespace([(0, 1000, 1)], [(0, 1000, 1)]).from_outside


def test_ids_cross_a_stacked_map_both_ways() -> None:
    """The one arithmetic the store's id map, ``to_host`` and the cp helper share."""
    stacked = [(0, 1001, 1), (1, 100000, 65536)]  # a rootless map: the user, then its range
    assert [idmap.host_id(stacked, n) for n in (0, 1, 65536, 65537)] == [1001, 100000, 165535, None]
    assert [idmap.namespace_id(stacked, h) for h in (1001, 100000, 165535, 0, 165536)] == [0, 1, 65536, None, None]
    assert idmap.OVERFLOW_ID == 65534 and idmap.host_id([], 0) is None

def test_by_parent_crosses_to_the_launcher_and_old_specs_decode() -> None:
    spec = ContainerSpec("c1", ["/l"], "/u", "/w", ["sh"], userns=idmap.remapped(100000, 100000))
    again = ContainerSpec.from_json(spec.to_json())
    assert again == spec and again.userns is not None and again.userns.by_parent
    old = spec.to_dict()
    del old["userns"]["by_parent"]  # a spec from before the field
    decoded = ContainerSpec.from_dict(old).userns
    assert decoded is not None and not decoded.by_parent


def test_an_unmapped_user_is_refused_in_the_remap_s_words() -> None:
    ns = idmap.remapped(100000, 100000, 65536)
    idmap.check_mapped(ns, 65535, [0, 1000])
    with pytest.raises(Unavailable, match="outside the remapped user namespace's id map: "
                                          "the daemon's --userns-remap range does not reach it"):
        idmap.check_mapped(ns, 70000, [0])
