"""Legacy links (``--link name[:alias]``, docker-py's ``links=``) through a real daemon and
real containers: what the linking container sees (/etc/hosts, its variables, an exec's), the
refusals at create and at the start, ``docker rm --link``, a child's restart and removal, a
user-defined network's links and a daemon restart. dockerd 20.10's behaviour, which these
expectations follow, is recorded side by side in tests/interop/test_links_dockerd.py."""

from __future__ import annotations

import contextlib
import itertools
import os
from pathlib import Path
from typing import Any

import pytest
from docker.errors import APIError, NotFound

from dockyard.testing.daemon import DaemonProcess, DockerCLI

_n = itertools.count()


@pytest.fixture
def names() -> Any:
    """Names of this test's own (the session daemon is shared)."""
    prefix = f"lk{os.getpid() % 10000}x{next(_n)}"
    return lambda name: f"{prefix}-{name}"


def _ok(done: Any) -> str:
    assert done.returncode == 0, done.stderr
    return str(done.stdout).strip()


def _ip(client: Any, name: str) -> str:
    return str(client.api.inspect_container(name)["NetworkSettings"]["Networks"]["bridge"]["IPAddress"])


def _run(client: Any, name: str, *args: str, **kwargs: Any) -> Any:
    return client.containers.run("busybox", list(args) or ["sleep", "300"], name=name, detach=True,
                                 **kwargs)


def test_a_linker_sees_its_childs_address_names_and_variables(client: Any, names: Any) -> None:
    web = _run(client, names("web"), environment={"FOO": "bar"}, ports={"80/tcp": None})
    web.reload()
    out = client.containers.run("busybox", ["sh", "-c", "tail -2 /etc/hosts; env"], name=names("lnk"),
                                links={names("web"): "w"}, remove=True).decode()
    ip = _ip(client, web.id)
    assert out.splitlines()[0] == f"{ip}\tw {web.id[:12]} {names('web')}"
    env = set(out.splitlines()[2:])
    assert {f"W_NAME=/{names('lnk')}/w", f"W_PORT=tcp://{ip}:80", f"W_PORT_80_TCP_ADDR={ip}",
            "W_PORT_80_TCP_PORT=80", "W_PORT_80_TCP_PROTO=tcp", "W_ENV_FOO=bar"} <= env
    assert not any(v.startswith(("W_ENV_PATH=", "W_ENV_HOME=")) for v in env)


def test_inspect_and_exec_see_the_links(client: Any, names: Any) -> None:
    _run(client, names("web"))
    _run(client, names("db"), hostname="dbhost")
    parent = _run(client, names("par"), links={names("web"): "w", names("db"): None})
    shown = client.api.inspect_container(parent.id)["HostConfig"]["Links"]
    assert shown == [f"/{names('db')}:/{names('par')}/{names('db')}",  # docker-py sends them sorted
                     f"/{names('web')}:/{names('par')}/w"]
    hosts = parent.exec_run(["tail", "-3", "/etc/hosts"]).output.decode().splitlines()
    assert hosts[0] == f"{_ip(client, names('db'))}\t{names('db')} dbhost"  # alias = name: once
    env = parent.exec_run(["env"]).output.decode().splitlines()
    assert f"W_NAME=/{names('par')}/w" in env
    assert client.api.inspect_container(names("web"))["HostConfig"]["Links"] is None


def test_refusals_at_create(client: Any, names: Any) -> None:
    _run(client, names("hostc"), network_mode="host")
    api = client.api
    host_words = ("conflicting options: host type networking can't be used with links. This would "
                  "result in undefined behavior")
    for hc, status, words in [
        ({"Links": [f"{names('nope')}:n"]}, 400,
         f"could not get container for {names('nope')}: No such container: {names('nope')}"),
        ({"Links": ["a:b:c"]}, 500, "bad format for links: a:b:c"),
        ({"Links": [f"{names('hostc')}:h"]}, 400, host_words),
        ({"NetworkMode": "host", "Links": ["x:y"]}, 400, host_words),
    ]:
        with pytest.raises(APIError) as caught:
            api.create_container("busybox", "true", host_config={"NetworkMode": "default", **hc},
                                 name=names("refused"))
        assert (caught.value.status_code, caught.value.explanation) == (status, words)
        with pytest.raises(NotFound):
            api.inspect_container(names("refused"))


def test_refusals_at_the_start(client: Any, names: Any) -> None:
    _run(client, names("onnone"), network_mode="none")
    stopped = client.containers.create("busybox", "true", name=names("stopped"))
    not_bridged = f"Cannot link to /{names('onnone')}, as it does not belong to the default network"
    stopped_words = f"Cannot link to a non running container: /{names('stopped')} AS /{names('p')}/c"
    for child, words in [(names("onnone"), not_bridged), (names("stopped"), stopped_words)]:
        parent = client.containers.create("busybox", "true", name=names("p"), links={child: "c"})
        with pytest.raises(APIError) as caught:
            parent.start()
        assert (caught.value.status_code, caught.value.explanation) == (500, words)
        state = client.api.inspect_container(parent.id)["State"]
        assert (state["Status"], state["ExitCode"], state["Error"]) == ("created", 128, words)
        parent.remove()
    stopped.remove()
    # off the default bridge the links are not looked at
    out = client.containers.run("busybox", ["true"], links={names("onnone"): "c"}, network_mode="none",
                                remove=True)
    assert out == b""


