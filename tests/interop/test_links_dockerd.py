"""Legacy links (``docker run --link name[:alias]``, docker-py's ``links=``) side by side with a
private dockerd 20.10 on a Linux bridge of its own (made here: links live on the default
bridge, which the shared private dockerd runs without), through the docker CLI and docker-py.

dockerd 20.10's behaviour, recorded here:

- the linker's /etc/hosts has ``<child ip>\\t<alias> <child hostname> [<child name>]`` (the name
  only when the alias is not it) after the ``--add-host`` lines and before its own; its
  environment ``<ALIAS>_PORT``, ``_PORT_<n>_<PROTO>`` (+ ``_ADDR``/``_PORT``/``_PROTO``; ``_START``
  /``_END`` for three contiguous entries or more), ``<ALIAS>_NAME=/<linker>/<alias>`` and the
  child's variables as ``<ALIAS>_ENV_<var>`` (not HOME/PATH), after PATH and HOSTNAME and before
  its own (which replace them in place); an exec gets them too; ``HostConfig.Links`` in inspect
  is ``/<child>:/<linker>/<alias>`` (two links with one alias: the first kept, silently);
- refused at create: a missing child (400 ``could not get container for x: No such container:
  x``), ``a:b:c`` and "" (500), a child on ``host`` networking or a linker on ``host`` or
  ``container:`` networking (400, ``conflicting options: …``), before any container is made;
  refused at the start (500, exit code 128, State.Error): a child off the default bridge ("does
  not belong to the default network"), then one not running; a linker on ``--network none``
  starts without links;
- ``docker rm --link /linker/alias`` (DELETE /containers/linker/alias?link=1) prints the name,
  drops the link and the running linker's /etc/hosts line; a plain name is 500 ``Conflict,
  cannot remove the default link name of the container``, an unknown one 404;
- a child started again with another address: its running linkers' lines take the new one
  (while it is stopped, an exec in a linker is refused: its variables need the child);
- ``docker rm -f <child>``: the linker keeps the link (inspect), its start and exec are refused
  naming the removed child, and ``rm --link`` no longer finds the link (404);
- on a user-defined network ``--link`` is the endpoint's (``Networks[n].Links``, HostConfig's
  null): the alias resolves in the linker alone, no variables, a missing child is no error;
  docker-py's ``links=`` (HostConfig alone) is ignored there;
- a daemon restart (its containers stop with it): each container's links are registered anew
  from HostConfig.Links by the children's names — a child removed and re-created, or renamed
  and its name taken by another, is linked again (inspect, the linker's start, /etc/hosts and
  its variables as for a new link); a name that is gone drops its link and every one after it
  ("failed to register link for container" in dockerd's log); a link ``docker rm --link``
  dropped is back; a missing name is looked up as an id prefix too (as any container name);
- ``docker inspect linker/alias`` (``/linker/alias`` too, ``container inspect``, docker-py, GET
  /containers/linker/alias/json with the "/" escaped or not) is the child's inspect; an unknown
  alias is "No such object" (``container inspect``: 404 "No such container: linker/nope");
  every container route takes a link's name (stop, start, restart, kill, wait, logs, top,
  pause, unpause, rename, stats, changes, export, archive, exec, attach, resize, update);
- a child's Names in ``GET /containers/json`` are its name and its links' (``/par/w``), sorted;
  ``docker ps --no-trunc`` shows ``par/w,web``; ``rm --link`` and the linker's removal drop a
  link's name, the linker's rename renames it;
- a stopped child answers by a link's name as by its own (kill's words name it as given):
  unpause 500 "is not paused", pause, resize, kill, exec and top 409 "is not running", update
  200, stop 304, stats a zero sample, logs and an attach without ``stream`` empty, restart 204.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from dockyard.testing.daemon import DaemonProcess, DockerCLI
from dockyard.testing.dockerd import (
    Dockerd,
    restart_dockerd,
    skip_unless_root,
    start_dockerd,
    stop_dockerd,
)

BRIDGE = "dklinks0"  # dockerd's -b bridge (dockyard's is its own dy<hash>)
SUBNETS = {"dockyard": "10.253.83.", "dockerd": "10.253.84."}
NETWORK = "dylk-net"
# dockerd 20.10's embedded DNS (a user-defined network's) sends no answer at all for a name it
# does not know once its upstream fails: a lookup then waits out the resolver's timeouts (glibc's
# 5 s, two tries: a ping of a name not linked took 10 s). Its containers try for 1 s, twice;
# and the upstream is the bridge's own address, where nothing listens, so no query leaves the
# host (with the host's server, through a bridge without NAT, it was the same).
QUICK_DNS = ("--dns", f"{SUBNETS['dockerd']}1", "--dns-opt", "timeout:1", "--dns-opt", "attempts:2")


@pytest.fixture(scope="module")
def daemons(busybox_archive: Path) -> Iterator[tuple[DaemonProcess, Dockerd]]:
    """A dockyard daemon and a private dockerd, each on a bridge of its own."""
    skip_unless_root()
    dockyard = DaemonProcess(None, "--bip", f"{SUBNETS['dockyard']}1/24")
    subprocess.run(["ip", "link", "add", BRIDGE, "type", "bridge"], check=True)
    dockerd = None
    try:
        subprocess.run(["ip", "addr", "add", f"{SUBNETS['dockerd']}1/24", "dev", BRIDGE], check=True)
        dockerd = start_dockerd(extra_args=("--bridge", BRIDGE, *QUICK_DNS))
        dockyard.start().load(busybox_archive)
        _ok(DockerCLI(dockerd.host)("load", "-i", str(busybox_archive)))
        yield dockyard, dockerd
    finally:
        dockyard.cleanup()
        if dockerd is not None:
            _remove_all(DockerCLI(dockerd.host))
            stop_dockerd(dockerd)
        subprocess.run(["ip", "link", "del", BRIDGE], check=False)


@pytest.fixture(scope="module")
def sides(daemons: tuple[DaemonProcess, Dockerd]) -> Iterator[dict[str, tuple[DockerCLI, Any]]]:
    """The docker CLI and a docker-py client against each daemon."""
    dockyard, dockerd = daemons
    clients = [dockyard.client(), dockerd.client()]
    try:
        yield {"dockyard": (DockerCLI(dockyard.host), clients[0]),
               "dockerd": (DockerCLI(dockerd.host), clients[1])}
    finally:
        for client in clients:
            client.close()


def _remove_all(cli: DockerCLI) -> None:
    for cid in cli("ps", "-aq").stdout.split():
        cli("rm", "-f", cid)
    cli("network", "rm", NETWORK)


@pytest.fixture
def clean(sides: dict[str, tuple[DockerCLI, Any]]) -> Iterator[dict[str, tuple[DockerCLI, Any]]]:
    yield sides
    for cli, _client in sides.values():
        _remove_all(cli)


def _ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _same(seen: dict[str, Any], side: str, cli: DockerCLI) -> Any:
    """``seen[side]`` with the side's addresses and the ids of its containers made neutral."""
    text = json.dumps(seen[side]).replace(SUBNETS[side], "NET.")
    for line in cli("ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}}").stdout.splitlines():
        cid, names = line.split()
        name = names.split(",")[0]  # dockerd's ps adds a child's link names ("web,par/w")
        text = text.replace(cid, f"<{name}>").replace(cid[:12], f"<{name}>")
    return json.loads(re.sub(r"(?<![0-9a-f])[0-9a-f]{12}(?![0-9a-f])", "<id>", text))


