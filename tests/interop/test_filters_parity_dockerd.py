"""The ``filters`` parameter of every list and prune endpoint, side by side with a private
dockerd 20.10: the keys each takes, how it reads their values, the status and the words of a
refusal (dockyard.filters holds the words).

What dockerd 20.10.24 takes (recorded here; an unknown key is ``Invalid filter 'key'``, 400):
containers/json ancestor before exited health id is-task isolation label name network publish
expose since status volume; images/json before dangling label reference since; networks
dangling driver id label name scope type; volumes dangling driver label name; containers,
images and networks prune label label! until (images dangling too); volumes prune label
label! (``all`` from API 1.42); build/prune until unused-for label label! id parent type
description inuse shared private; images/search is-automated is-official stars; events and
system df refuse nothing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

ENDPOINTS = {
    "ps": ("GET", "/containers/json"), "images": ("GET", "/images/json"),
    "networks": ("GET", "/networks"), "volumes": ("GET", "/volumes"),
    "container-prune": ("POST", "/containers/prune"), "image-prune": ("POST", "/images/prune"),
    "network-prune": ("POST", "/networks/prune"), "volume-prune": ("POST", "/volumes/prune"),
    "builder-prune": ("POST", "/build/prune"), "search": ("GET", "/images/search"),
}
BUILD = "failed to prune build cache: "
DANGLING = 'invalid value for filter \'dangling\', must be "true" (or "1"), or "false" (or "0")'

# (endpoint, filters as sent, dockerd's status, dockerd's message or None for a 200)
CASES: list[tuple[str, str, int, str | None]] = [
    *[(endpoint, '{"bogus": ["1"]}', 400, "Invalid filter 'bogus'")
      for endpoint in ENDPOINTS if endpoint != "builder-prune"],
    ("builder-prune", '{"bogus": ["1"]}', 400, BUILD + "Invalid filter 'bogus'"),
    ("ps", '{"status": ["foo"]}', 400, "Invalid filter 'status=foo'"),
    ("ps", '{"is-task": ["x"]}', 400, "Invalid filter 'is-task=[x]'"),
    ("ps", '{"is-task": ["True"]}', 400, "Invalid filter 'is-task=[True]'"),
    ("ps", '{"isolation": ["foo"]}', 200, None),
    ("ps", '{"until": ["1h"]}', 400, "Invalid filter 'until'"),
    ("ps", '{"exited": ["abc"]}', 500, 'strconv.Atoi: parsing "abc": invalid syntax'),
    ("ps", '{"exited": [" 3"]}', 500, 'strconv.Atoi: parsing " 3": invalid syntax'),
    ("ps", '{"exited": [""]}', 500, 'strconv.Atoi: parsing "": invalid syntax'),
    ("ps", '{"exited": ["\\t3"]}', 500, 'strconv.Atoi: parsing "\\t3": invalid syntax'),
    ("ps", '{"exited": ["99999999999999999999"]}', 500,
     'strconv.Atoi: parsing "99999999999999999999": value out of range'),
    ("ps", '{"exited": ["99999999999999999999a"]}', 500,
     'strconv.Atoi: parsing "99999999999999999999a": value out of range'),
    ("ps", '{"exited": ["-9223372036854775809"]}', 500,
     'strconv.Atoi: parsing "-9223372036854775809": value out of range'),
    ("ps", '{"exited": ["-1", "+3", "03", "9223372036854775807"]}', 200, None),
    *[case for key in ("publish", "expose") for case in [
        ("ps", f'{{"{key}": ["80-70"]}}', 500,
         f"error while looking up for {key} 80-70: Invalid range specified for the Port: 80-70"),
        ("ps", f'{{"{key}": ["abc"]}}', 500,
         f'error while looking up for {key} abc: strconv.ParseUint: parsing "abc": invalid syntax'),
        ("ps", f'{{"{key}": ["1-65536"]}}', 500, (f"error while looking up for {key} 1-65536: "
         'strconv.ParseUint: parsing "65536": value out of range')),
        ("ps", f'{{"{key}": ["999999a"]}}', 500, (f"error while looking up for {key} 999999a: "
         'strconv.ParseUint: parsing "999999a": value out of range')),
        ("ps", f'{{"{key}": [""]}}', 500,
         f"error while looking up for {key} : Empty string specified for ports."),
        ("ps", f'{{"{key}": ["/udp"]}}', 500,
         f"error while looking up for {key} /udp: Empty string specified for ports."),
        ("ps", f'{{"{key}": ["80-"]}}', 500,
         f'error while looking up for {key} 80-: strconv.ParseUint: parsing "": invalid syntax'),
        ("ps", f'{{"{key}": ["+80"]}}', 500,
         f'error while looking up for {key} +80: strconv.ParseUint: parsing "+80": invalid syntax'),
        ("ps", f'{{"{key}": ["1:2"]}}', 500, f"filter for '{key}' should not contain ':': 1:2"),
        ("ps", f'{{"{key}": ["80/xyz", "1-2-3", "080", "80/", "80/udp/x", "0-0", "1-65535/udp"]}}',
         200, None),
    ]],
    ("ps", "[]", 500, "json: cannot unmarshal array into Go value of type map[string]map[string]bool"),
    ("ps", '{"status": "running"}', 500, "json: cannot unmarshal string into Go value of type map[string]bool"),
    ("ps", '{"status": {"running": 1}}', 500, "json: cannot unmarshal number into Go value of type bool"),
    ("ps", '{"status": ["running"]', 500, "unexpected end of JSON input"),
    ("ps", "{not json", 500, "invalid character 'n' looking for beginning of object key string"),
    ("ps", "xyz", 500, "invalid character 'x' looking for beginning of value"),
    ("ps", '{"bogus": null}', 400, "Invalid filter 'bogus'"),
    ("images", '{"dangling": ["foo"]}', 400, "Invalid filter 'dangling=[foo]'"),
    ("images", '{"dangling": ["1"]}', 400, "Invalid filter 'dangling=[1]'"),
    ("images", '{"dangling": ["True"]}', 400, "Invalid filter 'dangling=[True]'"),
    ("images", '{"until": ["1h"]}', 400, "Invalid filter 'until'"),
    ("images", '{"label!": ["a"]}', 400, "Invalid filter 'label!'"),
    ("images", '{"reference": ["busybox\\\\"]}', 500, "syntax error in pattern"),
    ("images", '{"reference": ["[]a]"]}', 500, "syntax error in pattern"),
    ("networks", '{"type": ["foo"]}', 500, "invalid filter: 'type'='foo'"),
    ("networks", '{"dangling": ["foo"]}', 400, DANGLING),
    ("networks", '{"dangling": ["True"]}', 400, DANGLING),
    ("networks", '{"dangling": ["foo"], "type": ["foo"]}', 400, DANGLING),
    ("networks", '{"dangling": ["true", "false"]}', 400, 'got more than one value for filter key "dangling"'),
    ("networks", '{"label!": ["a"]}', 400, "Invalid filter 'label!'"),
    ("networks", '{"until": ["1h"]}', 400, "Invalid filter 'until'"),
    ("volumes", '{"dangling": ["foo", "true"]}', 200, None),
    ("volumes", '{"dangling": ["True"]}', 400, "Invalid filter 'dangling=[True]'"),
    ("volumes", '{"label!": ["a"]}', 400, "Invalid filter 'label!'"),
    ("container-prune", '{"until": ["1h", "2h"]}', 500, "more than one until filter specified"),
    ("container-prune", '{"status": ["exited"]}', 400, "Invalid filter 'status'"),
    ("image-prune", '{"dangling": ["foo"]}', 400, "Invalid filter 'dangling=[foo]'"),
    ("image-prune", '{"dangling": ["True"]}', 400, "Invalid filter 'dangling=[True]'"),
    ("image-prune", '{"until": ["1h", "2h"]}', 500, "more than one until filter specified"),
    ("image-prune", '{"reference": ["x"]}', 400, "Invalid filter 'reference'"),
    ("network-prune", '{"dangling": ["true"]}', 400, "Invalid filter 'dangling'"),
    ("network-prune", '{"until": ["1h", "2h"]}', 500, "more than one until filter specified"),
    ("volume-prune", '{"all": ["true"]}', 400, "Invalid filter 'all'"),
    ("volume-prune", '{"dangling": ["true"]}', 400, "Invalid filter 'dangling'"),
    ("builder-prune", '{"until": ["x"]}', 500,
     BUILD + "\"until\" filter expects a duration (e.g., '24h'): time: invalid duration \"x\""),
    ("builder-prune", '{"unused-for": ["1x"]}', 500,
     BUILD + "\"unused-for\" filter expects a duration (e.g., '24h'): time: unknown unit \"x\" in duration \"1x\""),
    ("builder-prune", '{"until": ["1h"], "unused-for": ["1h"]}', 400,
     BUILD + 'conflicting filters: "until" and "unused-for"'),
    ("builder-prune", '{"until": ["1h", "2h"]}', 400, BUILD + "filters expect only one value"),
    ("builder-prune", '{"parent": ["a", "b"]}', 400, BUILD + "filters expect only one value"),
    ("search", '{"is-automated": ["x"]}', 400, "Invalid filter 'is-automated=[x]'"),
    ("search", '{"is-official": ["1"]}', 400, "Invalid filter 'is-official=[1]'"),
    ("search", '{"stars": ["x"]}', 400, "Invalid filter 'stars=x'"),
]


def _answer(api: Any, endpoint: str, filters: str) -> tuple[int, str | None]:
    """The endpoint's status and error message at API 1.41 (dockerd 20.10's), ``filters`` as
    sent; a search's term names a loopback port nothing answers (never reached here)."""
    method, path = ENDPOINTS[endpoint]
    params = {"filters": filters, **({"term": "127.0.0.1:9/x"} if endpoint == "search" else {})}
    response = api.request(method, f"{api.base_url}/v1.41{path}", params=params, timeout=30)
    if response.status_code == 200:
        return 200, None
    return response.status_code, json.loads(response.text)["message"]


