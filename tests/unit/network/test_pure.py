"""The network package's pure parts: IPAM, port specs, /etc files, filters and JSON shapes."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import re
from pathlib import Path

import pytest

from dockyard.errors import DockyardError, InvalidArgument
from dockyard.network import files, ipam, ports
from dockyard.network.errors import NetworkForbidden
from dockyard.network.state import Endpoint, Network, Sandbox, State


def test_mac_is_derived_from_the_ip_as_dockerd_does() -> None:
    assert ipam.mac_for(ipaddress.IPv4Address("172.17.0.2")) == "02:42:ac:11:00:02"


def test_a_gateway_not_given_is_its_ranges_first_free_address() -> None:
    net = ipam.IPv4Net("10.0.0.0/24")
    assert str(ipam.default_gateway(net)) == "10.0.0.1"
    assert str(ipam.default_gateway(net, ipam.IPv4Net("10.0.0.0/25"))) == "10.0.0.1"  # .0: held
    assert str(ipam.default_gateway(net, ipam.IPv4Net("10.0.0.64/26"))) == "10.0.0.64"
    assert str(ipam.default_gateway(net, ipam.IPv4Net("10.9.0.64/26"))) == "10.0.0.64"  # offsets
    v6 = ipaddress.IPv6Network("fd00:1::/64")
    assert str(ipam.default_gateway(v6)) == "fd00:1::1"
    assert str(ipam.default_gateway(v6, ipaddress.IPv6Network("fd00:1::100/120"))) == "fd00:1::100"


def test_allocation_skips_used_gateway_and_honours_ranges() -> None:
    net = ipam.IPv4Net("10.0.0.0/29")
    assert str(ipam.allocate(net, ["10.0.0.1"])) == "10.0.0.2"
    assert str(ipam.allocate(net, ["10.0.0.1", "10.0.0.2"])) == "10.0.0.3"
    # a range's first and last addresses are handed out, but for the subnet's own (.7: broadcast)
    assert str(ipam.allocate(net, [], ipam.IPv4Net("10.0.0.4/30"))) == "10.0.0.4"
    with pytest.raises(DockyardError, match="no available IPv4 addresses"):
        ipam.allocate(net, ["10.0.0.4", "10.0.0.5", "10.0.0.6"], ipam.IPv4Net("10.0.0.4/30"))
    assert str(ipam.allocate(ipam.IPv4Net("10.0.1.0/24"), ["10.0.1.1", "10.0.1.2"],
                             ipam.IPv4Net("10.0.1.0/30"))) == "10.0.1.3"
    v6 = ipaddress.IPv6Network("fd00:1::/64")  # an IPv6 range's first address is handed out
    assert str(ipam.allocate(v6, ["fd00:1::1"], ipaddress.IPv6Network("fd00:1::100/120"))) == "fd00:1::100"
    assert str(ipam.allocate(net, [], wanted="10.0.0.5")) == "10.0.0.5"
    with pytest.raises(NetworkForbidden, match="Address already in use"):
        ipam.allocate(net, ["10.0.0.5"], wanted="10.0.0.5")
    with pytest.raises(DockyardError, match="no available IPv4 addresses"):
        ipam.allocate(net, [f"10.0.0.{i}" for i in range(1, 7)])
    with pytest.raises(InvalidArgument, match="Invalid address 10.9.0.5: It does not belong to any of this "
                       "network's subnets"):
        ipam.allocate(net, [], wanted="10.9.0.5")
    for held in ("10.0.0.0", "10.0.0.7"):  # the subnet's network and broadcast addresses
        with pytest.raises(NetworkForbidden, match="^Address already in use$"):
            ipam.allocate(net, [], wanted=held)


def test_ipv6_allocation_has_no_broadcast_and_dockerds_refusals() -> None:
    net = ipaddress.IPv6Network("fd00:1::/126")
    assert str(ipam.allocate(net, ["fd00:1::1"])) == "fd00:1::2"
    assert str(ipam.allocate(net, ["fd00:1::1", "fd00:1::2"])) == "fd00:1::3"  # last is usable
    assert str(ipam.allocate(ipaddress.IPv6Network("fd00:1::/64"), ["fd00:1::fe"],
                             ipaddress.IPv6Network("fd00:1::100/120"))) == "fd00:1::100"
    assert str(ipam.allocate(net, [], wanted="fd00:1:0::3")) == "fd00:1::3"
    with pytest.raises(NetworkForbidden, match="Address already in use"):
        ipam.allocate(net, [], wanted="fd00:1::")
    with pytest.raises(InvalidArgument, match="Invalid address fd00:2::1: It does not belong"):
        ipam.allocate(net, [], wanted="fd00:2::1")
    with pytest.raises(DockyardError, match="no available IPv6 addresses"):
        ipam.allocate(net, ["fd00:1::1", "fd00:1::2", "fd00:1::3"])
    assert str(ipam.gateway6_address("fd00:1::fe", ipaddress.IPv6Network("fd00:1::/64"))) == "fd00:1::fe"
    with pytest.raises(DockyardError, match=r"failed to allocate gateway \(fd00:2::1\): Requested "
                                            "address is out of range"):
        ipam.gateway6_address("fd00:2::1", net)
    with pytest.raises(DockyardError, match="Address already in use"):
        ipam.gateway6_address("fd00:1::", net)
    assert ipam.is_ipv6("fd00::/64") and not ipam.is_ipv6("10.0.0.0/8") and not ipam.is_ipv6("")


def test_free_subnet_avoids_routes_and_prefers_the_default() -> None:
    assert str(ipam.free_subnet([], ipam.DEFAULT_BRIDGE_SUBNET)) == "172.30.0.0/16"
    taken = [ipam.IPv4Net("172.30.5.0/24"), ipam.IPv4Net("172.17.0.0/16")]
    assert str(ipam.free_subnet(taken, ipam.DEFAULT_BRIDGE_SUBNET)) == "172.18.0.0/16"
    with pytest.raises(InvalidArgument, match="invalid CIDR address: nope"):
        ipam.parse_subnet("nope")


def test_port_bindings_ranges_publish_all_and_errors() -> None:
    got = ports.bindings({"ExposedPorts": {"80/tcp": {}, "53/udp": {}}},
                         {"PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080-8081"}]},
                          "PublishAllPorts": True})
    assert got == [ports.PortBinding("tcp", 80, "0.0.0.0", (8080, 8081), dual=True),
                   ports.PortBinding("udp", 53, "0.0.0.0", (0,), dual=True)]
    exposed = {"ExposedPorts": {"80/tcp": {}}}
    explicit = ports.bindings(exposed, {"PortBindings": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "1"}]}})
    assert explicit == [ports.PortBinding("tcp", 80, "0.0.0.0", (1,))]  # v4 only, as dockerd
    # dockerd 20.10: the binding's key must be the exposed key as written; null/[] publish nothing
    assert ports.bindings({}, {"PortBindings": {"80/tcp": [{"HostPort": "1"}]}}) == []
    assert ports.bindings(exposed, {"PortBindings": {"80/TCP": [{"HostPort": "1"}]}}) == []
    assert ports.bindings(exposed, {"PortBindings": {"80/tcp": []}}) == []
    assert ports.bindings(exposed, {"PortBindings": {"80/tcp": None}, "PublishAllPorts": True}) == \
        [ports.PortBinding("tcp", 80, "0.0.0.0", (0,), dual=True)]
    odd = ports.bindings({"ExposedPorts": {"80/foo": {}, "abc/TCP": {}}}, {"PublishAllPorts": True})
    assert [(b.proto, b.container_port) for b in odd] == [("0", 80), ("tcp", 0)]
    unreadable = ports.bindings(exposed, {"PortBindings": {"80/tcp": [{"HostIp": "bogus", "HostPort": "1/udp"}]}})
    assert unreadable == [ports.PortBinding("tcp", 80, "0.0.0.0", (1,), dual=True)]  # no name lookup
    with pytest.raises(InvalidArgument, match='invalid port specification: "x"'):
        ports.check_bindings({"PortBindings": {"x/tcp": []}})
    with pytest.raises(InvalidArgument, match='invalid port specification: "8081-8080"'):
        ports.check_bindings({"PortBindings": {"80/tcp": [{"HostPort": "8081-8080"}]}})
    ports.check_bindings({"PortBindings": {k: [{"HostPort": "8080/udp"}] for k in ("0/tcp", "/tcp", "80/", "80/sctp")}})
    shaped = ports.settings(["443/tcp", "80/tcp"], [("tcp", "0.0.0.0", 8080, 80)])
    assert shaped == {"443/tcp": None, "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}


def test_port_keys_as_go_connections_reads_them() -> None:
    assert [ports.split_proto_port(k) for k in ("80", "80/", "80/UDP", "80/tcp/x", "/tcp", "")] == \
        [("tcp", "80"), ("tcp", "80"), ("UDP", "80"), ("tcp", "80"), ("", ""), ("", "")]
    assert ports.exposed_keys({"ExposedPorts": {k: {} for k in ("80/TCP", "81/", "82/foo", "/tcp", "99999/udp",
                                                                 "83/icmp", "080/sctp")}}) == \
        ["0/0", "0/udp", "80/sctp", "80/tcp", "81/tcp", "82/0", "83/icmp"]
    assert ports.go_port_map({"b": [{"HostPort": "1", "X": 1}], "a": None, "c": []}) == \
        {"a": None, "b": [{"HostIp": "", "HostPort": "1"}], "c": []}
    for bad in ("+1", "-1", " 1", "65536", "\uff11"):
        with pytest.raises(ValueError):
            ports.parse_port(bad)


def test_port_ranges_as_dockerds_go_connections_reads_them() -> None:
    """nat.ParsePortRange as dockerd 20.10.24 answered a ps publish filter; a create's HostPort
    (ParsePortRangeToInt) takes "" as no port."""
    assert [ports.parse_port_range(t) for t in ("80", "080", "1-2-3", "0-0", "80-80")] == \
        [(80, 80), (80, 80), (1, 2), (0, 0), (80, 80)]
    assert ports.port_range("") == (0, 0)
    for text, words in [("80-70", "Invalid range specified for the Port: 80-70"),
                        ("", "Empty string specified for ports."),
                        ("80-", 'strconv.ParseUint: parsing "": invalid syntax'),
                        ("999999a", 'strconv.ParseUint: parsing "999999a": value out of range')]:
        with pytest.raises(ValueError) as refused:
            ports.parse_port_range(text)
        assert str(refused.value) == words


def test_hosts_and_resolv_conf(tmp_path: Path) -> None:
    text = files.hosts([("10.0.0.2", "box")], [("10.0.0.3", ["web", "www"])])
    assert text.startswith("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
    assert text.endswith("10.0.0.2\tbox\n10.0.0.3\tweb www\n")
    host = tmp_path / "resolv.conf"
    host.write_text("search lan\nnameserver 127.0.0.53\nnameserver 192.0.2.1\n")
    assert files.resolv_conf(str(host)) == "search lan\nnameserver 192.0.2.1\n"
    host.write_text("nameserver 127.0.0.53\n")
    assert files.resolv_conf(str(host)).endswith(files.DEFAULT_DNS)
    assert files.resolv_conf(str(host), keep_loopback=True) == "nameserver 127.0.0.53\n"


def test_add_host_lines_and_dns_options_as_dockerd_writes_them() -> None:
    text = files.hosts([("10.0.0.2", files.own_names("hh", "ex.org"))], [], [("5.6.7.8", "x.y")])
    assert text.endswith("ff02::2\tip6-allrouters\n5.6.7.8\tx.y\n10.0.0.2\thh.ex.org hh\n")
    assert files.own_names("hh", "") == "hh"
    host = "search lan\nnameserver 192.0.2.1\noptions rotate\n"
    assert files.resolv_conf_with(host, ["1.1.1.1"], [], []) == \
        "search lan\nnameserver 1.1.1.1\noptions rotate\n"
    assert files.resolv_conf_with(host, [], ["a.b", "c.d"], ["ndots:2"]) == \
        "search a.b c.d\nnameserver 192.0.2.1\noptions ndots:2\n"
    assert files.resolv_conf_with(host, [], ["."], []) == "nameserver 192.0.2.1\noptions rotate\n"


def test_host_mode_hosts_is_the_hosts_file_plus_the_add_host_lines(tmp_path: Path) -> None:
    host = tmp_path / "hosts"
    host.write_text("127.0.0.1\tlocalhost\n10.1.2.3\tthe-host\n")
    extra = [("5.6.7.8", "x.y"), ("1.2.3.4", "a")]
    assert files.host_mode_hosts(extra, str(host)) == \
        "127.0.0.1\tlocalhost\n10.1.2.3\tthe-host\n5.6.7.8\tx.y\n1.2.3.4\ta\n"
    assert files.host_mode_hosts(extra, str(tmp_path / "gone")) == \
        files.LOCALHOST + "5.6.7.8\tx.y\n1.2.3.4\ta\n"
    assert files.hosts([], [], extra).endswith(files.added_hosts(extra))


def test_in_place_rewrite_keeps_the_inode(tmp_path: Path) -> None:
    path = tmp_path / "hosts"
    files.write(path, "a long first version\n")
    inode = path.stat().st_ino
    files.write(path, "short\n")
    assert path.stat().st_ino == inode and path.read_text() == "short\n"


def test_state_snapshot_is_every_field_and_loads_back(tmp_path: Path) -> None:
    state = State(tmp_path)
    state.networks["n"] = Network("n", "bridge", "bridge", "2026-01-01T00:00:00Z",
                                  subnet="172.17.0.0/16", labels={"a": "b"})
    state.endpoints["n/c"] = Endpoint("n", "c", "web", "e", "172.17.0.2", "02:42:ac:11:00:02",
                                      "veth1234567", "eth0", ["alias"])
    state.sandboxes["c"] = Sandbox("c", "/run/netns/c", "/d", "web", [["tcp", "", 80, 8080]])
    state.save(durable=True)
    on_disk = json.loads((tmp_path / "network" / "state.json").read_text())
    assert on_disk == {"networks": {"n": dataclasses.asdict(state.networks["n"])},
                       "endpoints": {"n/c": dataclasses.asdict(state.endpoints["n/c"])},
                       "sandboxes": {"c": dataclasses.asdict(state.sandboxes["c"])}}
    again = State(tmp_path)
    assert (again.networks, again.endpoints, again.sandboxes) == \
        (state.networks, state.endpoints, state.sandboxes)


def test_ephemeral_ports_in_dockerds_order(tmp_path: Path) -> None:
    """From the start of the kernel's range, each after the last one taken, wrapping."""
    range_file = tmp_path / "range"
    range_file.write_text("32768\t32771\n")
    eph = ports.EphemeralPorts(str(range_file))
    assert list(eph.candidates("tcp")) == [32768, 32769, 32770, 32771]
    eph.taken("tcp", 32769)  # 32768 was held by another program
    assert list(eph.candidates("tcp"))[:2] == [32770, 32771]
    assert next(eph.candidates("udp")) == 32768  # each protocol on its own
    eph.taken("tcp", 32771)
    assert next(eph.candidates("tcp")) == 32768
    eph.taken("tcp", 8080)  # outside the range: not an ephemeral one
    assert next(eph.candidates("tcp")) == 32768
    missing = ports.EphemeralPorts(str(tmp_path / "nothing"))
    assert (missing.low, missing.high) == (49153, 65535)
    assert len(list(missing.candidates("tcp"))) == ports.EphemeralPorts.ATTEMPTS


