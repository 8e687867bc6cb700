"""The pure rules of container creation and presentation: Config merge, signals, HostConfig
checks (dockerd's wording), ps status strings and filters, log time parsing, event filters."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from dockyard.containers import create, events, logs, views
from dockyard.containers.record import ContainerRecord
from dockyard.errors import Conflict, DockyardError, InvalidArgument
from dockyard.linux import cgroups
from dockyard.store.timefmt import parse_unix

IMAGE = {"Cmd": ["sh"], "Env": ["PATH=/bin", "A=image"], "WorkingDir": "/srv", "User": "nobody",
         "Labels": {"from": "image"}, "Entrypoint": None}


def test_merge_takes_the_image_defaults() -> None:
    cfg = create.merge_config({"Env": ["A=mine", "B=2"], "Labels": {"x": "y"}}, IMAGE, "busybox")
    # dockerd's order: the request's variables, then the image's it does not set
    assert cfg["Cmd"] == ["sh"] and cfg["Env"] == ["A=mine", "B=2", "PATH=/bin"]
    assert cfg["WorkingDir"] == "/srv" and cfg["User"] == "nobody"
    assert cfg["Labels"] == {"from": "image", "x": "y"} and cfg["Image"] == "busybox"


def test_an_explicit_entrypoint_drops_the_image_cmd() -> None:
    image = {**IMAGE, "Entrypoint": ["/init"], "Cmd": ["--serve"]}
    assert create.command(create.merge_config({}, image, "i")) == ["/init", "--serve"]
    assert create.command(create.merge_config({"Entrypoint": ["echo"]}, image, "i")) == ["echo"]
    assert create.command(create.merge_config({"Cmd": ["x"]}, image, "i")) == ["/init", "x"]
    with pytest.raises(InvalidArgument, match="No command specified"):
        create.merge_config({}, {}, "scratch")


def test_a_bare_name_unsets_the_variable() -> None:
    """``-e FOO`` with no FOO in the client's environment: Config.Env keeps "FOO" (and it hides
    the image's FOO), the process gets no FOO at all, as under dockerd."""
    cfg = create.merge_config({"Env": ["A", "B=1"]}, IMAGE, "busybox")
    assert cfg["Env"] == ["A", "B=1", "PATH=/bin"]
    assert create.process_env(cfg["Env"]) == ["B=1", "PATH=/bin"]
    assert create.process_env(["X=1", "Y=2", "X=3"]) == ["Y=2", "X=3"]
    create.check_config({"Env": ["A", "B=1", "C="]})


@pytest.mark.parametrize(("request_config", "words"), [
    ({"WorkingDir": "rel", "StopSignal": "BOGUS"}, ("the working directory 'rel' is invalid, it needs "
                                                   "to be an absolute path")),
    ({"StopSignal": "BOGUS", "Env": ["=x"]}, "Invalid signal: BOGUS"),
    ({"Env": ["A=1", "=x"], "Healthcheck": {"Interval": 1}}, "invalid environment variable: =x"),
    ({"Env": [""]}, "invalid environment variable: "),
    ({"Healthcheck": {"Interval": 1}}, "Interval in Healthcheck cannot be less than 1ms"),
])
def test_the_requests_config_is_checked_in_dockerds_order(request_config: dict[str, Any],
                                                           words: str) -> None:
    """dockerd 20.10's validateContainerConfig (recorded with raw create bodies)."""
    with pytest.raises(InvalidArgument) as refused:
        create.check_config(request_config)
    assert str(refused.value) == words


def test_host_config_defaults_as_dockerd_fills_them() -> None:
    """What the docker CLI leaves empty ("" or -1) reads back as dockerd's defaults."""
    hc = create.host_config_defaults({"Memory": 64 << 20, "MemorySwappiness": -1, "IpcMode": "",
                                      "CgroupnsMode": "", "ShmSize": 0})
    assert (hc["MemorySwap"], hc["MemorySwappiness"], hc["IpcMode"], hc["ShmSize"]) == \
        (128 << 20, None, "private", 64 << 20)
    assert hc["MaskedPaths"][0] == "/proc/asound" and hc["ReadonlyPaths"][0] == "/proc/bus"
    assert create.host_config_defaults({"Privileged": True}).get("MaskedPaths") is None
    assert create.host_config_defaults({"Memory": 64 << 20, "MemorySwap": -1})["MemorySwap"] == -1
    assert create.host_config_defaults({"PidsLimit": -1})["PidsLimit"] is None
    assert create.host_config_defaults({"PidsLimit": 0})["PidsLimit"] is None