@pytest.mark.parametrize(("endpoint", "filters", "status", "message"), CASES,
                         ids=[f"{c[0]}:{c[1]}" for c in CASES])
def test_filters_refused_as_dockerd_refuses_them(both: dict[str, Any], endpoint: str, filters: str,
                                                 status: int, message: str | None) -> None:
    answers = {name: _answer(client.api, endpoint, filters) for name, (_cli, client) in both.items()}
    assert answers["dockyard"] == answers["dockerd"] == (status, message)


def test_docker_cli_filters_as_dockerd(both: dict[str, Any]) -> None:
    """The docker CLI's ``--filter``: its exit code, error and listing are dockerd's — a
    ``name`` that is no regular expression matches nothing, ``is-task=true`` lists no
    container (none is a swarm task), ``isolation`` is taken and matches every container
    (dockerd reads it on Windows alone)."""
    commands = [
        ("ps", "--filter", "bogus=1"), ("ps", "--filter", "status=foo"), ("ps", "--filter", "is-task=x"),
        ("images", "--filter", "dangling=foo"), ("images", "--filter", "until=1h"),
        ("network", "ls", "--filter", "dangling=maybe"), ("volume", "ls", "--filter", "dangling=foo"),
        ("container", "prune", "-f", "--filter", "bogus=1"), ("image", "prune", "-f", "--filter", "bogus=1"),
        ("network", "prune", "-f", "--filter", "bogus=1"), ("system", "prune", "-f", "--filter", "bogus=1"),
        ("builder", "prune", "-f", "--filter", "until=1h", "--filter", "until=2h"),
        ("ps", "-a", "--filter", "name=[", "--format", "{{.Names}}"),
        ("ps", "-a", "--filter", "name=flt-c", "--filter", "is-task=true", "--format", "{{.Names}}"),
        ("ps", "-a", "--filter", "name=flt-c", "--filter", "is-task=false", "--format", "{{.Names}}"),
        ("ps", "-a", "--filter", "name=flt-c", "--filter", "isolation=^def", "--format", "{{.Names}}"),
        ("ps", "-a", "--filter", "name=flt-c", "--filter", "isolation=hyperv", "--format", "{{.Names}}"),
    ]
    answers: dict[str, list[tuple[int, str, str]]] = {}
    for name, (docker, _client) in both.items():
        made = docker("create", "--name", "flt-c", "--network", "none", "busybox", "true")
        assert made.returncode == 0, made.stderr
        try:
            answers[name] = [(d.returncode, d.stdout, d.stderr) for d in (docker(*a) for a in commands)]
        finally:
            docker("rm", "-f", "flt-c")
    assert answers["dockyard"] == answers["dockerd"]
    assert answers["dockerd"][1] == (1, "", "Error response from daemon: Invalid filter 'status=foo'\n")
    assert [a[1] for a in answers["dockerd"][-4:]] == ["", "flt-c\n", "flt-c\n", "flt-c\n"]