def _compare(seen: dict[str, Any], sides: dict[str, tuple[DockerCLI, Any]]) -> Any:
    out = {side: _same(seen, side, cli) for side, (cli, _client) in sides.items()}
    assert out["dockyard"] == out["dockerd"]
    return out["dockerd"]


def _web(client: Any) -> None:
    """The child: variables (a bare one too) and exposed ports, sent in one order to both (the
    docker CLI's ``-e`` list comes out in an order of its own each time)."""
    api = client.api
    made = api.create_container("busybox", ["sleep", "300"], name="web",
                                environment=["FOO=bar", "SP=a b", "BARE"],
                                ports=[80, (53, "udp"), 8080, 8081])
    api.start(made["Id"])


def test_hosts_and_variables_of_a_linker_as_dockerd(clean: dict[str, tuple[DockerCLI, Any]]) -> None:
    seen: dict[str, Any] = {}
    for side, (cli, client) in clean.items():
        _web(client)
        _ok(cli("run", "-d", "--name", "ports", "--expose", "7000/tcp", "--expose", "7000/udp",
                "--expose", "7001", "-h", "porthost", "busybox", "sleep", "300"))
        hosts = _ok(cli("run", "--rm", "--name", "lnk", "--link", "web:w", "--link", "ports",
                        "--add-host", "foo:1.2.3.4", "busybox", "cat", "/etc/hosts")).splitlines()
        environ = _ok(cli("run", "--rm", "--name", "lnk2", "-t", "--link", "ports:p", "--link", "web:Web-x",
                          "-e", "ZZ=1", "-e", "P_NAME=mine", "busybox", "cat", "/proc/1/environ"))
        py = client.containers.run("busybox", ["sh", "-c", "tail -2 /etc/hosts; env | sort"],
                                   links={"web": "w"}, name="pylnk", remove=True).decode()
        links = sorted(hosts[7:-1])  # dockerd writes them as a Go map iterates: at random
        seen[side] = [[hosts[6], *links, hosts[-1]], _by_link(environ.strip().split("\0")), py.splitlines()]
    hosts, environ, py = _compare(seen, clean)
    assert hosts == ["1.2.3.4\tfoo", "NET.2\tw <web> web", "NET.3\tports porthost", "NET.4\t<id>"]
    assert environ[:3] == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                           "HOSTNAME=<id>", "TERM=xterm"]
    assert "P_NAME=mine" in environ and "P_PORT_7000_TCP_END=tcp://NET.3:7001" in environ
    assert "W_NAME=/pylnk/w" in py and "W_ENV_SP=a b" in py and not any("BARE" in v for v in py)


