"""``dockyard run``/``create --link name[:alias]`` against real daemons: the link is sent as the
docker CLI sends it (``HostConfig.Links``; on a user-defined network the endpoint's ``Links``
too), so the daemon registers it, and a malformed one is refused in the docker CLI's words
before anything is sent. dockerd here runs without a default bridge, so what the linker sees
inside is checked on dockyard's (dockerd's own, side by side: tests/interop/test_links_dockerd.py)."""

from __future__ import annotations

import json

import pytest
from cliengines import Engine, engines


@engines("containers")
def test_create_link_registers_it(engine: Engine) -> None:
    engine.ok("create", "--name", "lk-child", "busybox", "sleep", "30")
    engine.ok("create", "--name", "lk-parent", "--link", "lk-child:al", "--link", "lk-child",
              "busybox", "true")
    links = json.loads(engine.ok("inspect", "-f", "{{json .HostConfig.Links}}", "lk-parent"))
    assert sorted(links) == ["/lk-child:/lk-parent/al", "/lk-child:/lk-parent/lk-child"]


@engines("networks")
def test_a_user_defined_networks_link_is_the_endpoints(engine: Engine) -> None:
    engine.ok("network", "create", "lk-net")
    engine.ok("create", "--name", "lk-member", "--network", "lk-net", "--link", "elsewhere:al",
              "busybox", "true")
    fmt = "{{json .HostConfig.Links}} {{json .NetworkSettings.Networks}}"
    host_links, networks = engine.ok("inspect", "-f", fmt, "lk-member").split(" ", 1)
    assert json.loads(host_links) is None
    assert json.loads(networks)["lk-net"]["Links"] == ["elsewhere:al"]


@pytest.mark.parametrize("engine", ["dockyard"], indirect=True)
def test_the_linker_sees_its_child(engine: Engine) -> None:
    engine.ok("run", "-d", "--name", "lk-web", "-h", "webhost", "-e", "FOO=bar", "--expose", "80",
              "busybox", "sleep", "60")
    ip = engine.ok("inspect", "-f", "{{.NetworkSettings.Networks.bridge.IPAddress}}", "lk-web").strip()
    out = engine.ok("run", "--rm", "--name", "lk-user", "--link", "lk-web:w", "busybox", "sh", "-c",
                    "grep -w w /etc/hosts; env")
    hosts, *env = out.splitlines()
    assert hosts == f"{ip}\tw webhost lk-web"
    assert {"W_NAME=/lk-user/w", f"W_PORT=tcp://{ip}:80", "W_ENV_FOO=bar"} <= set(env)


@engines("containers")
@pytest.mark.parametrize(("value", "words"), [
    ("a:b:c", "bad format for links: a:b:c"), ("", "empty string specified for links")])
def test_a_malformed_link_is_one_line_in_the_docker_clis_words(engine: Engine, value: str,
                                                               words: str) -> None:
    code, out, err = engine.cli("run", "--rm", f"--link={value}", "busybox", "true")
    assert (code, out, err) == (125, "", f'dockyard: invalid argument "{value}" for "--link" flag: {words}\n')
    assert engine.ok("ps", "-a", "-q") == ""