def test_rm_link_takes_the_line_out_of_a_running_parent(client: Any, docker: DockerCLI,
                                                        names: Any) -> None:
    _run(client, names("web"))
    _run(client, names("db"))
    parent = _run(client, names("par"), links={names("web"): "w", names("db"): "db"})
    assert _ok(docker("rm", "--link", f"/{names('par')}/w")) == f"/{names('par')}/w"
    assert client.api.inspect_container(parent.id)["HostConfig"]["Links"] == \
        [f"/{names('db')}:/{names('par')}/db"]
    hosts = parent.exec_run(["cat", "/etc/hosts"]).output.decode()
    assert "\tw " not in hosts and f"\tdb {client.api.inspect_container(names('db'))['Id'][:12]}" in hosts
    for name, words in [(f"{names('par')}/w", f"No such container: {names('par')}/w"),
                        (names("web"), "Conflict, cannot remove the default link name of the container")]:
        done = docker("rm", "--link", name)
        assert done.returncode == 1 and done.stderr.strip() == f"Error response from daemon: {words}"
    assert client.api.inspect_container(names("web"))["State"]["Running"]
    with pytest.raises(NotFound):
        client.api.remove_container(f"{names('nope')}", link=True)


def test_a_childs_restart_gives_its_parents_the_new_address(client: Any, names: Any) -> None:
    web = _run(client, names("web"))
    parent = _run(client, names("par"), links={names("web"): "w"})
    old = _ip(client, web.id)
    web.stop(timeout=0)
    _run(client, names("thief"))  # takes the stopped child's address
    assert _ip(client, names("thief")) == old
    hosts = Path(client.api.inspect_container(parent.id)["HostsPath"])
    assert hosts.read_text().splitlines()[-2].startswith(f"{old}\tw ")
    with pytest.raises(APIError) as caught:  # an exec has the links' variables: refused now
        client.api.exec_create(parent.id, ["true"])
    assert caught.value.status_code == 500 and "non running container" in caught.value.explanation
    web.start()
    new = _ip(client, web.id)
    assert new != old
    line = parent.exec_run(["tail", "-2", "/etc/hosts"]).output.decode().splitlines()[0]
    assert line == f"{new}\tw {web.id[:12]} {names('web')}"
    assert f"W_NAME=/{names('par')}/w" in parent.exec_run(["env"]).output.decode().splitlines()


def test_a_removed_child_stays_linked_and_refuses_its_parents_start_and_exec(
        client: Any, names: Any) -> None:
    web = _run(client, names("web"))
    parent = _run(client, names("par"), links={names("web"): "w"})
    web.remove(force=True)
    words = f"Cannot link to a non running container: /{names('web')} AS /{names('par')}/w"
    with pytest.raises(APIError) as caught:
        client.api.exec_create(parent.id, ["true"])
    assert (caught.value.status_code, caught.value.explanation) == (500, words)
    assert client.api.inspect_container(parent.id)["HostConfig"]["Links"] == \
        [f"/{names('web')}:/{names('par')}/w"]
    parent.stop(timeout=0)
    with pytest.raises(APIError) as caught:
        parent.start()
    assert (caught.value.status_code, caught.value.explanation) == (500, words)
    with pytest.raises(NotFound):  # its name no longer names anything
        client.api.remove_container(f"{names('par')}/w", link=True)


def test_links_on_a_user_defined_network_resolve_in_the_linker_alone(
        client: Any, docker: DockerCLI, names: Any) -> None:
    network = client.networks.create(names("net"))
    try:
        _run(client, names("child"), network=names("net"))
        _ok(docker("run", "-d", "--name", names("linker"), "--network", names("net"),
                   "--link", f"{names('child')}:o", "--link", f"{names('later')}:l", "busybox",
                   "sleep", "300"))
        other = _run(client, names("other"), network=names("net"))
        linker = client.containers.get(names("linker"))
        assert linker.exec_run(["ping", "-c1", "-W5", "o"]).exit_code == 0
        assert other.exec_run(["ping", "-c1", "-W5", "o"]).exit_code == 1
        _run(client, names("later"), network=names("net"))  # joins after the linker: resolves
        assert linker.exec_run(["ping", "-c1", "-W5", "l"]).exit_code == 0
        shown = client.api.inspect_container(linker.id)
        assert shown["HostConfig"]["Links"] is None
        assert shown["NetworkSettings"]["Networks"][names("net")]["Links"] == \
            [f"{names('child')}:o", f"{names('later')}:l"]
        assert not [v for v in linker.exec_run(["env"]).output.decode().splitlines() if v.startswith("O_")]
        # docker-py's links= there are HostConfig's alone, which dockerd ignores on such a network
        quiet = _run(client, names("py"), network=names("net"), links={names("child"): "o"})
        assert quiet.exec_run(["ping", "-c1", "-W5", "o"]).exit_code == 1
        assert client.api.inspect_container(quiet.id)["HostConfig"]["Links"] is None
    finally:
        for c in client.containers.list(all=True, filters={"network": names("net")}):
            c.remove(force=True)
        network.remove()


def test_links_survive_a_daemon_restart(busybox_daemon: DaemonProcess) -> None:
    with contextlib.closing(busybox_daemon.client()) as client:
        _run(client, "rs-web")
        client.containers.create("busybox", ["sh", "-c", "tail -2 /etc/hosts"], name="rs-par",
                                 links={"rs-web": "w"})
    busybox_daemon.restart()
    with contextlib.closing(busybox_daemon.client()) as client:
        try:
            assert client.api.inspect_container("rs-par")["HostConfig"]["Links"] == ["/rs-web:/rs-par/w"]
            client.api.start("rs-par")
            client.api.wait("rs-par")
            out = client.api.logs("rs-par").decode().splitlines()
            assert out[0] == f"{_ip(client, 'rs-web')}\tw {client.api.inspect_container('rs-web')['Id'][:12]} rs-web"
        finally:
            for name in ("rs-par", "rs-web"):
                client.api.remove_container(name, force=True)