def _by_link(environ: list[str]) -> list[str]:
    """dockerd orders links as a Go map iterates (at random): each link's run of variables
    (P_…, WEB_X_…) sorted as a block, the rest kept in place."""
    blocks: dict[str, list[str]] = {}
    for item in environ:
        prefix = next((p for p in ("P_", "WEB_X_") if item.startswith(p) and item != "P_NAME=mine"), "")
        blocks.setdefault(prefix, []).append(item)
    rest = blocks.pop("", [])
    return rest[:3] + [v for p in sorted(blocks) for v in blocks[p]] + rest[3:]


def test_inspect_exec_and_rm_link_as_dockerd(clean: dict[str, tuple[DockerCLI, Any]]) -> None:
    seen: dict[str, Any] = {}
    for side, (cli, client) in clean.items():
        _web(client)
        _ok(cli("run", "-d", "--name", "db", "-h", "dbhost", "busybox", "sleep", "300"))
        _ok(cli("run", "-d", "--name", "par", "--link", "web:w", "--link", "db:w", "--link", "db",
                "busybox", "sleep", "300"))
        links = sorted(client.api.inspect_container("par")["HostConfig"]["Links"])
        env = sorted(v for v in _ok(cli("exec", "par", "env")).splitlines() if v.startswith(("W_", "DB_")))
        removals = [(d.returncode, d.stdout.strip(), d.stderr.strip()) for d in
                    (cli("rm", "--link", "/par/w"), cli("rm", "--link", "par/w"), cli("rm", "--link", "web"),
                     cli("rm", "--link", "nope"))]
        after = [client.api.inspect_container("par")["HostConfig"]["Links"],
                 _ok(cli("exec", "par", "cat", "/etc/hosts")).splitlines()[6:],
                 client.api.inspect_container("web")["State"]["Running"]]
        seen[side] = [links, env, removals, after]
    links, env, removals, after = _compare(seen, clean)
    assert links == ["/db:/par/db", "/web:/par/w"]  # the second "w" dropped without a word
    assert "W_NAME=/par/w" in env and "DB_NAME=/par/db" in env
    assert removals == [
        [0, "/par/w", ""], [1, "", "Error response from daemon: No such container: par/w"],
        [1, "", "Error response from daemon: Conflict, cannot remove the default link name of the container"],
        [1, "", "Error response from daemon: No such container: nope"]]
    assert after == [["/db:/par/db"], ["NET.3\tdb dbhost", "NET.4\t<par>"], True]


