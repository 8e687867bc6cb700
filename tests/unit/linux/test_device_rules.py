"""Device cgroup rules (v1 ``devices.list`` lines) as dockerd 20.10 has runc write them, and
where a v1 cgroup writes them: at its making, not again for an embryo's spare cgroup renamed
to a container's when the spec has the defaults, never at ``docker update``."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.errors import DockyardError
from dockyard.linux import cgroups
from dockyard.linux.cgroups import Limits


def test_rules_merge_and_sort_as_runc_does() -> None:
    assert cgroups.device_rules() == list(cgroups.DEFAULT_DEVICES)
    rules = cgroups.device_rules(extra=["c 42:* rmw", "c 1:3 r", "b 7:3 r", "c *:3 w", "c 1:5 rwm"])
    assert rules == ["b *:* m", "c *:* m", "c *:3 w", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm",
                     "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "b 7:3 r",
                     "c 10:200 rwm", "c 42:* rwm", "c 136:* rwm"]
    assert cgroups.device_rules(privileged=True) == ["a *:* rwm"]
    assert cgroups.device_rules(extra=["a 1:3 r"]) == ["a *:* rwm"]


@pytest.mark.parametrize("bad", ["c 1:x rwm", "x 1:3 r", "c 1:3", "c 1:3 rwmx", " c 1:3 r"])
def test_a_malformed_rule_is_refused_in_dockerds_words(bad: str) -> None:
    with pytest.raises(DockyardError, match=f"^invalid device cgroup rule format: '{bad}'$"):
        cgroups.device_rules(extra=[bad])


def _v1(tmp_path: Path) -> cgroups.Hierarchies:
    hier = cgroups.Hierarchies(v1={c: str(tmp_path / c) for c in cgroups.V1_JOINED})
    for mountpoint in hier.v1.values():
        Path(mountpoint).mkdir()
    return hier


def _written(tmp_path: Path, name: str) -> tuple[str, str]:
    path = tmp_path / "devices" / "dockyard" / name
    return (path / "devices.deny").read_text(), (path / "devices.allow").read_text()


def test_a_v1_cgroup_writes_its_rules_once(tmp_path: Path) -> None:
    hier = _v1(tmp_path)
    spare = cgroups.CgroupV1("spare-1", hier)
    spare.create(Limits())  # a plain file stands in for each: the last write stays
    assert _written(tmp_path, "spare-1") == ("a", "c 136:* rwm")
    (tmp_path / "devices/dockyard/spare-1/devices.allow").write_text("untouched")
    cg = cgroups.CgroupV1.spare("spare-1", hier).rename("c1")
    cg.apply(Limits())  # the defaults are in: nothing written on the start's path
    assert _written(tmp_path, "c1") == ("a", "untouched")
    cg.update(Limits(devices=["a *:* rwm"]))  # docker update leaves the rules alone
    assert _written(tmp_path, "c1") == ("a", "untouched")
    cg.apply(Limits(devices=["a *:* rwm"]))  # --privileged
    assert _written(tmp_path, "c1") == ("a", "a")