@pytest.mark.parametrize(("sent", "kept"), [
    ({}, ("default", {"Name": "", "MaximumRetryCount": 0}, None)),
    ({"NetworkMode": "", "RestartPolicy": None, "PortBindings": None},
     ("default", {"Name": "", "MaximumRetryCount": 0}, None)),
    ({"NetworkMode": "default", "RestartPolicy": {"MaximumRetryCount": 0}, "PortBindings": {}},
     ("default", {"Name": "", "MaximumRetryCount": 0}, {})),
    ({"NetworkMode": "bridge", "RestartPolicy": {"Name": "no"}}, ("bridge", {"Name": "no", "MaximumRetryCount": 0}, None)),
    ({"NetworkMode": "none", "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 2}},
     ("none", {"Name": "on-failure", "MaximumRetryCount": 2}, None)),
])
def test_network_mode_restart_policy_and_ports_kept_as_dockerd_keeps_them(
        sent: dict[str, Any], kept: tuple[str, dict[str, Any], Any]) -> None:
    """dockerd 20.10's answers to the same bodies (tests/interop/test_network_mode_fidelity_docker_cli.py):
    "default" is never rewritten into the network it means."""
    hc = create.host_config_defaults(sent)
    assert (hc["NetworkMode"], hc["RestartPolicy"], hc["PortBindings"]) == kept
    create.validate_host_config(hc)


def test_views_show_the_mode_kept_and_older_records_theirs(tmp_path: Path) -> None:
    """A record without network settings (no network manager) names "default"'s network,
    "bridge"; a record an older version wrote holds "bridge" and shows it."""
    record = _record(tmp_path)
    record.host_config = create.host_config_defaults({})
    assert views.summary(record)["HostConfig"] == {"NetworkMode": "default"}
    assert list(views.inspect(record)["NetworkSettings"]["Networks"]) == ["bridge"]
    assert views.inspect(record)["HostConfig"]["NetworkMode"] == "default"
    assert views.matches(record, {"network": ["bridge"]}) and not views.matches(record, {"network": ["default"]})
    old = _record(tmp_path)
    assert views.summary(old)["HostConfig"] == {"NetworkMode": "bridge"}
    assert list(views.summary(old)["NetworkSettings"]["Networks"]) == ["bridge"]


def test_update_rules_and_wording() -> None:
    """``docker update`` as dockerd applies it (UpdateHostConfig): zero leaves a value alone,
    the refusals are conflicts in its words."""
    hc = create.host_config_defaults({"Memory": 64 << 20, "NanoCpus": 500_000_000})
    new = create.update_host_config(hc, {"Memory": 32 << 20, "PidsLimit": -1, "CpuShares": 0,
                                         "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}})
    assert (new["Memory"], new["MemorySwap"], new["PidsLimit"], new["CpuShares"]) == (32 << 20, 128 << 20, 0, 0)
    assert new["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3} and hc["Memory"] == 64 << 20
    with pytest.raises(Conflict, match="^Memory limit should be smaller than already set memoryswap limit"):
        create.update_host_config(hc, {"Memory": 200 << 20})
    assert create.update_host_config(hc, {"Memory": 200 << 20, "MemorySwap": 400 << 20})["MemorySwap"] == 400 << 20
    with pytest.raises(Conflict, match="^Conflicting options: CPU Quota cannot be updated as NanoCPUs has"):
        create.update_host_config(hc, {"CpuQuota": 50000})
    quota = create.host_config_defaults({"CpuQuota": 50000})
    with pytest.raises(Conflict, match="^Conflicting options: Nano CPUs cannot be updated as CPU Quota has"):
        create.update_host_config(quota, {"NanoCpus": 500_000_000})
    with pytest.raises(InvalidArgument, match="Conflicting options: Nano CPUs and CPU Quota cannot both"):
        create.update_host_config(hc, {"NanoCpus": 500_000_000, "CpuQuota": 1000})
    with pytest.raises(InvalidArgument, match="Minimum memory limit allowed is 6MB"):
        create.update_host_config(hc, {"Memory": 1 << 20})
    auto = create.host_config_defaults({"AutoRemove": True})
    with pytest.raises(Conflict, match="Restart policy cannot be updated because AutoRemove is enabled"):
        create.update_host_config(auto, {"RestartPolicy": {"Name": "always"}})


@pytest.mark.parametrize(("text", "number"), [("SIGKILL", 9), ("kill", 9), ("9", 9), (15, 15),
                                              ("", signal.SIGTERM), ("HUP", 1),
                                              ("SIGRTMIN+3", 37), ("RTMAX-1", 63), ("RTMIN", 34),
                                              ("+9", 9), ("09", 9), ("65", 65), ("-1", -1), ("IOT", 6)])
def test_signals(text: Any, number: int) -> None:
    assert create.parse_signal(text) == number


def test_bad_signal() -> None:
    with pytest.raises(InvalidArgument, match="Invalid signal: SIGNOPE"):
        create.parse_signal("SIGNOPE")
    with pytest.raises(InvalidArgument, match="Invalid signal: RTMIN\\+40"):
        create.parse_signal("RTMIN+40")
    for text in (" 9", "KILL ", "UNUSED", "0", "-0"):  # dockerd 20.10's ParseSignal: not trimmed
        with pytest.raises(InvalidArgument, match=f"^Invalid signal: {text}$"):
            create.parse_signal(text)


@pytest.mark.parametrize(("host_config", "message"), [
    ({"Memory": 1 << 20}, "Minimum memory limit allowed is 6MB"),
    ({"RestartPolicy": {"Name": "sometimes"}}, "^invalid restart policy 'sometimes'$"),
    ({"RestartPolicy": {"Name": "always", "MaximumRetryCount": 3}},
     "^maximum retry count cannot be used with restart policy 'always'$"),
    ({"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": -1}},
     "^maximum retry count cannot be negative$"),
    ({"AutoRemove": True, "RestartPolicy": {"Name": "sometimes"}},
     "^can't create 'AutoRemove' container with restart policy$"),
    ({"NanoCpus": -1}, "Range of CPUs is from 0.01"),
    ({"MemorySwap": 64 << 20}, "You should always set the Memory limit when using Memoryswap limit"),
    ({"MemorySwappiness": 101}, "Invalid value: 101, valid memory swappiness range is 0-100"),
    ({"CapAdd": ["BOGUS"]}, 'invalid CapAdd: unknown capability: "CAP_BOGUS"'),
    ({"CapDrop": ["net_nope"]}, 'invalid CapDrop: unknown capability: "CAP_NET_NOPE"'),
])
def test_host_config_checks(host_config: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        create.validate_host_config(create.host_config_defaults(host_config))


BIND_REL = {"Type": "bind", "Source": "rel", "Target": "/x"}


@pytest.mark.parametrize(("host_config", "message"), [
    ({"AutoRemove": True, "RestartPolicy": {"Name": "always"}, "Mounts": [BIND_REL]},
     "^can't create 'AutoRemove' container with restart policy$"),
    ({"Mounts": [BIND_REL], "ExtraHosts": ["bad"]},
     "^invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must be absolute$"),
    ({"ExtraHosts": ["bad"], "PortBindings": {"abc/tcp": []}}, '^bad format for add-host: "bad"$'),
    ({"PortBindings": {"abc/tcp": []}, "RestartPolicy": {"Name": "bogus"}},
     '^invalid port specification: "abc"$'),
    ({"RestartPolicy": {"Name": "always", "MaximumRetryCount": 3}, "CapAdd": ["NOPE"]},
     "^maximum retry count cannot be used with restart policy 'always'$"),
    ({"CapAdd": ["NOPE"], "Memory": 1}, '^invalid CapAdd: unknown capability: "CAP_NOPE"$'),
    ({"Memory": 1, "Tmpfs": {"rel": ""}}, "^Minimum memory limit allowed is 6MB$"),
    ({"Runtime": "nope", "Tmpfs": {"rel": ""}}, "^Unknown runtime specified nope$"),
    ({"Tmpfs": {"rel": ""}, "CgroupnsMode": "bogus"}, "^invalid mount path: 'rel' mount path must be absolute$"),
])
def test_host_config_checks_in_dockerds_order(host_config: dict[str, Any], message: str) -> None:
    """Two faults a body, the first refused as dockerd 20.10 refuses it (recorded, 400):
    ``validateHostConfig``'s checks, then its platform's."""
    with pytest.raises(InvalidArgument, match=message):
        create.validate_host_config(create.host_config_defaults(host_config))


@pytest.mark.parametrize(("entry", "message"), [
    ("bad", 'bad format for add-host: "bad"'),
    (":10.0.0.1", 'bad format for add-host: ":10.0.0.1"'),
    ("a=10.0.0.1", 'bad format for add-host: "a=10.0.0.1"'),
    ("a:bogus", 'invalid IP address in add-host: "bogus"'),
    ("a:[::1]", 'invalid IP address in add-host: "[::1]"'),
    ("a:fe80::1%eth0", 'invalid IP address in add-host: "fe80::1%eth0"'),
    ("a:01.2.3.4", 'invalid IP address in add-host: "01.2.3.4"'),
    ("a:1.2.3.4:5", 'invalid IP address in add-host: "1.2.3.4:5"'),
    ("a:\x1c10.0.0.1", 'invalid IP address in add-host: "\\x1c10.0.0.1"'),
    ("a\t:\u00e9", 'invalid IP address in add-host: "\u00e9"'),
])
def test_extra_host_refusals(entry: str, message: str) -> None:
    """As dockerd 20.10 answered each (400), its %q quoting; Go trims no \\x1c."""
    with pytest.raises(InvalidArgument) as refused:
        create.check_extra_host(entry)
    assert str(refused.value) == message


def test_extra_hosts_dockerd_takes() -> None:
    for entry in ("a:host-gateway", "b: 10.0.0.1 ", "c:::ffff:10.0.0.1", "d:\u00a010.0.0.1",
                  "e:10.0.0.1\n", "f:fe80::1"):
        create.check_extra_host(entry)


def test_limits_from_host_config() -> None:
    hc = create.host_config_defaults({"NanoCpus": 1_500_000_000, "Memory": 64 << 20,
                                      "PidsLimit": -1, "CpuShares": 512})
    limits = create.limits(hc)
    assert (limits.cpu_quota, limits.cpu_period, limits.memory, limits.pids, limits.cpu_shares) \
        == (150_000, 100_000, 64 << 20, None, 512)


def test_swap_and_cpuset_from_host_config() -> None:
    """``--memory-swap`` (dockerd's default: twice the memory) and the cpuset reach the runtime;
    a bound of -1 is none written (a new cgroup's: unlimited), as dockerd's spec has it."""
    hc = create.host_config_defaults({"Memory": 64 << 20, "CpusetCpus": "0", "CpusetMems": "0"})
    limits = create.limits(hc)
    assert (limits.memory_swap, limits.cpuset_cpus, limits.cpuset_mems) == (128 << 20, "0", "0")
    unlimited = create.host_config_defaults({"Memory": 64 << 20, "MemorySwap": -1})
    assert create.limits(unlimited).memory_swap is None
    assert create.limits(create.host_config_defaults({})).memory_swap is None


def test_ulimits_from_host_config() -> None:
    """``--ulimit`` names as runc reads them (any case), in order; an unknown one refused in
    runc's words when the container starts."""
    hc = {"Ulimits": [{"Name": "nofile", "Soft": 20, "Hard": 30}, {"Name": "CORE", "Soft": -1, "Hard": -1}]}
    assert create.rlimits(hc) == [[7, 20, 30], [4, -1, -1]]
    with pytest.raises(DockyardError, match="^failed to create shim task: OCI runtime create failed: "
                       "runc create failed: wrong rlimit value: RLIMIT_FOO: unknown$"):
        create.rlimits({"Ulimits": [{"Name": "foo", "Soft": 1, "Hard": 1}]})


@pytest.mark.parametrize(("host_config", "message"), [
    ({"CpusetCpus": "5"}, "^Requested CPUs are not available - requested 5, available: 0-1$"),
    ({"CpusetCpus": "1-x"}, "^Invalid value 1-x for cpuset cpus: invalid format: 1-x$"),
    ({"CpusetCpus": "1-0"}, "^Invalid value 1-0 for cpuset cpus: invalid format: 1-0$"),
    ({"CpusetCpus": "0,"}, "^Invalid value 0, for cpuset cpus: invalid format: 0,$"),
    ({"CpusetMems": "1"}, "^Requested memory nodes are not available - requested 1, available: 0$"),
    ({"CpusetMems": "x"}, "^Invalid value x for cpuset mems: invalid format: x$"),
])
def test_cpuset_checks_in_dockerds_words(monkeypatch: pytest.MonkeyPatch, host_config: dict[str, Any],
                                         message: str) -> None:
    """As dockerd answered on this 2-CPU machine (400), at create and at ``docker update``."""
    monkeypatch.setattr(cgroups, "cpuset_available", lambda hier=None: ("0-1", "0"))
    for check in (lambda: create.validate_host_config(create.host_config_defaults(host_config)),
                  lambda: create.update_host_config(create.host_config_defaults({}), host_config)):
        with pytest.raises(InvalidArgument, match=message):
            check()
    create.check_resources({"CpusetCpus": "1,0-1", "CpusetMems": "0"})


def test_names() -> None:
    assert create.check_name("web-1") == "/web-1"
    with pytest.raises(InvalidArgument, match="Invalid container name"):
        create.check_name("-x")
    name = create.generate_name(set())
    assert name.startswith("/") and "_" in name


def _record(tmp_path: Path, **state: Any) -> ContainerRecord:
    record = ContainerRecord(id="ab" * 32, name="/web", image="busybox", image_id="sha256:" + "c" * 64,
                             config={"Labels": {"tier": "front"}, "Cmd": ["sh"]},
                             host_config={"NetworkMode": "bridge"}, created="2026-01-01T00:00:00Z",
                             dir=tmp_path, lower_dirs=["/l"])
    record.state.update(state)
    return record


def test_ps_filters(tmp_path: Path) -> None:
    exited = _record(tmp_path, Status="exited", ExitCode=3)
    exited.has_been_started = True
    asked = {"status": ["exited"], "exited": ["3"], "label": ["tier=front"], "name": ["we"],
             "ancestor": ["busybox"], "id": ["abab"]}
    images = {"busybox": frozenset({exited.image_id})}  # the image store's lineage, as it answers
    assert views.matches(exited, asked, views.check_filters(asked, lambda v: images.get(v, frozenset())))
    assert not views.matches(exited, {"ancestor": ["busybox"]})  # a name: matched by ID alone
    assert not views.matches(exited, {"label": ["tier=back"]})
    with pytest.raises(InvalidArgument, match="Invalid filter 'status=sleeping'"):
        views.matches(exited, {"status": ["sleeping"]})
    assert views.status_text(exited).startswith("Exited (3) ")
    assert views.status_text(_record(tmp_path)) == "Created"


def test_status_ages_round_hours_as_go_units(tmp_path: Path) -> None:
    """2.5 hours up is "Up 3 hours" as in dockerd's ps (go-units adds 0.5 and truncates;
    Python's round() would give 2)."""
    up = _record(tmp_path, Status="running", Running=True, StartedAt="2026-01-01T00:00:00Z")
    assert views.status_text(up, now=parse_unix("2026-01-01T02:30:00Z")) == "Up 3 hours"


def test_inspect_shape(tmp_path: Path) -> None:
    body = views.inspect(_record(tmp_path))
    assert body["Name"] == "/web" and body["Path"] == "sh" and body["Args"] == []
    assert body["LogPath"] == ""  # dockerd's until the first start
    started = _record(tmp_path)
    started.has_been_started = True
    assert views.inspect(started)["LogPath"] == str(tmp_path / f"{'ab' * 32}-json.log")
    started.host_config["LogConfig"] = {"Type": "local", "Config": {}}
    assert views.inspect(started)["LogPath"] == ""
    assert body["NetworkSettings"]["Networks"]["bridge"]["IPAddress"] == ""


def test_record_round_trip(tmp_path: Path) -> None:
    record = _record(tmp_path, Status="running", Running=True, Pid=42)
    record.save()
    again = ContainerRecord.load(tmp_path)
    assert again == record and again.running


def test_log_times() -> None:
    assert logs.parse_time("1700000000.5") == 1_700_000_000_500_000_000
    assert logs.parse_time("2026-11-28T17:00:00.123456789Z") == \
        logs.parse_time("1795885200.123456789")
    with pytest.raises(InvalidArgument):
        logs.parse_time("yesterday")


def test_log_reader_tail_and_streams(tmp_path: Path) -> None:
    path = tmp_path / "log.json"
    path.write_text("".join(
        f'{{"log":"{i}\\n","stream":"{"stdout" if i % 2 else "stderr"}",'
        f'"time":"2026-11-28T17:00:0{i}.000000000Z"}}\n' for i in range(6)))
    reader = logs.LogReader(str(path), logs.LogOptions(stderr=False, tail=2))
    assert reader.initial() == [("stdout", b"3\n"), ("stdout", b"5\n")]
    since = logs.LogOptions(since_ns=logs.parse_time("2026-11-28T17:00:04Z"), timestamps=True)
    assert [e[1] for e in logs.LogReader(str(path), since).initial()] == [
        b"2026-11-28T17:00:04.000000000Z 4\n", b"2026-11-28T17:00:05.000000000Z 5\n"]


def test_event_bus_history_and_filters() -> None:
    bus = events.EventBus()
    first = bus.emit("container", "start", "abc", {"name": "web", "image": "busybox"})
    seen: list[dict[str, Any]] = []
    history = bus.subscribe(seen.append, since_ns=first["timeNano"])
    bus.emit("container", "die", "abc", {"name": "web", "image": "busybox", "exitCode": "0"})
    assert [e["Action"] for e in history] == ["start"] and seen[0]["status"] == "die"
    assert seen[0]["from"] == "busybox" and seen[0]["scope"] == "local"
    assert events.matches(seen[0], {"container": ["web"], "event": ["die"]})
    assert not events.matches(seen[0], {"type": ["image"]})


def test_a_cgroup_parent_is_resolved_at_a_start_and_kept() -> None:
    """A start keeps where the parent went; after, the kept place answers even when what is
    given differs (a daemon restarted with another --cgroup-parent: the running container is
    where it was); a next start resolves anew only then; a record without it resolves."""
    record = ContainerRecord(id="c" * 64, name="/c", image="i", image_id="sha256:x", config={},
                             host_config={"CgroupParent": "/mine"}, created="", dir=Path("/x"),
                             lower_dirs=[])
    assert create.cgroup_parent(record) == "/mine" and record.cgroup_parent is None
    assert create.cgroup_parent(record, start=True) == "/mine"
    assert record.cgroup_parent == {"given": "/mine", "resolved": "/mine"}
    record.cgroup_parent["resolved"] = {"memory": "/elsewhere/mine", "cpu": "/mine"}
    assert create.cgroup_parent(record, start=True) == record.cgroup_parent["resolved"]
    record.host_config = {}
    assert create.cgroup_parent(record)["memory"] == "/elsewhere/mine"  # type: ignore[index]
    assert create.cgroup_parent(record, start=True) == cgroups.DEFAULT_PARENT
    assert record.cgroup_parent == {"given": "", "resolved": cgroups.DEFAULT_PARENT}
    loaded = ContainerRecord.from_dict({k: v for k, v in record.to_dict().items()
                                        if k != "cgroup_parent"})  # an older daemon's record
    assert loaded.cgroup_parent is None and create.cgroup_parent(loaded) == cgroups.DEFAULT_PARENT