def test_refusals_as_dockerd(clean: dict[str, tuple[DockerCLI, Any]]) -> None:
    seen: dict[str, Any] = {}
    for side, (cli, client) in clean.items():
        _web(client)
        _ok(cli("run", "-d", "--name", "hostc", "--network", "host", "busybox", "sleep", "300"))
        _ok(cli("run", "-d", "--name", "nonec", "--network", "none", "busybox", "sleep", "300"))
        _ok(cli("create", "--name", "stopped", "busybox", "true"))
        api = client.api
        at_create = []
        for hc in ({"Links": ["nope"]}, {"Links": ["a:b:c"]}, {"Links": [""]},
                   {"Links": ["hostc:h"]}, {"NetworkMode": "host", "Links": ["web:w"]},
                   {"NetworkMode": "container:web", "Links": ["web:w"]},
                   {"NetworkMode": "none", "Links": ["nope"]}):
            try:
                api.create_container("busybox", "true", host_config={"NetworkMode": "default", **hc})
                at_create.append("created")
            except docker.errors.APIError as exc:
                at_create.append([exc.status_code, exc.explanation])
        at_start = []
        for child in ("nonec", "stopped"):
            _ok(cli("create", "--name", f"to-{child}", "--link", f"{child}:c", "busybox", "true"))
            done = cli("start", f"to-{child}")
            state = client.api.inspect_container(f"to-{child}")["State"]
            at_start.append([done.returncode, done.stderr.strip(), state["Status"], state["ExitCode"],
                             state["Error"]])
        on_none = cli("run", "--rm", "--network", "none", "--link", "stopped:c", "busybox", "cat", "/etc/hosts")
        seen[side] = [at_create, at_start, on_none.returncode,
                      len(cli("ps", "-a", "-q").stdout.split())]
    at_create, at_start, on_none, count = _compare(seen, clean)
    conflict = "This would result in undefined behavior"
    assert at_create == [
        [400, "could not get container for nope: No such container: nope"],
        [500, "bad format for links: a:b:c"], [500, "empty string specified for links"],
        [400, f"conflicting options: host type networking can't be used with links. {conflict}"],
        [400, f"conflicting options: host type networking can't be used with links. {conflict}"],
        [400, f"conflicting options: container type network can't be used with links. {conflict}"],
        [400, "could not get container for nope: No such container: nope"]]
    not_running = "Cannot link to a non running container: /stopped AS /to-stopped/c"
    assert at_start[1][1:] == [
        f"Error response from daemon: {not_running}\nError: failed to start containers: to-stopped",
        "created", 128, not_running]
    assert at_start[0][4] == "Cannot link to /nonec, as it does not belong to the default network"
    assert (on_none, count) == (0, 6)


def test_a_childs_restart_and_removal_as_dockerd(clean: dict[str, tuple[DockerCLI, Any]]) -> None:
    seen: dict[str, Any] = {}
    for side, (cli, client) in clean.items():
        _web(client)
        _ok(cli("run", "-d", "--name", "par", "--link", "web:w", "busybox", "sleep", "300"))
        hosts = Path(client.api.inspect_container("par")["HostsPath"])
        _ok(cli("stop", "-t0", "web"))
        _ok(cli("run", "-d", "--name", "thief", "busybox", "sleep", "300"))  # web's address
        stopped = [hosts.read_text().splitlines()[6:], cli("exec", "par", "true").stderr.strip()]
        _ok(cli("start", "web"))
        started = hosts.read_text().splitlines()[6:]
        _ok(cli("rm", "-f", "web"))
        removed = [client.api.inspect_container("par")["HostConfig"]["Links"],
                   cli("exec", "par", "true").stderr.strip(), cli("rm", "--link", "/par/w").stderr.strip()]
        _ok(cli("stop", "-t0", "par"))
        removed.append(cli("start", "par").stderr.strip().splitlines()[0])
        seen[side] = [stopped, started, removed]
    stopped, started, removed = _compare(seen, clean)
    refused = "Error response from daemon: Cannot link to a non running container: /web AS /par/w"
    assert stopped == [["NET.2\tw <id> web", "NET.3\t<par>"], refused]
    assert started == ["NET.4\tw <id> web", "NET.3\t<par>"]
    assert removed == [["/web:/par/w"], refused, "Error response from daemon: No such container: par/w",
                       refused]


