"""Legacy links' pure rules (containers/links.py, create.merged_env), as dockerd 20.10 makes
them: the variables a parent gets (recorded from a private dockerd: see the interop test), the
parsing of ``--link`` values, the /etc/hosts names and the process environment's order."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from dockyard.containers import links
from dockyard.containers.create import merged_env
from dockyard.errors import DockyardError, InvalidArgument, NotFound

IP = "10.253.81.2"


def test_env_of_a_child_with_ports_and_variables() -> None:
    """dockerd 20.10's list for ``--link web:w`` (web: -e FOO=bar -e 'SP=a b' -e B, --expose
    80, 53/udp, 8080-8081; its image's PATH): the lowest port first (udp 53), two contiguous
    ports are no range, HOME/PATH and a bare name are not passed on."""
    exposed = {"80/tcp": {}, "53/udp": {}, "8080/tcp": {}, "8081/tcp": {}}
    child_env = ["FOO=bar", "SP=a b", "B", "PATH=/bin", "HOME=/root"]
    assert links.env("/linker/w", IP, child_env, exposed) == [
        f"W_PORT=udp://{IP}:53",
        f"W_PORT_53_UDP=udp://{IP}:53", f"W_PORT_53_UDP_ADDR={IP}", "W_PORT_53_UDP_PORT=53",
        "W_PORT_53_UDP_PROTO=udp",
        f"W_PORT_80_TCP=tcp://{IP}:80", f"W_PORT_80_TCP_ADDR={IP}", "W_PORT_80_TCP_PORT=80",
        "W_PORT_80_TCP_PROTO=tcp",
        f"W_PORT_8080_TCP=tcp://{IP}:8080", f"W_PORT_8080_TCP_ADDR={IP}",
        "W_PORT_8080_TCP_PORT=8080", "W_PORT_8080_TCP_PROTO=tcp",
        f"W_PORT_8081_TCP=tcp://{IP}:8081", f"W_PORT_8081_TCP_ADDR={IP}",
        "W_PORT_8081_TCP_PORT=8081", "W_PORT_8081_TCP_PROTO=tcp",
        "W_NAME=/linker/w", "W_ENV_FOO=bar", "W_ENV_SP=a b"]


def test_env_of_a_range_counts_each_entry_as_dockerd() -> None:
    """7000/tcp, 7000/udp, 7001/tcp: tcp first among equal numbers, and dockerd's
    nextContiguous counts one per entry, so the three are a run 7000–7001 (its order, as
    /proc/1/environ showed it under dockerd once Go's setenv dropped the repeated _ADDR)."""
    out = links.env("/lk5/p", IP, [], ["7000/tcp", "7000/udp", "7001/tcp"])
    assert out[:7] == [
        f"P_PORT=tcp://{IP}:7000", f"P_PORT_7000_TCP_START=tcp://{IP}:7000",
        f"P_PORT_7000_TCP_ADDR={IP}", "P_PORT_7000_TCP_PROTO=tcp", "P_PORT_7000_TCP_PORT_START=7000",
        f"P_PORT_7000_TCP_END=tcp://{IP}:7001", "P_PORT_7000_TCP_PORT_END=7001"]
    assert out[7:9] == [f"P_PORT_7000_TCP=tcp://{IP}:7000", f"P_PORT_7000_TCP_ADDR={IP}"]
    assert out[-1] == "P_NAME=/lk5/p"
    assert len(out) == 7 + 4 * 3 + 1


def test_env_alias_is_upper_case_with_underscores_and_no_ports() -> None:
    assert links.env("/lk2/Web-x", IP, ["A=1=2"], {}) == ["WEB_X_NAME=/lk2/Web-x", "WEB_X_ENV_A=1=2"]


def test_env_range_end_takes_the_last_entry_protocol() -> None:
    """5000-5002/tcp and 5000/udp: the run's end is 5002/tcp (the fourth entry)."""
    out = links.env("/p/db", IP, [], ["5000/tcp", "5001/tcp", "5002/tcp", "5000/udp"])
    assert f"DB_PORT_5000_TCP_END=tcp://{IP}:5002" in out and "DB_PORT_5000_TCP_PORT_END=5002" in out
    assert not any("5001_TCP_START" in v for v in out)


@pytest.mark.parametrize(("value", "parsed"), [
    ("web", ("web", "web")), ("web:w", ("web", "w")), ("/web:/par/w", ("web", "w")),
])
def test_parse(value: str, parsed: tuple[str, str]) -> None:
    assert links.parse(value) == parsed


@pytest.mark.parametrize(("value", "words"), [
    ("", "empty string specified for links"), ("a:b:c", "bad format for links: a:b:c"),
])
def test_parse_refuses_with_dockerds_500(value: str, words: str) -> None:
    with pytest.raises(DockyardError) as caught:
        links.parse(value)
    assert str(caught.value) == words and caught.value.status == 500


def test_names_in_hosts_and_inspect() -> None:
    assert links.host_names("w", "8713d2f4a908", "/web") == "w 8713d2f4a908 web"
    assert links.host_names("my-db", "dbhost", "/my-db") == "my-db dbhost"
    assert links.inspect_form([("/my-db", "db"), ("/web", "web")], "/lk3") == \
        ["/my-db:/lk3/db", "/web:/lk3/web"]
    assert links.inspect_form([], "/lk3") is None
    assert links.split_name("/par/w") == ("/par", "w") == links.split_name("par/w")
    assert links.split_name("web") == ("", "web")


def test_user_defined_modes() -> None:
    assert [m for m in ("", "default", "bridge", "host", "none", "container:x", "un1")
            if links.user_defined(m)] == ["un1"]


def _record(name: str, links_: list[list[str]] | None = None, mode: str = "default",
            running: bool = True, networks: tuple[str, ...] = ("bridge",), ip: str = IP,
            **config: object) -> SimpleNamespace:
    return SimpleNamespace(
        id=name.strip("/") + "-id", name=name, links=links_ if links_ is not None else [],
        host_config={"NetworkMode": mode, "Links": None}, running=running,
        config={"Hostname": name.strip("/") + "-host", **config},
        network_settings={"Networks": {n: {"IPAddress": ip if n == "bridge" else ""}
                                       for n in networks}})


def _getter(*records: SimpleNamespace) -> links.Get:
    by = {key: r for r in records for key in (r.id, r.name, r.name.strip("/"))}

    def get(name: str) -> SimpleNamespace:
        if name not in by:
            raise NotFound(f"No such container: {name}")
        return by[name]
    return get


def test_register_keeps_the_first_of_two_links_with_one_alias_and_follows_a_joined_child() -> None:
    web, db = _record("/web"), _record("/db")
    joined = _record("/joined", mode="container:web")
    parent = _record("/par")
    parent.host_config["Links"] = ["web:x", "db:x", "joined:j"]
    links.register(parent, _getter(web, db, joined))
    assert parent.links == [["x", "web-id", "/web"], ["j", "web-id", "/web"]]


def test_register_refusals() -> None:
    parent = _record("/par")
    parent.host_config["Links"] = ["nope:n"]
    with pytest.raises(InvalidArgument, match="^could not get container for nope: No such container: nope$"):
        links.register(parent, _getter())
    parent.host_config["Links"] = ["hostc"]
    with pytest.raises(InvalidArgument, match="host type networking"):
        links.register(parent, _getter(_record("/hostc", mode="host")))
    parent.host_config.update(NetworkMode="un1", Links=["nope:n"])  # the endpoint's business
    links.register(parent, _getter())
    assert parent.links == []


def test_reregister_links_by_name_now_and_stops_at_the_first_missing_child() -> None:
    web, db = _record("/web"), _record("/db")
    parent = _record("/par", [["w", "old-web-id", "/web"], ["gone", "x-id", "/x"]])
    parent.host_config["Links"] = ["web:w", "db:d"]  # the links kept before are replaced
    assert links.reregister(parent, _getter(web, db)) is None
    assert parent.links == [["w", "web-id", "/web"], ["d", "db-id", "/db"]]
    parent.host_config["Links"] = ["web:w", "x:g", "db:d"]
    assert links.reregister(parent, _getter(web, db)) == \
        "could not get container for x: No such container: x"
    assert parent.links == [["w", "web-id", "/web"]]  # db's too is dropped, as dockerd's


def test_resolve_refuses_in_dockerds_order_and_names_a_removed_child() -> None:
    web, on_none = _record("/web", running=False), _record("/nonec", networks=("none",))
    parent = _record("/par", [["w", "web-id", "/web"], ["n", "nonec-id", "/nonec"]])
    with pytest.raises(DockyardError, match="^Cannot link to /nonec, as it does not belong to the default network$"):
        links.resolve(parent, _getter(web, on_none))
    parent.links = [["w", "gone-id", "/web"]]
    with pytest.raises(DockyardError, match=r"^Cannot link to a non running container: /web AS /par/w$"):
        links.resolve(parent, _getter())
    with pytest.raises(DockyardError, match="non running"):
        links.exec_env(parent, _getter())
    off_bridge = _record("/par", [["w", "gone-id", "/web"]], networks=("none",))
    assert links.resolve(off_bridge, _getter()) == links.Resolved([], [])


def test_resolve_gives_variables_and_hosts_entries() -> None:
    web = _record("/web", Env=["FOO=bar"], ExposedPorts={"80/tcp": {}})
    parent = _record("/par", [["w", "web-id", "/old-name"]])
    resolved = links.resolve(parent, _getter(web))
    assert resolved.env == [f"W_PORT=tcp://{IP}:80", f"W_PORT_80_TCP=tcp://{IP}:80",
                            f"W_PORT_80_TCP_ADDR={IP}", "W_PORT_80_TCP_PORT=80",
                            "W_PORT_80_TCP_PROTO=tcp", "W_NAME=/par/w", "W_ENV_FOO=bar"]
    assert resolved.hosts == [links.HostEntry(IP, "", "w", "w web-host web", "web-id")]
    assert parent.links == [["w", "web-id", "/web"]]  # the name as last seen
    assert links.shown(parent, _getter(web)) == ["/web:/par/w"]
    assert links.shown(parent, _getter()) == ["/web:/par/w"]  # removed: its last name


def test_unlink() -> None:
    parent = _record("/par", [["w", "web-id", "/web"], ["db", "db-id", "/db"]])
    assert links.unlink(parent, "w") and parent.links == [["db", "db-id", "/db"]]
    assert not links.unlink(parent, "w")


def test_merged_env_puts_dockerds_variables_first_and_the_containers_in_place() -> None:
    ours = ["PATH=/usr/bin", "HOSTNAME=abc", "TERM=xterm", "P_ADDR=1", "P_NAME=/x/p", "P_ADDR=2", "Q=1"]
    env = ["ZZ=1", "P_NAME=mine", "HOSTNAME=hh", "PATH=/bin", "Q", "LATE=1", "LATE=2"]
    assert merged_env(ours, env) == ["PATH=/bin", "HOSTNAME=hh", "TERM=xterm", "P_ADDR=2",
                                     "P_NAME=mine", "ZZ=1", "LATE=2"]
    assert merged_env([], ["A=1", "B", "A=2"]) == ["A=2"]
