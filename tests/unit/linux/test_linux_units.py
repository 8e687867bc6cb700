"""Pure parts of the runtime: capability sets, users, id maps, cgroup detection, overlay
options, exec lookup, in-root path resolution, spec round trip."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from dockyard.containers.spec import ContainerSpec, Mount, User
from dockyard.errors import InvalidArgument, Unavailable
from dockyard.linux import capabilities, cgroups, child, idmap, mounts, overlay, syscalls, users
from dockyard.linux.cgroups import Limits
from dockyard.linux.launcher import StartFailed


def test_capabilities_follow_dockerd() -> None:
    assert capabilities.resolve() == sorted(capabilities.DOCKER_DEFAULT,
                                            key=capabilities.NUMBERS.__getitem__)
    caps = capabilities.resolve(["net_admin"], ["CHOWN"])
    assert "CAP_NET_ADMIN" in caps and "CAP_CHOWN" not in caps
    assert capabilities.resolve(["kill"], ["all"]) == ["CAP_KILL"]
    assert len(capabilities.resolve(["ALL"], ["mknod"])) == capabilities.last_cap()
    assert len(capabilities.resolve(privileged=True, cap_drop=["ALL"])) == capabilities.last_cap() + 1
    with pytest.raises(InvalidArgument, match='unknown capability: "CAP_BOGUS"'):
        capabilities.resolve(["bogus"])


@pytest.fixture
def image(tmp_path: Path) -> list[str]:
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    (lower / "etc").mkdir(parents=True)
    (upper / "etc").mkdir(parents=True)
    (lower / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n"
                                      "app:x:1000:1000::/home/app:/bin/sh\n")
    (lower / "etc/group").write_text("root:x:0:\nwheel:x:10:root,app\napp:x:1000:\nstaff:x:50:\n")
    return [str(upper), str(lower)]


def test_users_resolve_like_docker(image: list[str]) -> None:
    # dockerd lists the primary group among the supplementary ones (id: groups=0(root),10(wheel))
    assert users.resolve("", image) == users.ExecUser(0, 0, (0, 10), "/root")
    assert users.resolve("app", image) == users.ExecUser(1000, 1000, (1000, 10), "/home/app")
    assert users.resolve("app:staff", image) == users.ExecUser(1000, 50, (50,), "/home/app")
    assert users.resolve("4242", image) == users.ExecUser(4242, 0, (0,), "/")
    assert users.resolve("4242:7", image, ["staff"]).additional_gids == (7, 50)
    with pytest.raises(users.UnknownUser, match="unable to find user ghost: no matching entries "
                                              "in passwd file"):
        users.resolve("ghost", image)
    with pytest.raises(users.UnknownUser, match="unable to find group nope: no matching entries "
                                              "in group file"):
        users.resolve("app:nope", image)


def test_users_whiteout_hides_lower_passwd(image: list[str]) -> None:
    if os.geteuid() != 0:
        pytest.skip("a whiteout is a 0/0 character device: mknod needs root")
    os.mknod(os.path.join(image[0], "etc/passwd"), 0o020000 | 0o600, 0)
    with pytest.raises(users.UnknownUser):
        users.resolve("app", image)


def test_subordinate_ranges_choose_the_mapping(tmp_path: Path) -> None:
    sub = tmp_path / "subuid"
    sub.write_text("other:100000:65536\n1234:200000:65536\nbad:line\n")
    assert idmap.subordinate_ranges(str(sub), "nobody-here", 1234) == [(200000, 65536)]
    ns = idmap.rootless(1234, 1234, str(sub), str(sub))
    assert ns.use_helpers and ns.uid_map == [(0, 1234, 1), (1, 200000, 65536)]
    single = idmap.rootless(1234, 99, str(tmp_path / "none"), str(tmp_path / "none"))
    assert not single.use_helpers and single.gid_map == [(0, 99, 1)]


HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""


def test_cgroup_detection_hybrid_and_pure_v2(tmp_path: Path) -> None:
    info = tmp_path / "mountinfo"
    info.write_text(HYBRID)
    hier = cgroups.detect(str(info))
    assert hier.v1["cpu"] == hier.v1["cpuacct"] == "/sys/fs/cgroup/cpu,cpuacct"
    assert hier.v2 == "/sys/fs/cgroup/unified"
    assert hier.v1["name=systemd"] == "/sys/fs/cgroup/systemd"  # joined with --cgroupns host
    v2root = tmp_path / "cg2"
    v2root.mkdir()
    (v2root / "cgroup.controllers").write_text("cpu memory pids\n")
    info.write_text(f"41 31 0:38 / {v2root} rw - cgroup2 cgroup2 rw\n")
    pure = cgroups.detect(str(info))
    assert pure.mode == "v2" and pure.v2_controllers == {"cpu", "memory", "pids"}


def test_cpuset_lists_are_read_as_docker_reads_them() -> None:
    assert cgroups.parse_uint_list("0-2,5,+7") == {0, 1, 2, 5, 7}
    assert cgroups.parse_uint_list("") == set()
    for bad in ("1-0", "0,", " 1", "a", "1-", "-1", "1--2"):
        assert cgroups.parse_uint_list(bad) is None, bad


def test_v2_writes_swap_as_swap_alone_and_the_cpuset(tmp_path: Path) -> None:
    """cgroup v2 limits swap by itself: ``memory.swap.max`` is memory+swap minus memory (runc's
    conversion), ``max`` for -1; the cpuset goes to its two files. (This host's v2 mount lends
    no controller, so the files are checked in a directory of our own.)"""
    hier = cgroups.Hierarchies(v2=str(tmp_path), v2_controllers=frozenset({"memory", "cpuset"}))
    cg = cgroups.CgroupV2("c1", hier)
    os.makedirs(cg.path)
    Path(cg.path, "memory.swap.max").write_text("max\n")
    cg.update(Limits(memory=64 << 20, memory_swap=96 << 20, cpuset_cpus="1", cpuset_mems="0"))
    read = {n: Path(cg.path, n).read_text() for n in ("memory.max", "memory.swap.max",
                                                       "cpuset.cpus", "cpuset.mems")}
    assert read == {"memory.max": str(64 << 20), "memory.swap.max": str(32 << 20),
                    "cpuset.cpus": "1", "cpuset.mems": "0"}
    assert Path(tmp_path, "dockyard", "cgroup.subtree_control").read_text() == "+cpuset"
    cg.update(Limits(memory=64 << 20, memory_swap=-1))
    assert Path(cg.path, "memory.swap.max").read_text() == "max"
    cg.update(Limits(memory=32 << 20))  # no bound given: runc leaves the one in place
    assert Path(cg.path, "memory.swap.max").read_text() == "max"


def test_a_cgroup_parent_is_placed_as_runc_places_it(tmp_path: Path) -> None:
    """``--cgroup-parent``: ``/X`` from each hierarchy's root; ``X`` below the daemon's own
    cgroup (v1: its path in each hierarchy; v2: the parent of its own, which holds tasks) —
    recorded with dockerd 20.10 on this host, whose memory cgroup is not the others'
    (``--cgroup-parent rel``: ``memory:/process_api/<x>/rel/<id>``, ``cpu:/rel/<id>``)."""
    own = tmp_path / "cgroup"
    own.write_text("8:pids:/p\n5:freezer:/outer/me\n4:memory:/outer/me\n3:cpuset:/\n"
                   "1:cpu,cpuacct:/\n0::/svc/me\n")
    v1 = cgroups.Hierarchies(v1={"memory": "/m", "cpu": "/c", "cpuacct": "/c", "pids": "/p",
                                 "cpuset": "/s"})
    v2 = cgroups.Hierarchies(v2=str(tmp_path))
    assert cgroups.resolve_parent("/abs/x", str(own), v1) == "/abs/x"
    rel = cgroups.resolve_parent("rel/x", str(own), v1)
    assert rel == {"memory": "/outer/me/rel/x", "freezer": "/outer/me/rel/x", "pids": "/p/rel/x",
                   "cpu": "/rel/x", "cpuacct": "/rel/x", "cpuset": "/rel/x"}
    assert cgroups.resolve_parent("rel", str(own), v2) == "/svc/rel"
    one = tmp_path / "one"  # one tree (as systemd makes them): one path
    one.write_text("4:memory:/s/me\n3:cpuset:/s/me\n1:cpu,cpuacct:/s/me\n2:pids:/s/me\n"
                   "5:freezer:/s/me\n")
    assert cgroups.resolve_parent("rel", str(one), v1) == "/s/me/rel"
    # ``..`` never climbs above the daemon's cgroup (dockerd 20.10: ``../../p`` is ``<own>/p``)
    assert cgroups.resolve_parent("../../../up", str(one), v1) == "/s/me/up"
    assert cgroups.resolve_parent("x/../../..", str(one), v1) == "/s/me"
    hybrid = cgroups.Hierarchies(v1={**v1.v1, "name=systemd": "/n", "blkio": "/b"}, v2="/u")
    split = cgroups.resolve_parent("rel", str(own), hybrid)  # named and v2: the daemon's too
    assert isinstance(split, dict)
    assert (split["name=systemd"], split["blkio"], split[""]) == ("/rel", "/rel", "/svc/me/rel")
    cg = cgroups.CgroupV1("c1", hybrid, split, everywhere=True)
    assert "/u/svc/me/rel/c1" in cg.paths and "/n/rel/c1" in cg.paths
    cg = cgroups.CgroupV1("c1", cgroups.Hierarchies(v1={"memory": "/m", "cpuset": "/s"}), "/p/q")
    assert cg.dirs == {"memory": "/m/p/q/c1"} and cg.cpuset == "/s/p/q/c1"
    cg = cgroups.CgroupV1("c1", v1, rel)
    assert cg.dirs == {"memory": "/m/outer/me/rel/x/c1", "pids": "/p/p/rel/x/c1",
                       "cpu": "/c/rel/x/c1", "cpuacct": "/c/rel/x/c1"}
    assert cg.cpuset == "/s/rel/x/c1"


def test_a_host_cgroupns_container_is_in_every_hierarchy() -> None:
    """``everywhere`` adds the hierarchies without limits here (and a hybrid host's v2 one) to
    what is made and joined; any removal removes them, whoever asks. Every container is in the
    devices hierarchy (its device rules) and the blkio one (its I/O counts and throttles)."""
    hier = cgroups.Hierarchies(v1={"memory": "/m", "blkio": "/b", "devices": "/d",
                                   "name=systemd": "/y", "cpuset": "/s"}, v2="/u")
    every = cgroups.CgroupV1("c1", hier, everywhere=True)
    assert every.paths == ["/b/dockyard/c1", "/d/dockyard/c1", "/m/dockyard/c1",
                           "/u/dockyard/c1", "/y/dockyard/c1"]
    plain = cgroups.CgroupV1("c1", hier)
    assert plain.paths == ["/b/dockyard/c1", "/d/dockyard/c1", "/m/dockyard/c1"]
    assert plain.others == every.others


def test_v2_enables_the_controllers_at_each_level_of_a_parent(tmp_path: Path) -> None:
    hier = cgroups.Hierarchies(v2=str(tmp_path), v2_controllers=frozenset({"memory", "pids"}))
    cg = cgroups.CgroupV2("c1", hier, "/a/b")
    assert cg.path == str(tmp_path / "a" / "b" / "c1")
    os.makedirs(cg.parent)
    cg._enable({"memory"})
    for level in (tmp_path, tmp_path / "a", tmp_path / "a" / "b"):
        assert (level / "cgroup.subtree_control").read_text() == "+memory", level


def test_overlay_options_put_the_top_layer_first() -> None:
    assert overlay.options(["/l/base", "/l/top"], "/c/u", "/c/w") == \
        "lowerdir=/l/top:/l/base,upperdir=/c/u,workdir=/c/w"
    assert overlay.options(["/a"], "/u", "/w", userxattr=True).endswith(",userxattr")
    with pytest.raises(InvalidArgument, match="contains ':'"):
        overlay.options(["/a:b"], "/u", "/w")


def test_find_executable_is_gos_lookpath(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    tool = tmp_path / "bin/tool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    (tmp_path / "bin/data").write_text("x")
    env = [f"PATH=/nonexistent:{tmp_path}/bin"]
    assert child.find_executable("tool", env) == str(tool)
    with pytest.raises(child.ExecError, match=r'"data": executable file not found in \$PATH'):
        child.find_executable("data", env)
    with pytest.raises(child.ExecError, match="permission denied") as info:
        child.find_executable(str(tmp_path / "bin/data"), env)
    assert info.value.exit_code == 126


def test_in_root_keeps_symlinks_inside(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "escape").symlink_to("/etc")
    (tmp_path / "up").symlink_to("../../../..")
    assert mounts.in_root(str(tmp_path), "/escape/x") == f"{tmp_path}/etc/x"
    assert mounts.in_root(str(tmp_path), "/up/etc") == f"{tmp_path}/etc"
    assert mounts.in_root(str(tmp_path), "/a/../../b") == f"{tmp_path}/b"


def test_spec_round_trips_and_validates() -> None:
    spec = ContainerSpec("c1", ["/l"], "/u", "/w", ["sh"], user=User(5, 6, [7]),
                         mounts=[Mount("tmpfs", "/t", options=["size=1m"])],
                         limits=Limits(memory=8 << 20), userns=idmap.rootless(1000, 1000))
    assert ContainerSpec.from_json(spec.to_json()) == spec
    spec.limits = Limits(memory=8 << 20, memory_swap=-1, cpuset_cpus="0")
    spec.domainname, spec.rlimits = "ex.org", [[7, 20, 30]]
    assert ContainerSpec.from_json(spec.to_json()) == spec
    old = spec.to_dict()  # a spec written before the newer fields still decodes
    for name in ("memory_swap", "cpuset_cpus", "cpuset_mems"):
        del old["limits"][name]
    assert ContainerSpec.from_dict(old).limits.memory_swap is None
    for name in ("domainname", "rlimits"):
        del old[name]
    assert (ContainerSpec.from_dict(old).domainname, ContainerSpec.from_dict(old).rlimits) == ("", [])
    spec.mounts.append(Mount("bind", "rel", "/src"))
    with pytest.raises(InvalidArgument, match="mount path must be absolute"):
        spec.validate()
    with pytest.raises(InvalidArgument, match="No command specified"):
        ContainerSpec("c2", ["/l"], "/u", "/w", []).validate()


def test_spec_to_dict_is_asdict_with_fresh_containers() -> None:
    spec = ContainerSpec("c1", ["/l"], "/u", "/w", ["sh"], user=User(5, 6, [7]),
                         mounts=[Mount("bind", "/t", "/s", True, ["rbind"])],
                         limits=Limits(memory=8 << 20), userns=idmap.rootless(1000, 1000))
    plain = spec.to_dict()
    assert plain == dataclasses.asdict(spec)
    assert json.dumps(plain) == json.dumps(dataclasses.asdict(spec))
    plain["args"].append("-c")
    plain["mounts"][0]["options"].append("ro")
    plain["user"]["additional_gids"].clear()
    assert spec.args == ["sh"] and spec.mounts[0].options == ["rbind"]
    assert spec.user.additional_gids == [7]


def test_userns_refusal_names_the_sysctl(tmp_path: Path) -> None:
    assert idmap.userns_unavailable_reason() is None  # this host allows them
    for rel, value, needle in (("sys/user/max_user_namespaces", "0", "user.max_user_namespaces"),
                               ("sys/kernel/unprivileged_userns_clone", "0",
                                "kernel.unprivileged_userns_clone=1"),
                               ("sys/kernel/apparmor_restrict_unprivileged_userns", "1",
                                "AppArmor")):
        proc = tmp_path / rel.replace("/", "_")
        (proc / rel).parent.mkdir(parents=True)
        (proc / rel).write_text(value + "\n")
        reason = idmap.userns_unavailable_reason(str(proc))
        assert reason is not None and needle in reason


def test_single_id_map_refuses_unmapped_users() -> None:
    single = idmap.UserNamespace([(0, 1000, 1)], [(0, 1000, 1)])
    idmap.check_mapped(single, 0, [0])
    with pytest.raises(Unavailable, match="only id 0 is"):
        idmap.check_mapped(single, 5, [5])
    ranged = idmap.UserNamespace([(0, 1000, 1), (1, 100000, 65536)], [(0, 1000, 1)], True)
    idmap.check_mapped(ranged, 5, [0])
    with pytest.raises(Unavailable, match="outside the user namespace's id map"):
        idmap.check_mapped(ranged, 5, [5])


def test_docker_exit_code_classification() -> None:
    """dockerd 20.10.24's rule: the command need not be named (its ``/Nope`` is 127)."""
    assert child.docker_exit_code('exec: "foo": executable file not found in $PATH') == 127
    assert child.docker_exit_code("exec: \"/x\": stat /x: no such file or directory") == 127
    assert child.docker_exit_code("mount /a on /b: no such file or directory") == 127
    assert child.docker_exit_code('exec: "/etc": permission denied') == 126
    assert child.docker_exit_code("mount /a on /b: not a directory") == 127
    assert child.docker_exit_code("mount proc: device or resource busy") == 128


def test_a_refused_starts_status_follows_its_exit_code() -> None:
    """dockerd's 400 (``startInvalidConfigError``) where it set 126 or 127, else 500."""
    assert StartFailed("mount /a on /b: no such file or directory", "setup", 127).status == 400
    assert StartFailed('exec: "/etc": permission denied', "exec", 126).status == 400
    assert StartFailed("mount proc: device or resource busy", "setup", 128).status == 500


def test_background_and_foreground_move_a_process_between_policies() -> None:
    """A spare's preparation runs on idle CPU and its taker raises it (as root; rootless
    never goes idle, since it could not come back)."""
    pid = os.fork()
    if pid == 0:
        went = syscalls.background()
        os._exit(0 if went == (os.geteuid() == 0) and os.sched_getscheduler(0) ==
                 (os.SCHED_IDLE if went else os.SCHED_OTHER) else 1)
    assert os.waitpid(pid, 0)[1] == 0
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(w)
        syscalls.background()
        os.read(r, 1)  # until the parent has raised us
        os._exit(0 if os.sched_getscheduler(0) == os.SCHED_OTHER else 1)
    os.close(r)
    if os.geteuid() == 0:
        while os.sched_getscheduler(pid) != os.SCHED_IDLE:
            os.sched_yield()
    syscalls.foreground(pid)
    os.write(w, b"x")
    os.close(w)
    assert os.waitpid(pid, 0)[1] == 0
    syscalls.foreground(pid)  # gone by now: no matter
