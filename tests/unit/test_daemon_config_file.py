"""The daemon's flags and configuration file (daemon.json), merged and refused as dockerd 20.10
merges and refuses them; and the container defaults they carry, applied at create (recorded)
and at start, exec and inspect (``--default-ulimit``, never recorded).

Every message below is what Debian's dockerd 20.10 answered on this machine to the same flag or
file (``dockerd --config-file F … FLAG``), after "unable to configure the Docker daemon with
file F: " for the file's.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from dockyard.cli.daemon import given, register
from dockyard.config import DaemonConfig, load
from dockyard.containers import create
from dockyard.errors import InvalidArgument
from dockyard.linux import syscalls


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="dockyard")
    register(parser.add_subparsers())
    return parser.parse_args(["daemon", *argv])


# flag → dockerd 20.10's "invalid argument … flag: …" (a usage error: dockerd exits 125)
FLAG_ERRORS = {
    ("--default-ulimit", "nofile=x"): 'strconv.ParseInt: parsing "x": invalid syntax',
    ("--default-ulimit", "foo=1"): "invalid ulimit type: foo",
    ("--default-ulimit", "nofile=2:1"): "ulimit soft limit must be less than or equal to hard limit: 2 > 1",
    ("--default-ulimit", "nofile"): "invalid ulimit argument: nofile",
    ("--default-ulimit", "nofile=1:2:3"): "too many limit value arguments - 1:2:3, can only have up to "
                                          "two, `soft[:hard]`",
    ("--default-ulimit", "nofile=1:y"): 'strconv.ParseInt: parsing "y": invalid syntax',
    ("--default-shm-size", "x"): "invalid size: 'x'",
    ("--default-shm-size", "-1"): "invalid size: '-1'",
    ("--dns", "x"): "x is not an ip address",
    ("--dns-search", "-x"): "-x is not a valid domain",
    ("--default-address-pool", "base=10.0.0.0/16,size=x"):
        'invalid size value: "x" (must be integer): strconv.Atoi: parsing "x": invalid syntax',
    ("--default-address-pool", "foo=1"): "unexpected key 'foo' in 'foo=1'",
    ("--default-address-pool", "base=10.0.0.0/16,size=24,x=1"): "unexpected key 'x' in 'x=1'",
    ("--live-restore", "maybe"): 'strconv.ParseBool: parsing "maybe": invalid syntax',
    ("--userland-proxy", "maybe"): 'strconv.ParseBool: parsing "maybe": invalid syntax',
    ("--shutdown-timeout", "x"): 'strconv.ParseInt: parsing "x": invalid syntax',
}


@pytest.mark.parametrize(("flag", "value"), list(FLAG_ERRORS))
def test_a_bad_flag_value_is_refused_in_dockerds_words(flag: str, value: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parse(f"{flag}={value}")
    assert exc.value.code == 2
    wanted = f'invalid argument "{value}" for "{flag}" flag: {FLAG_ERRORS[flag, value]}'
    assert wanted in capsys.readouterr().err


def test_flags_become_the_daemons_container_defaults() -> None:
    args = parse("--default-ulimit", "nofile=1024:2048", "--default-ulimit", "nproc=500",
                 "--default-ulimit", "nofile=10:20", "--default-shm-size", "128M", "--log-driver", "local",
                 "--log-opt", "max-size=5m", "--default-ipc-mode", "shareable", "--dns", "1.1.1.1",
                 "--dns-search", "a.b", "--dns-opt", "ndots:2", "--log-level", "debug")
    config = load(given(args))
    assert config.default_ulimits == {"nofile": {"Name": "nofile", "Hard": 20, "Soft": 10},
                                      "nproc": {"Name": "nproc", "Hard": 500, "Soft": 500}}
    assert (config.default_shm_size, config.log_driver, config.log_opts) == (128 << 20, "local", {"max-size": "5m"})
    assert (config.default_ipc_mode, config.default_cgroupns_mode) == ("shareable", "private")
    assert (config.dns, config.dns_search, config.dns_opts) == (["1.1.1.1"], ["a.b"], ["ndots:2"])
    assert config.log_level == "debug"
    assert given(parse()) == {}  # nothing given: nothing to conflict with a file


def test_no_file_and_no_flags_is_dockerds_defaults(tmp_path: Path) -> None:
    config = load({}, tmp_path / "daemon.json")  # the default file need not exist
    assert config.default_ulimits == {} and config.default_shm_size == 64 << 20
    assert (config.log_driver, config.log_opts, config.dns) == ("json-file", {}, [])
    assert (config.default_ipc_mode, config.default_cgroupns_mode) == ("private", "private")


def write(tmp_path: Path, content: Any) -> Path:
    path = tmp_path / "daemon.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_the_file_gives_the_same_settings(tmp_path: Path) -> None:
    path = write(tmp_path, {"default-ulimits": {"nofile": {"Name": "nofile", "Soft": 1024, "Hard": 2048}},
                            "default-shm-size": "1g", "log-driver": "local", "log-opts": {"max-size": "5m"},
                            "default-ipc-mode": "shareable", "default-cgroupns-mode": "host",
                            "dns": ["8.8.8.8"], "dns-search": ["ex.org"], "dns-opts": ["ndots:1"],
                            "debug": True, "data-root": str(tmp_path / "root"), "hosts": ["unix:///x.sock"]})
    config = load({"bridge": "br9"}, path, explicit=True)
    assert config.default_ulimits == {"nofile": {"Name": "nofile", "Hard": 2048, "Soft": 1024}}
    assert config.default_shm_size == 1 << 30 and config.log_opts == {"max-size": "5m"}
    assert (config.default_ipc_mode, config.default_cgroupns_mode) == ("shareable", "host")
    assert (config.dns, config.dns_search, config.dns_opts) == (["8.8.8.8"], ["ex.org"], ["ndots:1"])
    assert (config.log_level, config.data_root, config.hosts) == ("debug", tmp_path / "root", ["unix:///x.sock"])
    assert config.bridge == "br9"


# daemon.json → dockerd 20.10's refusal (after "unable to configure the Docker daemon with file F: ")
FILE_ERRORS: list[tuple[Any, dict[str, Any], str]] = [
    ({"default-ulimits": {"nofile": {"Name": "nofile", "Soft": 1024, "Hard": 2048}}},
     {"default-ulimits": {"nproc": {"Name": "nproc", "Hard": 2, "Soft": 1}}},
     ("the following directives are specified both as a flag and in the configuration file: default-ulimits: "
      "(from flag: [nproc=1:2], from file: map[nofile:map[Hard:2048 Name:nofile Soft:1024]])")),
    ({"default-shm-size": "128M"}, {"default-shm-size": 64 << 20},
     ("the following directives are specified both as a flag and in the configuration file: default-shm-size: "
      "(from flag: 64MiB, from file: 128M)")),
    ({"log-driver": "local", "log-opts": {"max-size": "1m"}}, {"log-opts": {"max-file": "2"}},
     ("the following directives are specified both as a flag and in the configuration file: log-opts: "
      "(from flag: map[max-file:2], from file: map[max-size:1m])")),
    ({"default-address-pools": [{"base": "10.1.0.0/16", "size": 24}]},
     {"default-address-pools": [{"Base": "10.2.0.0/16", "Size": 24}, {"Base": "10.3.0.0/16", "Size": 26}]},
     ("the following directives are specified both as a flag and in the configuration file: "
      "default-address-pools: (from flag: 10.2.0.0/16 24, 10.3.0.0/16 26, from file: "
      "[map[base:10.1.0.0/16 size:24]])")),
    ({"default-address-pools": [{"base": "10.1.0.0/16", "size": "x"}]}, {},
     "json: cannot unmarshal string into Go struct field Config.default-address-pools of type int"),
    ({"shutdown-timeout": "x"}, {},
     "json: cannot unmarshal string into Go struct field Config.shutdown-timeout of type int"),
    ({"live-restore": "yes"}, {}, "json: cannot unmarshal string into Go struct field Config.live-restore of type bool"),
    ({"log-level": "debug"}, {"log-level": "warn"},
     ("the following directives are specified both as a flag and in the configuration file: log-level: "
      "(from flag: warn, from file: debug)")),
    ({"foo": 1}, {}, "the following directives don't match any configuration option: foo"),
    ({"default-ulimits": {"nofile": "1024"}}, {},
     "json: cannot unmarshal string into Go struct field Config.default-ulimits of type units.Ulimit"),
    ({"default-shm-size": "zz"}, {}, "invalid size: 'zz'"),
    ({"default-shm-size": 1000}, {}, 'invalid size: "1000"'),
    ({"dns": ["x"]}, {}, "configuration validation from file failed: x is not an ip address"),
    ({"dns-search": ["-x"]}, {}, "configuration validation from file failed: -x is not a valid domain"),
    ('{"debug": true', {}, "unexpected EOF"),
    ([], {}, "json: cannot unmarshal array into Go value of type map[string]interface {}"),
    ({}, {"default-ipc-mode": "host"}, ("merged configuration validation from file and command line flags "
      'failed: IPC mode "host" is not supported as default value; use "shareable" or "private"')),
    ({"default-ipc-mode": "bogus"}, {}, ("merged configuration validation from file and command line flags "
      'failed: default IPC mode setting (bogus) is invalid; use "shareable" or "private"')),
    ({}, {"default-cgroupns-mode": "bogus"}, ("merged configuration validation from file and command line "
      'flags failed: default cgroup namespace mode (bogus) is invalid; use "host" or "private"')),
]


@pytest.mark.parametrize(("content", "flags", "message"), FILE_ERRORS)
def test_a_bad_file_is_refused_in_dockerds_words(tmp_path: Path, content: Any, flags: dict[str, Any],
                                                 message: str) -> None:
    path = write(tmp_path, content)
    with pytest.raises(InvalidArgument) as exc:
        load(flags, path, explicit=True)
    assert str(exc.value) == f"unable to configure the Docker daemon with file {path}: {message}"


def test_unknown_keys_are_all_named(tmp_path: Path) -> None:
    path = write(tmp_path, {"foo": 1, "bar": 2})
    with pytest.raises(InvalidArgument) as exc:
        load({}, path, explicit=True)
    assert str(exc.value).endswith("don't match any configuration option: foo, bar")  # Go: in any order


def test_a_named_file_must_exist_the_default_one_need_not(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument) as exc:
        load({}, tmp_path / "nope.json", explicit=True)
    assert str(exc.value) == (f"unable to configure the Docker daemon with file {tmp_path}/nope.json: "
                              f"open {tmp_path}/nope.json: no such file or directory")
    assert load({}, tmp_path / "nope.json").log_driver == "json-file"


def test_without_a_file_the_modes_are_refused_without_its_prefix() -> None:
    with pytest.raises(InvalidArgument) as exc:
        load({"default-cgroupns-mode": "x"})
    assert str(exc.value) == 'default cgroup namespace mode (x) is invalid; use "host" or "private"'


def test_default_log_options_are_checked_at_the_start() -> None:
    """dockerd 20.10: "failed to start daemon: failed to set log opts: …"; an unknown default
    driver is taken, and each create without a driver of its own fails."""
    with pytest.raises(InvalidArgument) as exc:
        load({"log-opts": {"foo": "bar"}})
    assert str(exc.value) == "failed to set log opts: unknown log opt 'foo' for json-file log driver"
    config = load({"log-driver": "nope"})
    hc = create.host_config_defaults({}, daemon=config)
    create.validate_host_config(hc)
    with pytest.raises(InvalidArgument) as refused:
        create.check_after_image(hc)
    assert str(refused.value) == 'error looking up logging plugin nope: plugin "nope" not found'


@pytest.mark.parametrize(("flag", "message"), [
    # dockerd 20.10: "failed to start daemon: " and this
    ("base=10.0.0.0/16", ("Error initializing network controller: error obtaining controller instance: "
                          "invalid pools size: 0")),
    ("size=24", ('Error initializing network controller: error obtaining controller instance: invalid base '
                 'pool "": invalid CIDR address: ')),
    ("base=x,size=24", ("Error initializing network controller: error obtaining controller instance: "
                        'invalid base pool "x": invalid CIDR address: x')),
    ("base=10.0.0.0/16,size=8", ("Error initializing network controller: error obtaining controller instance: "
                                 "invalid pools size: 8")),
])
def test_address_pools_are_checked_at_the_start(flag: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        load(given(parse("--default-address-pool", flag)))
    assert str(exc.value) == message


def test_address_pools_give_subnets_in_order() -> None:
    from dockyard.network import ipam
    config = load(given(parse("--default-address-pool", "base=10.123.0.0/16,size=24",
                              "--default-address-pool", "Base=10.200.0.0/24,SIZE=26")))
    assert config.default_address_pools == [{"Base": "10.123.0.0/16", "Size": 24},
                                            {"Base": "10.200.0.0/24", "Size": 26}]
    pools = config.default_address_pools
    taken = [ipam.IPv4Net("10.123.0.0/24"), ipam.IPv4Net("10.123.1.0/25")]
    assert str(ipam.free_subnet(taken, pools=pools)) == "10.123.2.0/24"
    assert str(ipam.free_subnet([ipam.IPv4Net("10.123.0.0/16")], pools=pools)) == "10.200.0.0/26"
    assert str(ipam.free_subnet([])) == "172.17.0.0/16"  # without pools: dockerd's candidates


def test_what_dockyard_always_does_is_taken_and_nothing_else() -> None:
    """``--live-restore``, ``--storage-driver overlay2``, ``--userland-proxy`` and
    ``--shutdown-timeout`` (no effect: a stopping daemon stops no container) are taken; asking
    for anything else is refused before the daemon starts (dockerd 20.10 words an unknown
    driver "error initializing graphdriver: driver not supported")."""
    config = load(given(parse("--live-restore", "-s", "overlay2", "--userland-proxy=true", "--shutdown-timeout", "3")))
    assert (config.live_restore, config.storage_driver, config.userland_proxy, config.shutdown_timeout) == (
        True, "overlay2", True, 3)
    # an int flag as pflag reads it (base 0), as the docker CLI read its own: 0x10 is 16
    assert load(given(parse("--shutdown-timeout", "0x10"))).shutdown_timeout == 16
    for argv, words in ((["--storage-driver", "vfs"], "error initializing graphdriver: driver not supported: vfs"),
                        (["--live-restore=false"], "live-restore cannot be disabled"),
                        (["--userland-proxy=false"], "userland-proxy cannot be disabled")):
        with pytest.raises(InvalidArgument) as exc:
            load(given(parse(*argv)))
        assert str(exc.value).startswith(words)


def test_the_file_may_say_the_same(tmp_path: Path) -> None:
    path = write(tmp_path, {"live-restore": True, "storage-driver": "overlay2", "userland-proxy": True,
                            "shutdown-timeout": 30})
    assert load({}, path, explicit=True).shutdown_timeout == 30


# ---- applied to containers --------------------------------------------------------------------


DAEMON = DaemonConfig(data_root=Path("/"), hosts=[], default_shm_size=128 << 20, log_driver="local",
                      log_opts={"max-size": "5m"}, default_ipc_mode="shareable", default_cgroupns_mode="host",
                      default_ulimits={"nofile": {"Name": "nofile", "Hard": 2048, "Soft": 1024},
                                       "nproc": {"Name": "nproc", "Hard": 600, "Soft": 500}})


def test_create_records_the_daemons_defaults_where_the_container_says_nothing() -> None:
    """What dockerd 20.10 (started with the same defaults) showed in ``docker inspect``."""
    hc = create.host_config_defaults({}, daemon=DAEMON)
    assert hc["ShmSize"] == 134217728 and hc["IpcMode"] == "shareable" and hc["CgroupnsMode"] == "host"
    assert hc["LogConfig"] == {"Type": "local", "Config": {"max-size": "5m"}}
    assert "Ulimits" not in hc  # never recorded: merged at start, exec and inspect
    own = create.host_config_defaults({"ShmSize": 1 << 20, "IpcMode": "private", "CgroupnsMode": "private",
                                       "LogConfig": {"Type": "json-file", "Config": {}}}, daemon=DAEMON)
    assert (own["ShmSize"], own["IpcMode"], own["CgroupnsMode"]) == (1 << 20, "private", "private")
    assert own["LogConfig"] == {"Type": "json-file", "Config": {}}  # another driver: none of its opts
    more = create.host_config_defaults({"LogConfig": {"Type": "", "Config": {"max-file": "2"}}}, daemon=DAEMON)
    assert more["LogConfig"] == {"Type": "local", "Config": {"max-size": "5m", "max-file": "2"}}
    mine = create.host_config_defaults({"LogConfig": {"Config": {"max-size": "1m", "mode": "non-blocking"}}},
                                       daemon=DAEMON)
    assert mine["LogConfig"]["Config"] == {"max-size": "1m", "mode": "non-blocking"}


def test_default_ulimits_merge_after_the_containers_own() -> None:
    """dockerd's mergeUlimits: the container's first, then each default it does not name."""
    own = [{"Name": "nofile", "Hard": 200, "Soft": 100}]
    assert create.merged_ulimits(own, DAEMON.default_ulimits) == [
        {"Name": "nofile", "Hard": 200, "Soft": 100}, {"Name": "nproc", "Hard": 600, "Soft": 500}]
    assert create.merged_ulimits(None, {}) is None and create.merged_ulimits([], {}) == []
    nofile, nproc = syscalls.RLIMITS["nofile"], syscalls.RLIMITS["nproc"]
    assert create.rlimits({"Ulimits": own}, DAEMON.default_ulimits) == [[nofile, 100, 200], [nproc, 500, 600]]
    assert create.rlimits({"Ulimits": None}, DAEMON.default_ulimits) == [[nofile, 1024, 2048], [nproc, 500, 600]]
    assert create.rlimits({"Ulimits": own}) == [[nofile, 100, 200]]


def test_seccomp_profile_from_the_flag_or_the_file(tmp_path: Path) -> None:
    """``--seccomp-profile`` / daemon.json ``seccomp-profile``: the file read once at the start
    (missing: dockerd's "opening seccomp profile (…) failed"); builtin and unconfined read none."""
    profile = tmp_path / "p.json"
    profile.write_text('{"defaultAction": "SCMP_ACT_ALLOW"}')
    config = load(given(parse("--seccomp-profile", str(profile))))
    assert (config.seccomp_profile, config.seccomp_text) == (str(profile), profile.read_text())
    path = tmp_path / "daemon.json"
    path.write_text(json.dumps({"seccomp-profile": "unconfined"}))
    config = load({}, path, explicit=True)
    assert (config.seccomp_profile, config.seccomp_text) == ("unconfined", "")
    setting = create.seccomp_setting({}, (config.seccomp_profile, config.seccomp_text))
    assert setting == ""  # no program: unconfined
    missing = tmp_path / "nosuch.json"
    with pytest.raises(InvalidArgument, match=rf"opening seccomp profile \({missing}\) failed: open {missing}: "
                                              "no such file or directory"):
        load(given(parse("--seccomp-profile", str(missing))))


def test_userns_remap_from_the_flag_or_the_file(tmp_path: Path) -> None:
    """``--userns-remap`` / daemon.json ``userns-remap``: taken as text (resolved at the
    daemon's start, linux.remap); the engine's root is ``<data-root>/<uid>.<gid>`` once it is."""
    assert load(given(parse("--userns-remap", "default"))).userns_remap == "default"
    path = tmp_path / "daemon.json"
    path.write_text(json.dumps({"userns-remap": "dockremap:dockremap"}))
    config = load({}, path, explicit=True)
    assert config.userns_remap == "dockremap:dockremap" and config.remapped is None
    assert config.engine_root == config.data_root
    path.write_text(json.dumps({"userns-remap": True}))
    with pytest.raises(InvalidArgument, match="json: cannot unmarshal bool into Go struct field "
                                              "Config.userns-remap of type string"):
        load({}, path, explicit=True)
    assert DaemonConfig().userns_remap == ""


def test_ipv6_and_fixed_cidr_v6_from_the_flags_or_the_file(tmp_path: Path) -> None:
    """``--ipv6``/``--fixed-cidr-v6`` (daemon.json ``ipv6``, ``fixed-cidr-v6``): the default
    bridge's IPv6; ``--ipv6`` alone stops the start as dockerd 20.10's does (no default pool)."""
    config = load(given(parse("--ipv6", "--fixed-cidr-v6", "fd00:1::/64")))
    assert (config.ipv6, config.fixed_cidr_v6) == (True, "fd00:1::/64")
    path = write(tmp_path, {"ipv6": True, "fixed-cidr-v6": "fd00:2::/64"})
    config = load({}, path, explicit=True)
    assert (config.ipv6, config.fixed_cidr_v6) == (True, "fd00:2::/64")
    assert load(given(parse("--fixed-cidr-v6", "fd00:1::/64"))).ipv6 is False  # kept, unused
    with pytest.raises(InvalidArgument) as exc:
        load(given(parse("--ipv6")))
    assert str(exc.value) == ("Error initializing network controller: IPv6 is enabled for the default "
                              "bridge, but no subnet is configured. Specify an IPv6 subnet using "
                              "--fixed-cidr-v6")
    bad_bool = "json: cannot unmarshal string into Go struct field Config.ipv6 of type bool"
    bad_cidr = "json: cannot unmarshal number into Go struct field Config.fixed-cidr-v6 of type string"
    for content, message in (({"ipv6": "yes"}, bad_bool), ({"fixed-cidr-v6": 5}, bad_cidr)):
        with pytest.raises(InvalidArgument) as exc:
            load({}, write(tmp_path, content), explicit=True)
        assert str(exc.value) == f"unable to configure the Docker daemon with file {path}: {message}"
    assert (DaemonConfig().ipv6, DaemonConfig().fixed_cidr_v6) == (False, None)