def test_links_on_a_user_defined_network_as_dockerd(clean: dict[str, tuple[DockerCLI, Any]]) -> None:
    seen: dict[str, Any] = {}
    for side, (cli, client) in clean.items():
        _ok(cli("network", "create", NETWORK))
        _ok(cli("run", "-d", "--name", "child", "--network", NETWORK, "busybox", "sleep", "300"))
        _ok(cli("run", "-d", "--name", "linker", "--network", NETWORK, "--link", "child:o",
                "--link", "nope:n", "busybox", "sleep", "300"))
        _ok(cli("run", "-d", "--name", "other", "--network", NETWORK, "busybox", "sleep", "300"))
        py = client.containers.run("busybox", "sleep 300", name="py", network=NETWORK,
                                   links={"child": "o"}, detach=True)
        pings = [cli("exec", name, "ping", "-c1", "-W5", "o").returncode for name in ("linker", "other", "py")]
        shown = client.api.inspect_container("linker")
        seen[side] = [pings, shown["HostConfig"]["Links"], shown["NetworkSettings"]["Networks"][NETWORK]["Links"],
                      [v for v in _ok(cli("exec", "linker", "env")).splitlines() if v.startswith("O_")],
                      client.api.inspect_container(py.id)["HostConfig"]["Links"], _bad_link(client.api)]
    assert _compare(seen, clean) == [
        [0, 1, 1], None, ["child:o", "nope:n"], [], None,
        ["created", 500, "bad format for links: a:b:c"]]


def _bad_link(api: Any) -> list[Any]:
    """An endpoint's link that does not parse (the docker CLI refuses it itself): taken at
    create, refused at the start."""
    made = api.create_container(
        "busybox", "true", host_config=api.create_host_config(network_mode=NETWORK),
        networking_config=api.create_networking_config(
            {NETWORK: api.create_endpoint_config(links={"a:b": "c"})}))
    with pytest.raises(docker.errors.APIError) as caught:
        api.start(made["Id"])
    return ["created", caught.value.status_code, caught.value.explanation]


# ---- a daemon restart -------------------------------------------------------------------------
# Names no container id can start with: dockerd looks a link's child up as any name, so a
# missing name would be taken as an id prefix (hex) after the restart.
LINKERS = {"p1": ["ch1:al"], "p2": ["ch2:al"], "p3": ["ch3:al"],
           "p4": ["ch4a:a", "ch4g:g", "ch4b:b"], "p5": ["ch1:al"], "p6": ["ch6:al"], "p7": ["ch7:al"]}
# dockerd's stop stops each running container with its stop signal and timeout: a sleep as
# PID 1 ignores SIGTERM, and 10 s later it is SIGKILLed. Stopped with SIGKILL it goes at once,
# with the same exit (137).
KILLED = ("--stop-signal", "KILL")
SEEN_INSIDE = ("sed -n '7,$p' /etc/hosts | grep -v \"$(hostname)\"; "
               "env | grep -E '^[A-Z0-9_]+_(NAME|ENV_[A-Z]+)=' | sort")


def _links_of(cli: DockerCLI) -> dict[str, Any]:
    shown = {p: json.loads(_ok(cli("inspect", "-f", "{{json .HostConfig.Links}}", p))) for p in LINKERS}
    return {p: sorted(links) if links else links for p, links in shown.items()}  # a Go map's order


def _restart(side: str, daemons: tuple[DaemonProcess, Dockerd]) -> None:
    if side == "dockyard":
        daemons[0].restart()  # its containers keep running
    else:
        restart_dockerd(daemons[1])  # its containers stop (no live-restore)


