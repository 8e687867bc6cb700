"""Pure parts of the container CLI: run flags → create body, ps/stats wording, cp and logs
argument rules."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from dockyard.cli import containers, copy, ctformat, running, runopts
from dockyard.errors import InvalidArgument


def _parse(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("-d", "--detach", action="store_true")
    runopts.add_create_flags(p)
    return p.parse_args(list(argv))


def test_create_body_spells_what_the_docker_cli_sends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FROM_HOST", "h")
    (tmp_path / "env").write_text("# c\nF=1\n\n  G=2\n")
    args = _parse("-i", "-t", "--name", "n", "-e", "A=1", "-e", "FROM_HOST", "-e", "UNSET_X",
                  "--env-file", str(tmp_path / "env"), "-v", "/data", "-v", "/h:/c:ro", "-p", "8080:80",
                  "-p", "127.0.0.1::53/udp", "--expose", "90-91", "-w", "/w", "-u", "1:2",
                  "--entrypoint", "", "-h", "hn", "-l", "k=v", "-m", "1g", "--cpus", "1.5", "--rm",
                  "busybox", "ls", "-l")
    body = runopts.create_body(args, detach=False)
    assert body["Env"] == ["F=1", "G=2", "A=1", "FROM_HOST=h", "UNSET_X"]
    assert body["Cmd"] == ["ls", "-l"] and body["Entrypoint"] == [""] and body["Image"] == "busybox"
    assert body["Volumes"] == {"/data": {}} and body["HostConfig"]["Binds"] == ["/h:/c:ro"]
    assert body["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}, "90/tcp": {}, "91/tcp": {}}
    assert body["HostConfig"]["PortBindings"] == {"80/tcp": [{"HostIp": "", "HostPort": "8080"}],
                                                  "53/udp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}
    assert (body["AttachStdin"], body["OpenStdin"], body["StdinOnce"], body["Tty"]) == (True, True, True, True)
    host = body["HostConfig"]
    assert (host["Memory"], host["NanoCpus"], host["AutoRemove"], host["NetworkMode"]) == \
        (1 << 30, 1_500_000_000, True, "default")
    assert (body["Hostname"], body["User"], body["WorkingDir"], body["Labels"]) == ("hn", "1:2", "/w", {"k": "v"})
    detached = runopts.create_body(_parse("-i", "busybox"), detach=True)
    assert (detached["AttachStdin"], detached["AttachStdout"], detached["StdinOnce"]) == (False, False, False)
    assert detached["Cmd"] is None and detached["Entrypoint"] is None


@pytest.mark.parametrize("text,size", [("512m", 512 << 20), ("1g", 1 << 30), ("100k", 102400),
                                       ("1.5GiB", 3 << 29), ("4096", 4096), ("2MB", 2 << 20)])
def test_ram_bytes(text: str, size: int) -> None:
    assert runopts.ram_bytes(text) == size


@pytest.mark.parametrize("bad,message", [("lots", "invalid size: 'lots'"), ("", "invalid size: ''"),
                                         ("-1m", "invalid size: '-1m'"), ("1x", "invalid suffix: 'x'"),
                                         ("1MiBs", "invalid suffix: 'MiBs'")])
def test_ram_bytes_refuses(bad: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        runopts.ram_bytes(bad)
    assert str(refused.value) == message


def test_publish_specs() -> None:
    assert runopts.parse_publish("80") == [("80/tcp", "", "")]
    assert runopts.parse_publish("0.0.0.0:8000-8001:80-81") == [("80/tcp", "0.0.0.0", "8000"),
                                                                ("81/tcp", "0.0.0.0", "8001")]
    assert runopts.parse_publish("[::1]:8080:80/udp") == [("80/udp", "::1", "8080")]
    with pytest.raises(InvalidArgument, match="invalid proto"):
        runopts.parse_publish("80/icmp")
    with pytest.raises(InvalidArgument, match="invalid ranges"):
        runopts.parse_publish("8000-8002:80-81")


def test_mount_specs_and_restart_policies() -> None:
    assert runopts.parse_mount("type=bind,src=/a,dst=/b,readonly,bind-propagation=rshared") == {
        "Type": "bind", "Source": "/a", "Target": "/b", "ReadOnly": True,
        "BindOptions": {"Propagation": "rshared"}}
    assert runopts.parse_mount("type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1770")["TmpfsOptions"] == \
        {"SizeBytes": 1 << 20, "Mode": 0o1770}
    with pytest.raises(InvalidArgument, match="target is required"):
        runopts.parse_mount("type=volume,source=v")
    with pytest.raises(InvalidArgument, match="unexpected key 'colour'"):
        runopts.parse_mount("target=/x,colour=red")
    assert runopts.restart_policy("on-failure:3") == {"Name": "on-failure", "MaximumRetryCount": 3}
    with pytest.raises(InvalidArgument, match="only be used with 'on-failure'"):
        runopts.restart_policy("always:3")
    with pytest.raises(InvalidArgument, match="invalid restart policy 'sometimes'"):
        runopts.restart_policy("sometimes")


def test_ps_row_wording() -> None:
    row = ctformat.ps_row({"Id": "a" * 64, "Image": "sha256:" + "b" * 64, "Command": "sh -c 'echo a very long line'",
                           "Created": 0, "Names": ["/web", "/other/alias"], "State": "exited",
                           "Status": "Exited (3) 2 minutes ago", "SizeRw": 12, "SizeRootFs": 2_000_000,
                           "Ports": [{"PrivatePort": 80, "Type": "tcp", "IP": "0.0.0.0", "PublicPort": 8080},
                                     {"PrivatePort": 80, "Type": "tcp", "IP": "::", "PublicPort": 8080},
                                     {"PrivatePort": 443, "Type": "tcp"}]}, no_trunc=False)
    assert row["ID"] == "a" * 12 and row["Image"] == "b" * 12 and row["Names"] == "web"
    assert row["Command"] == '"sh -c \'echo a very …"'
    assert row["Ports"] == "443/tcp, 0.0.0.0:8080->80/tcp, [::]:8080->80/tcp"
    assert row["Size"] == "12B (virtual 2MB)" and row["Status"] == "Exited (3) 2 minutes ago"


def test_stats_row_figures() -> None:
    sample = {"id": "c" * 64, "name": "/busy", "pids_stats": {"current": 3},
              "cpu_stats": {"cpu_usage": {"total_usage": 300}, "system_cpu_usage": 2000, "online_cpus": 2},
              "precpu_stats": {"cpu_usage": {"total_usage": 100}, "system_cpu_usage": 1000},
              "memory_stats": {"usage": 3 << 20, "limit": 1 << 30, "stats": {"total_inactive_file": 1 << 20}},
              "networks": {"eth0": {"rx_bytes": 1500, "tx_bytes": 0}},
              "blkio_stats": {"io_service_bytes_recursive": [{"op": "Read", "value": 4096}]}}
    row = ctformat.stats_row(sample, "/busy")
    assert row == {"BlockIO": "4.1kB / 0B", "CPUPerc": "40.00%", "Container": "/busy", "ID": "c" * 12,
                   "MemPerc": "0.20%", "MemUsage": "2MiB / 1GiB", "Name": "busy", "NetIO": "1.5kB / 0B",
                   "PIDs": "3"}


def test_logs_timestamps() -> None:
    assert running.timestamp("10m", now=1000.0) == "400.000000000"
    assert running.timestamp("1h30m", now=10000.0) == "4600.000000000"
    assert running.timestamp("1700000000") == "1700000000"
    assert running.timestamp("2024-01-01T00:00:00Z") == "1704067200.000000000"
    with pytest.raises(InvalidArgument, match="failed to parse value as time or duration"):
        running.timestamp("yesterday")


def test_cp_argument_split_and_port_lines() -> None:
    assert copy.split_spec("box:/etc") == ("box", "/etc")
    assert copy.split_spec("/abs:odd") == (None, "/abs:odd")
    assert copy.split_spec("./rel:x") == (None, "./rel:x")
    assert copy.split_spec("-") == (None, "-")
    ports = {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}, {"HostIp": "::", "HostPort": "8080"}],
             "53/udp": None}
    assert containers.port_lines(ports, None) == ["80/tcp -> 0.0.0.0:8080", "80/tcp -> [::]:8080"]
    assert containers.port_lines(ports, "80") == ["0.0.0.0:8080", "[::]:8080"]


def test_system_prune_warning() -> None:
    assert containers.system_prune_warning(False, False) == (
        "WARNING! This will remove:\n  - all stopped containers\n"
        "  - all networks not used by at least one container\n  - all dangling images\n"
        "  - unused build cache\n")
    assert "all images without at least one container" in containers.system_prune_warning(True, True)


def test_ps_ports_fold_runs_as_docker_does() -> None:
    def port(private: int, public: int = 0, ip: str = "", kind: str = "tcp") -> dict[str, object]:
        return {"PrivatePort": private, "PublicPort": public, "IP": ip, "Type": kind}
    ports = [port(8002), port(8000), port(8001), port(9000, kind="udp"), port(8005),
             port(7000, 7000, "0.0.0.0"), port(7001, 7001, "0.0.0.0"), port(53, 5353, "127.0.0.1", "udp")]
    # a run that ends early is printed at once; open runs follow in first-seen order (docker's quirk)
    assert ctformat.display_ports(ports) == (
        "8000-8002/tcp, 0.0.0.0:7000-7001->7000-7001/tcp, 8005/tcp, 9000/udp, 127.0.0.1:5353->53/udp")
    assert ctformat.display_ports(None) == ""
