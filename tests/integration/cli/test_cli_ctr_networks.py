"""``dockyard network …`` against real daemons (dockerd runs in its own network namespace, so
its bridges never touch the host), and the one-line error for a route a daemon lacks."""

from __future__ import annotations

import json
import re

import pytest
from cliengines import Engine, engines


@engines("networks")
def test_network_create_ls_inspect_connect_rm(engine: Engine) -> None:
    nid = engine.ok("network", "create", "--subnet", "10.123.0.0/24", "--gateway", "10.123.0.1",
                    "--label", "team=h5", "cli-net").strip()
    assert re.fullmatch(r"[0-9a-f]{64}", nid)
    # a taken name is refused, as by the docker CLI (dockerd 20.10 makes a second network
    # unless the create asks it to check)
    assert engine.cli("network", "create", "cli-net") == (
        1, "", "dockyard: network with name cli-net already exists\n")
    header, *rows = engine.ok("network", "ls", "--filter", "name=cli-net").splitlines()
    assert re.split(r"\s{2,}", header) == ["NETWORK ID", "NAME", "DRIVER", "SCOPE"]
    assert rows == [f"{nid[:12]}   cli-net   bridge    local"]
    assert engine.ok("network", "ls", "-q", "--no-trunc", "--filter", "label=team=h5") == nid + "\n"
    info = json.loads(engine.ok("network", "inspect", "cli-net"))[0]
    assert info["IPAM"]["Config"] == [{"Subnet": "10.123.0.0/24", "Gateway": "10.123.0.1"}]
    assert engine.ok("network", "inspect", "-f", "{{.Driver}} {{.Labels.team}}", "cli-net") == "bridge h5\n"
    engine.ok("run", "-d", "--name", "member", "--network", "cli-net", "busybox", "sleep", "30")
    ip = engine.ok("inspect", "-f", "{{.NetworkSettings.Networks.cli-net.IPAddress}}", "member").strip()
    assert ip.startswith("10.123.0.")
    engine.ok("network", "create", "other-net")
    assert engine.ok("network", "connect", "--alias", "m2", "other-net", "member") == ""
    nets = json.loads(engine.ok("inspect", "-f", "{{json .NetworkSettings.Networks}}", "member"))
    assert set(nets) == {"cli-net", "other-net"} and "m2" in nets["other-net"]["Aliases"]
    assert engine.ok("network", "disconnect", "other-net", "member") == ""
    code, _, err = engine.cli("network", "rm", "cli-net")
    assert code == 1 and "has active endpoints" in err and err.count("\n") == 1
    assert engine.ok("network", "rm", "other-net") == "other-net\n"
    code, _, err = engine.cli("network", "create", "--gateway", "10.9.0.1", "bad-net")
    assert (code, err) == (1, "dockyard: every ip-range or gateway must have a corresponding subnet\n")


@engines("networks")
def test_network_prune(engine: Engine) -> None:
    engine.ok("network", "create", "unused-net")
    out = engine.ok("network", "prune", "-f")
    assert out.startswith("Deleted Networks:\n") and "unused-net\n" in out
    r = engine.proc("network", "prune", input="n\n")
    assert r.stdout.startswith("WARNING! This will remove all custom networks not used by at least one container.")


@pytest.mark.parametrize("engine", ["dockyard"], indirect=True)
def test_a_route_the_daemon_lacks_is_one_line(engine: Engine) -> None:
    from dockyard.cli.running import api_error_message

    api = engine.client()
    try:
        response = api._get(api._url("/no/such/route"))
        with pytest.raises(Exception) as caught:
            api._raise_for_status(response)
    finally:
        api.close()
    assert re.fullmatch(r"the daemon does not serve GET (/v[\d.]+)?/no/such/route \(page not found\)",
                        api_error_message(caught.value))


@engines("networks")
def test_published_ports_in_port_and_ps(engine: Engine) -> None:
    engine.ok("network", "create", "ports-net")
    engine.ok("run", "-d", "--name", "pub", "--network", "ports-net", "-p", "127.0.0.1::80", "-p", "9090:90/udp",
              "-p", "7000-7001:7000-7001", "--expose", "8000-8002", "--expose", "8005", "busybox", "sleep", "30")
    lines = engine.ok("port", "pub").splitlines()
    assert lines == _docker(engine, "port", "pub").splitlines()
    assert any(re.fullmatch(r"80/tcp -> 127\.0\.0\.1:\d+", line) for line in lines)
    host_port = engine.ok("port", "pub", "80").strip()
    assert re.fullmatch(r"127\.0\.0\.1:\d+", host_port)
    fmt = "{{.Ports}}"
    assert engine.ok("ps", "--format", fmt) == _docker(engine, "ps", "--format", fmt)
    assert f"{host_port}->80/tcp" in engine.ok("ps", "--format", fmt)


def _docker(engine: Engine, *argv: str) -> str:
    import shutil
    import subprocess

    docker = shutil.which("docker")
    assert docker, "the docker CLI is the reference"
    env = {"DOCKER_HOST": engine.host, "PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    return subprocess.run([docker, *argv], env=env, capture_output=True, text=True, check=True).stdout