def _addresses_named(text: str, cli: DockerCLI) -> str:
    """Each container's address as ``<ip name>``: dockerd's restarted children take addresses
    anew, dockyard's kept theirs."""
    for cid in _ok(cli("ps", "-q")).split():
        name, ip = _ok(cli("inspect", "-f", "{{.Name}} {{.NetworkSettings.Networks.bridge.IPAddress}}",
                           cid)).split()
        text = text.replace(f"{ip}\t", f"<ip {name.lstrip('/')}>\t")
    return text


def test_links_after_a_daemon_restart_as_dockerd(daemons: tuple[DaemonProcess, Dockerd],
                                                 clean: dict[str, tuple[DockerCLI, Any]]) -> None:
    """dockerd's restore registers every container's links anew from HostConfig.Links by the
    children's names: a child removed and re-created (or renamed, another taking its name) is
    linked again, one whose name is gone is dropped and so is every link after it, and a link
    ``docker rm --link`` dropped comes back (HostConfig.Links keeps it)."""
    seen: dict[str, Any] = {}
    for side, (cli, _client) in clean.items():
        for child in ("ch1", "ch2", "ch3", "ch4a", "ch4g", "ch4b", "ch6", "ch7"):
            _ok(cli("run", "-d", "--name", child, *KILLED, "busybox", "sleep", "300"))
        for linker, values in LINKERS.items():
            flags = [arg for value in values for arg in ("--link", value)]
            _ok(cli("create", "--name", linker, *flags, "busybox", "sh", "-c", SEEN_INSIDE))
        for argv in (["rm", "-f", "ch2"], ["run", "-d", "--name", "ch2", "-e", "NEW=1", *KILLED, "busybox", "sleep",
                                           "300"],
                     ["rm", "-f", "ch3"], ["rm", "-f", "ch4g"], ["rm", "--link", "/p5/al"],
                     ["rename", "ch6", "ch6old"],
                     ["run", "-d", "--name", "ch6", "-e", "WHO=new", *KILLED, "busybox", "sleep", "300"],
                     ["rename", "ch7", "ch7old"]):
            _ok(cli(*argv))
        before = _links_of(cli)
        _restart(side, daemons)
        for child in ("ch1", "ch2", "ch4a", "ch4b", "ch6", "ch6old", "ch7old"):
            _ok(cli("start", child))
        after = _links_of(cli)
        inside = {p: _addresses_named(_ok(cli("start", "-a", p)), cli) for p in LINKERS}
        seen[side] = [before, after, inside]
    before, after, inside = _compare(seen, clean)
    assert before == {"p1": ["/ch1:/p1/al"], "p2": ["/ch2:/p2/al"], "p3": ["/ch3:/p3/al"],
                      "p4": ["/ch4a:/p4/a", "/ch4b:/p4/b", "/ch4g:/p4/g"], "p5": None,
                      "p6": ["/ch6old:/p6/al"], "p7": ["/ch7old:/p7/al"]}
    assert after == {"p1": ["/ch1:/p1/al"], "p2": ["/ch2:/p2/al"], "p3": None, "p4": ["/ch4a:/p4/a"],
                     "p5": ["/ch1:/p5/al"], "p6": ["/ch6:/p6/al"], "p7": None}
    assert inside == {
        "p1": "<ip ch1>\tal <ch1> ch1\nAL_NAME=/p1/al", "p2": "<ip ch2>\tal <ch2> ch2\nAL_ENV_NEW=1\nAL_NAME=/p2/al",
        "p3": "", "p4": "<ip ch4a>\ta <ch4a> ch4a\nA_NAME=/p4/a", "p5": "<ip ch1>\tal <ch1> ch1\nAL_NAME=/p5/al",
        "p6": "<ip ch6>\tal <ch6> ch6\nAL_ENV_WHO=new\nAL_NAME=/p6/al", "p7": ""}