def test_an_exhausted_pool_is_dockerds_500_naming_the_network() -> None:
    """libnetwork's plain error (a 500, not a 403), ``name (id)`` when the caller says them."""
    net = ipaddress.IPv4Network("10.0.0.0/30")
    with pytest.raises(DockyardError) as exc:
        ipam.allocate(net, ["10.0.0.1", "10.0.0.2"], owner="n1 (abc)")
    assert not isinstance(exc.value, NetworkForbidden)
    assert str(exc.value) == "no available IPv4 addresses on this network's address pools: n1 (abc)"


def test_a_range_is_read_as_offsets_into_its_subnet() -> None:
    """dockerd's getAddressRange: inside, the range itself; outside, the same offsets in the
    subnet; wider than it, the whole subnet."""
    subnet = ipaddress.IPv6Network("fd00:1::/64")
    assert ipam.range_in(subnet, ipaddress.IPv6Network("fd00:1::100/120")) == \
        ipaddress.IPv6Network("fd00:1::100/120")
    assert ipam.range_in(subnet, ipaddress.IPv6Network("fd00:2::/126")) == ipaddress.IPv6Network("fd00:1::/126")
    assert ipam.range_in(subnet, ipaddress.IPv6Network("fd00:9:8:7:6:5:4:0/112")) == \
        ipaddress.IPv6Network("fd00:1::6:5:4:0/112")
    assert ipam.range_in(subnet, ipaddress.IPv6Network("fd00::/48")) == subnet