def _shortest(client: Any, network: str) -> str:
    """The shortest prefix of ``network``'s id that no other network's id begins with."""
    others = [n.id for n in client.networks.list() if n.id != network]
    return next(network[:k] for k in range(1, 65) if not any(o.startswith(network[:k]) for o in others))


def test_ps_network_filter_by_name_and_id_as_dockerd(both: dict[str, Any]) -> None:
    """``ps --filter network=``: a network's name finds its running, exited and created
    containers; its id, whole or any prefix ("" too), those whose endpoint names it — not a
    created container's (``NetworkID`` "" until its first start); a ``container:`` joiner is
    on no network, a name is matched whole."""
    names = ("fltn-run", "fltn-exited", "fltn-created", "fltn-none", "fltn-joiner", "fltn-nonec")
    answers: dict[str, list[list[str]]] = {}
    for name, (docker, client) in both.items():
        network = client.networks.create("fltn-net").id
        none = client.networks.get("none").id
        try:
            for args in (("run", "-d", "--name", "fltn-run", "--network", "fltn-net"),
                         ("run", "--name", "fltn-exited", "--network", "fltn-net"),
                         ("create", "--name", "fltn-created", "--network", "fltn-net"),
                         ("run", "-d", "--name", "fltn-none", "--network", "none"),
                         ("run", "-d", "--name", "fltn-joiner", "--network", "container:fltn-run"),
                         ("create", "--name", "fltn-nonec", "--network", "none")):
                done = docker(*args, "busybox", "sleep" if "-d" in args else "true", "60")
                assert done.returncode == 0, done.stderr
            values = ["fltn-net", network, network[:12], _shortest(client, network), "none", none,
                      _shortest(client, none),
                      "container:fltn-run", "", "fltn-ne", "nosuch"]
            answers[name] = [sorted(docker("ps", "-a", "--filter", "name=fltn-", "--filter",
                                           f"network={v}", "--format", "{{.Names}}").stdout.split())
                             for v in values]
        finally:
            docker("rm", "-f", *names)
            client.networks.get("fltn-net").remove()
    assert answers["dockyard"] == answers["dockerd"]
    on_net = ["fltn-exited", "fltn-run"]
    assert answers["dockerd"] == [
        ["fltn-created", *on_net], on_net, on_net, on_net, ["fltn-none", "fltn-nonec"],
        ["fltn-none"], ["fltn-none"], [], ["fltn-created", "fltn-exited", "fltn-none", "fltn-nonec",
                                           "fltn-run"], [], []]


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e.endswith("-prune")])
def test_a_prune_that_removes_nothing_answers_as_dockerd(both: dict[str, Any], endpoint: str) -> None:
    """The body of a prune whose filter matches nothing: dockerd 20.10 answers ``null`` for the
    deleted containers, images, networks and build caches (Go's nil slice) but ``[]`` for
    volumes."""
    method, path = ENDPOINTS[endpoint]
    bodies = {}
    for name, (_cli, client) in both.items():
        api = client.api
        response = api.request(method, f"{api.base_url}/v1.41{path}", timeout=30,
                               params={"filters": '{"label": ["dytest-prunes-nothing=1"]}'})
        assert response.status_code == 200, response.text
        bodies[name] = json.loads(response.text)
    assert bodies["dockyard"] == bodies["dockerd"]