def test_inspect_of_a_links_name_as_dockerd(clean: dict[str, tuple[DockerCLI, Any]]) -> None:
    """A link's name (``linker/alias``, a "/" in it) names its child: dockerd's inspect route
    takes a name with slashes (``/containers/{name:.*}/json``), escaped or not."""
    seen: dict[str, Any] = {}
    for side, (cli, client) in clean.items():
        _web(client)
        _ok(cli("run", "-d", "--name", "par", "--link", "web:w", "busybox", "sleep", "300"))
        said = [[d.returncode, d.stdout.strip(), d.stderr.strip()] for d in (
            cli("inspect", "-f", "{{.Name}}", "par/w"), cli("inspect", "-f", "{{.Name}}", "/par/w"),
            cli("container", "inspect", "-f", "{{.Name}}", "par/w"),
            cli("inspect", "--type", "container", "-f", "{{.Name}}", "par/w"),
            cli("inspect", "par/nope"), cli("inspect", "web/w"), cli("container", "inspect", "par/nope"))]
        api = client.api
        raw = [api._get(api.base_url + f"/v1.41/containers/{path}/json") for path in ("par/w", "par%2Fw",
                                                                                     "par/nope")]
        seen[side] = [said, api.inspect_container("par/w")["Name"],
                      [[r.status_code, r.json().get("Name", r.json().get("message"))] for r in raw]]
    said, py, raw = _compare(seen, clean)
    assert said == [[0, "/web", ""]] * 4 + [
        [1, "[]", "Error: No such object: par/nope"], [1, "[]", "Error: No such object: web/w"],
        [1, "[]", "Error response from daemon: No such container: par/nope"]]
    assert py == "/web"
    assert raw == [[200, "/web"], [200, "/web"], [404, "No such container: par/nope"]]


def test_a_childs_names_in_ps_as_dockerd(clean: dict[str, tuple[DockerCLI, Any]]) -> None:
    """dockerd's name index names a child by its links too: ``GET /containers/json`` lists
    them among its Names, sorted, and ``docker ps --no-trunc`` shows ``web,par/w`` (without
    --no-trunc the CLI keeps the plain name); a link's name goes with ``rm --link`` and with
    its linker, and follows the linker's rename."""
    seen: dict[str, Any] = {}
    for side, (cli, client) in clean.items():
        _web(client)
        _ok(cli("run", "-d", "--name", "par", "--link", "web:w", "--link", "web:x", "busybox",
                "sleep", "300"))
        _ok(cli("run", "-d", "--name", "apar", "--link", "web:w", "busybox", "sleep", "300"))
        names = [[c["Names"] for c in client.api.containers(all=True)]]
        shown = [_ok(cli("ps", "-a", "--no-trunc", "--format", "{{.Names}}")),
                 _ok(cli("ps", "-a", "--format", "{{.Names}}"))]
        _ok(cli("rm", "--link", "par/x"))
        _ok(cli("rename", "apar", "zpar"))
        names.append(client.api.containers(filters={"name": "web"})[0]["Names"])
        _ok(cli("rm", "-f", "par"))
        names.append(client.api.containers(filters={"name": "web"})[0]["Names"])
        seen[side] = [names, shown]
    names, shown = _compare(seen, clean)
    assert names == [[["/apar"], ["/par"], ["/apar/w", "/par/w", "/par/x", "/web"]],
                     ["/par/w", "/web", "/zpar/w"], ["/web", "/zpar/w"]]
    assert shown == ["apar\npar\napar/w,par/w,par/x,web", "apar\npar\nweb"]


def test_a_links_name_on_every_container_route_as_dockerd(
        clean: dict[str, tuple[DockerCLI, Any]]) -> None:
    """dockerd's container routes take a name with "/" (``{name:.*}``): a link's name names
    its child in a stop, start, restart, kill, wait, logs, top, the CLI's as well."""
    seen: dict[str, Any] = {}
    for side, (cli, client) in clean.items():
        _web(client)
        _ok(cli("run", "-d", "--name", "par", "--link", "web:w", "busybox", "sleep", "300"))
        api = client.api
        api.stop("par/w", timeout=0)
        done = [api.wait("par/w")["StatusCode"], api.inspect_container("web")["State"]["Running"]]
        api.start("par/w")
        api.restart("par/w", timeout=0)
        done += [api.top("par/w")["Titles"][:2], api.logs("par/w").decode(), api.kill("par/w", "SIGKILL")]
        done += [cli("logs", "par/w").returncode, _ok(cli("start", "par/w")),
                 _ok(cli("stop", "-t", "0", "par/w")), api.inspect_container("web")["State"]["Running"]]
        seen[side] = done
    done = _compare(seen, clean)
    assert done == [137, False, ["UID", "PID"], "", None, 0, "par/w", "par/w", False]