def test_the_default_bridges_ipv6_address_carries_the_mac() -> None:
    """As dockerd 20.10 builds it with --fixed-cidr-v6 of at least 48 host bits."""
    subnet = ipaddress.IPv6Network("fd00:d0c:68::/64")
    assert str(ipam.mac_address6(subnet, "02:42:0a:fd:44:02")) == "fd00:d0c:68::242:afd:4402"


def test_a_creates_subnets_ranges_gateways_and_auxiliary_addresses_in_dockerds_words() -> None:
    """Go's ParseCIDR (a slash and a decimal prefix), a sub-pool of the pool's family, an
    address for a gateway; auxiliary addresses inside the subnet and not already held."""
    for good in ("10.0.0.0/24", "10.0.0.1/24", "fd00::/64"):
        ipam.check_pool_subnet(good)
    for bad in ("bogus", "10.0.0.0", "10.0.0.0/33", "fd00::/129", "10.0.0.0/x", ""):
        with pytest.raises(DockyardError, match=f"^Invalid subnet {re.escape(bad)} : invalid CIDR address: "):
            ipam.check_pool_subnet(bad)
    pool = ipam.IPv4Net("10.0.0.0/24")
    assert str(ipam.parse_ip_range("10.0.0.130/25", pool)) == "10.0.0.128/25"
    for bad in ("bogus", "10.0.0.128", "fd00::/64"):
        with pytest.raises(DockyardError, match='subpool "' + re.escape(bad) + '": Invalid Address SubPool'):
            ipam.parse_ip_range(bad, pool)
    with pytest.raises(DockyardError, match="^invalid gateway address x in Ipam configuration$"):
        ipam.check_gateway("x")
    assert ipam.auxiliary({"a": "10.0.0.5"}, pool, ["10.0.0.1"], "n") == {"a": "10.0.0.5"}
    with pytest.raises(DockyardError, match=r"non parsable secondary ip address \(a:x\) passed for network n"):
        ipam.auxiliary({"a": "x"}, pool, [], "n")
    with pytest.raises(NetworkForbidden, match=r"\(a:10.1.0.5\) must belong to the master pool: 10.0.0.0/24"):
        ipam.auxiliary({"a": "10.1.0.5"}, pool, [], "n")
    for held in ("10.0.0.1", "10.0.0.0", "10.0.0.255"):
        with pytest.raises(DockyardError, match=rf"\(a:{held}\): Address already in use"):
            ipam.auxiliary({"a": held}, pool, ["10.0.0.1"], "n")
    with pytest.raises(DockyardError, match=r"\(b:10.0.0.9\): Address already in use"):
        ipam.auxiliary({"a": "10.0.0.9", "b": "10.0.0.9"}, pool, [], "n")
    assert ipam.held_auxiliary({"x": "fd00:0::2"}) == ["fd00::2"]