def test_ps_name_filter_reads_the_name_with_and_without_its_slash(both: dict[str, Any]) -> None:
    """dockerd matches a ``name`` value against ``/name`` and ``name``: an anchored pattern finds
    the container either way."""
    values = ["^fltname-c$", "^/fltname-c$", "fltname", "^fltname-c", "-c$", "^ltname"]
    answers = {}
    for side, (docker, _client) in both.items():
        assert docker("create", "--name", "fltname-c", "--network", "none", "busybox", "true").returncode == 0
        try:
            answers[side] = [docker("ps", "-a", "--filter", f"name={v}", "--format", "{{.Names}}").stdout
                             for v in values]
        finally:
            docker("rm", "-f", "fltname-c")
    assert answers["dockyard"] == answers["dockerd"]
    assert answers["dockerd"][:2] == ["fltname-c\n", "fltname-c\n"]


def test_ps_exited_filter_reads_its_code_as_go_atoi(both: dict[str, Any]) -> None:
    """``ps --filter exited=``: dockerd reads each value with Go's Atoi and compares numbers, so
    ``+3``, ``03`` and ``+03`` find a container that exited with 3 (``-0`` one with 0); a
    created container, never started, is found by none."""
    values = ["3", "+3", "03", "+03", "-3", "0", "-0", "4"]
    answers = {}
    for side, (docker, _client) in both.items():
        assert docker("run", "--name", "fltexit-3", "--network", "none", "busybox", "sh", "-c",
                      "exit 3").returncode == 3
        assert docker("run", "--name", "fltexit-0", "--network", "none", "busybox", "true").returncode == 0
        assert docker("create", "--name", "fltexit-c", "--network", "none", "busybox", "true").returncode == 0
        try:
            answers[side] = [sorted(docker("ps", "-a", "--filter", "name=fltexit-", "--filter",
                                           f"exited={v}", "--format", "{{.Names}}").stdout.split())
                             for v in values]
        finally:
            docker("rm", "-f", "fltexit-3", "fltexit-0", "fltexit-c")
    assert answers["dockyard"] == answers["dockerd"]
    assert answers["dockerd"] == [["fltexit-3"]] * 4 + [[], ["fltexit-0"], ["fltexit-0"], []]