STOPPED_ROUTES: list[tuple[str, str, str, Any]] = [  # what, method, route, query or JSON body
    ("unpause", "post", "/unpause", None), ("pause", "post", "/pause", None),
    ("update", "json", "/update", {"CpuShares": 512}), ("resize", "post", "/resize", {"h": 10, "w": 20}),
    ("kill", "post", "/kill", None), ("stop", "post", "/stop", {"t": 0}),
    ("exec", "json", "/exec", {"Cmd": ["true"], "AttachStdout": True}), ("top", "get", "/top", None),
    ("stats", "get", "/stats", {"stream": 0}), ("logs", "get", "/logs", {"stdout": 1, "stderr": 1}),
    ("attach", "post", "/attach", {"stream": 0, "logs": 1, "stdout": 1}),
    ("restart", "post", "/restart", {"t": 0})]


def _stopped_route(api: Any, name: str, method: str, route: str, given: Any) -> list[Any]:
    """One request by ``name``: its status and body (JSON decoded, else the text)."""
    url = api._url("/containers/{0}" + route, name)
    if method == "json":
        answer = api._post_json(url, data=given)
    else:
        answer = getattr(api, f"_{method}")(url, params=given)
    try:
        return [answer.status_code, answer.json()]
    except ValueError:
        return [answer.status_code, answer.text]


def test_a_stopped_childs_routes_by_its_links_name_as_dockerd(
        clean: dict[str, tuple[DockerCLI, Any]]) -> None:
    """A stopped child, by its link's name (``par/w``) and by its own: each route answers
    as by the plain name (kill's words name it as given), in dockerd's status and words — unpause 500 'is not paused',
    resize 409 'is not running' as pause, kill, exec and top, update 200, stop 304, stats
    a zero sample, logs and a ``stream=0`` attach empty, restart 204 (a ``stream=1`` attach
    stays open on both: the docker CLI refuses before it asks)."""
    seen: dict[str, Any] = {}
    for side, (cli, client) in clean.items():
        _web(client)
        _ok(cli("run", "-d", "--name", "par", "--link", "web:w", "busybox", "sleep", "300"))
        api = client.api
        answers = {}
        for name in ("par/w", "web"):
            api.stop("web", timeout=0)
            answers[name] = [_stopped_route(api, name, *route[1:]) for route in STOPPED_ROUTES]
        said = [[d.returncode, d.stdout.strip(), d.stderr.strip()] for d in (
            cli("unpause", "par/w"), cli("stop", "-t", "0", "par/w"), cli("attach", "par/w"))]
        seen[side] = [answers, said]
    answers, said = _compare(seen, clean)  # (the child's id reads <par/w>: its first ps name)
    by_route = dict(zip([route[0] for route in STOPPED_ROUTES], answers["web"], strict=True))
    by_link = dict(zip([route[0] for route in STOPPED_ROUTES], answers["par/w"], strict=True))
    assert by_link.pop("kill") == [409, {"message": "Cannot kill container: par/w: Container <par/w> "
                                                    "is not running"}]  # the name as given
    assert by_link == {what: answer for what, answer in by_route.items() if what != "kill"}
    assert by_route["unpause"] == [500, {"message": "Container <par/w> is not paused"}]
    assert by_route["resize"] == [409, {"message": "Container <par/w> is not running"}]
    assert by_route["kill"] == [409, {"message": "Cannot kill container: web: Container <par/w> is not running"}]
    assert by_route["update"] == [200, {"Warnings": None}]
    assert [by_route[what][0] for what in ("stop", "logs", "attach", "restart")] == [304, 200, 200, 204]
    assert said == [[1, "", "Error response from daemon: Container <par/w> is not paused"],
                    [0, "par/w", ""], [1, "", "You cannot attach to a stopped container, start it first"]]
