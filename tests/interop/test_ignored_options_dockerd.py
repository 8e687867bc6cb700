"""Options dockyard once took silently and did nothing with, side by side with a private real
dockerd 20.10: each is refused as dockerd refuses it (at create or at the start, its status
and words, what is left), warned of as it warns, or applied — ``--runtime``, ``--gpus``,
``--storage-opt``, ``--isolation``, ``--cpu-rt-period``/``--cpu-rt-runtime``, ``--link``,
``--volume-driver``; through docker-py at API 1.41 (dockerd 20.10's), the fields the docker
CLI 28 sends only to a newer API or not at all (``KernelMemory``, ``CpuPercent``, ``IOMaximum*``,
docker-py's ``InitPath``)."""

from __future__ import annotations

import json
import re
from typing import Any

import docker
import pytest

from dockyard.testing.daemon import DockerCLI

pytestmark = pytest.mark.slow

CLI_CASES = [
    ("--runtime", "foo"),                               # 400 Unknown runtime specified foo
    ("--runtime", "io.containerd.runtime.v1.linux"),    # taken, with a deprecation warning
    ("--gpus", "all"),                                  # the start: no device driver
    ("--storage-opt", "size=1G"),                       # 500: overlay over xfs with pquota only
    ("--storage-opt", "Foo=1"),                         # 500: Unknown option foo
    ("--isolation", "hyperv"),                          # 500: linux only supports 'default'
    ("--cpu-rt-runtime", "100"),                        # the start: the kernel's EINVAL
    ("--cpu-rt-runtime", "2000", "--cpu-rt-period", "1000"),  # 500: runtime above period
    ("--link", "nosuchcontainer:alias"),                # 400: could not get container
    ("--oom-score-adj", "-1"),  # lowered: runc's words where the daemons lack CAP_SYS_RESOURCE
    ("--restart", "on-failure:-1"),                     # 400: cannot be negative (no prefix)
    ("--restart", "always:-1"),                         # 400: cannot be used with 'always'
]


def _normalised(text: str) -> str:
    """Container IDs, and each daemon's own cgroup parent in a cgroup path, made alike."""
    text = re.sub(r"\b[0-9a-f]{64}\b", "<id>", text)
    return re.sub(r"/sys/fs/cgroup/cpu/(docker|dockyard)/", "/sys/fs/cgroup/cpu/<parent>/", text)


@pytest.mark.parametrize("args", CLI_CASES, ids=[" ".join(c) for c in CLI_CASES])
def test_an_option_is_answered_as_dockerd_answers_it(both: dict[str, Any],
                                                    args: tuple[str, ...]) -> None:
    seen = {name: _run_with(cli, client, args) for name, (cli, client) in both.items()}
    assert seen["dockyard"] == seen["dockerd"]


def _run_with(cli: DockerCLI, client: Any, args: tuple[str, ...]) -> tuple[Any, ...]:
    """``docker run`` with ``args``: its exit code and output, and what it left (the
    container's status, exit code and error; None without one)."""
    done = cli("run", "--pull", "never", "--network", "none", "--name", "optcheck", *args,
               "busybox", "true")
    try:
        state = client.api.inspect_container("optcheck")["State"]
        left = (state["Status"], state["ExitCode"], _normalised(state["Error"]))
    except docker.errors.NotFound:
        left = None
    cli("rm", "-f", "optcheck")
    return done.returncode, done.stdout, _normalised(done.stderr), left


# dockerd 20.10 looks an unknown volume driver up as a v1 plugin (moby's pkg/plugins), retried
# for 15 s (1, 2, 4 and 8 s: "Unable to locate plugin: foo, retrying in 1s" … in its log) before
# its 404, however /run/docker/plugins and /etc/docker/plugins are laid out: no way to its
# answer sooner. So it was recorded once — a private dockerd 20.10.24+dfsg1
# (testing.dockerd.start_dockerd, busybox loaded) and this docker CLI 28.2.2 running the line
# below through _run_with (no container made) — and dockyard is compared with it.
VOLUME_DRIVER_FOO = (125, "", ("docker: Error response from daemon: create ignoredopts: error looking "
                              "up volume plugin foo: plugin \"foo\" not found\n\nRun 'docker run --help' "
                              "for more information\n"), None)


def test_an_unknown_volume_driver_is_answered_as_dockerd_answered_it(dockyard_daemon: Any,
                                                                     client: Any) -> None:
    args = ("--volume-driver", "foo", "-v", "ignoredopts:/x")
    assert _run_with(DockerCLI(dockyard_daemon.host), client, args) == VOLUME_DRIVER_FOO


def test_the_runtimes_a_create_takes_are_docker_infos(both: dict[str, Any]) -> None:
    seen = {name: cli("info", "--format", "{{json .Runtimes}} {{.DefaultRuntime}}").stdout
            for name, (cli, _client) in both.items()}
    assert seen["dockyard"] == seen["dockerd"]


def test_a_real_time_period_is_the_containers(both: dict[str, Any]) -> None:
    """``--cpu-rt-period`` is written to the container's cgroup (v1's cpu controller), as runc
    writes it: the container reads it back; its runtime stays the kernel's 0."""
    seen = {}
    for name, (cli, _client) in both.items():
        done = cli("run", "--rm", "--pull", "never", "--network", "none", "--cpu-rt-period",
                   "1000", "busybox", "cat", "/sys/fs/cgroup/cpu/cpu.rt_period_us",
                   "/sys/fs/cgroup/cpu/cpu.rt_runtime_us")
        seen[name] = (done.returncode, done.stdout, done.stderr)
    assert seen["dockyard"] == seen["dockerd"] == (0, "1000\n0\n", "")


API_CASES: list[dict[str, Any]] = [
    {"KernelMemory": 10 * 1024 * 1024},           # kept, warned of, without effect
    {"KernelMemory": 1024 * 1024},                # 400: Minimum kernel memory limit
    {"CpuPercent": 50},                           # discarded, warned of
    {"IOMaximumBandwidth": 1000, "IOMaximumIOps": 10},  # 500: the bandwidth's words first
    {"IOMaximumIOps": 10},                        # 500: maximum IOPs
    {"InitPath": "/nowhere"},                     # docker-py's: no field of dockerd's
    {"Runtime": ""},                              # the default runtime, recorded
    {"StorageOpt": {}},                           # nothing, shown as nothing
    {"DeviceRequests": [{"Driver": "nvidia", "Count": 1}]},  # the start: its words, 128
    {"CpuRealtimePeriod": -1},                    # the start: written as an unsigned number
    {"ShmSize": -1},                              # 400 at create (it failed the start)
    {"CgroupnsMode": "foo"},                      # 400: invalid cgroup namespace mode
    # the restart policy: 400s in 20.10's words (no "invalid restart policy: " before them)
    {"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": -1}},
    {"RestartPolicy": {"Name": "no", "MaximumRetryCount": -1}},
    {"RestartPolicy": {"Name": "", "MaximumRetryCount": -1}},  # taken
    {"RestartPolicy": {"Name": "unless-stopped", "MaximumRetryCount": 2}},
    {"RestartPolicy": {"Name": "sometimes"}},
    {"AutoRemove": True, "RestartPolicy": {"Name": "sometimes"}},  # AutoRemove's, first
]
_SHOWN = ("KernelMemory", "CpuPercent", "InitPath", "Runtime", "StorageOpt", "DeviceRequests",
          "CpuRealtimePeriod")


def _create_and_start(host: str, host_config: dict[str, Any]) -> tuple[Any, ...]:
    api = docker.APIClient(base_url=host, version="1.41")
    try:
        body = {"Image": "busybox", "Cmd": ["true"],
                "HostConfig": {"NetworkMode": "none", **host_config}}
        created = api.post(api._url("/containers/create"), params={"name": "optapi"},
                           data=json.dumps(body), headers={"Content-Type": "application/json"})
        answer = created.json()
        if created.status_code != 201:
            return created.status_code, answer
        started = api.post(api._url("/containers/{0}/start", "optapi"))
        info = api.inspect_container("optapi")
        api.remove_container("optapi", force=True)
        shown = {key: info["HostConfig"].get(key, "<absent>") for key in _SHOWN}
        refused = _normalised(started.json()["message"]) if started.content.strip() else None
        return (created.status_code, answer["Warnings"], started.status_code, refused, shown,
                info["State"]["ExitCode"], _normalised(info["State"]["Error"]))
    finally:
        api.close()


@pytest.mark.parametrize("host_config", API_CASES, ids=[json.dumps(c) for c in API_CASES])
def test_a_field_is_answered_as_dockerd_answers_it(both: dict[str, Any],
                                                  host_config: dict[str, Any]) -> None:
    seen = {name: _create_and_start(cli.env["DOCKER_HOST"], host_config)
            for name, (cli, _client) in both.items()}
    assert seen["dockyard"] == seen["dockerd"]


@pytest.mark.parametrize("policy", ["on-failure:-1", "always:2"])
def test_an_updated_restart_policy_is_checked_as_dockerd_checks_it(both: dict[str, Any],
                                                                  policy: str) -> None:
    seen = {}
    for name, (cli, _client) in both.items():
        assert cli("create", "--pull", "never", "--network", "none", "--name", "optupd",
                   "busybox", "true").returncode == 0
        done = cli("update", "--restart", policy, "optupd")
        cli("rm", "-f", "optupd")
        seen[name] = (done.returncode, done.stdout, done.stderr)
    assert seen["dockyard"] == seen["dockerd"]
    assert seen["dockerd"][0] == 1


@pytest.mark.parametrize("mode", ["default", "none", "host"])
def test_a_disabled_network_is_dockerds(both: dict[str, Any], mode: str) -> None:
    """docker-py's ``network_disabled`` (``Config.NetworkDisabled``): whatever the mode, no
    network is joined and the container has a network namespace of its own with ``lo``
    alone, only /etc/hostname of the daemon's. The session daemon's default is its bridge,
    the private dockerd's none: the same answer from both."""
    script = "ls /sys/class/net; mount | grep ' /etc/' | cut -d' ' -f3; hostname | wc -c"
    seen = {}
    for name, (_cli, client) in both.items():
        api = client.api
        api.create_container("busybox", ["sh", "-c", script], name="netoff",
                             network_disabled=True,
                             host_config=api.create_host_config(network_mode=mode))
        try:
            created = api.inspect_container("netoff")
            api.start("netoff")
            exit_code = api.wait("netoff")["StatusCode"]
            after = api.inspect_container("netoff")
            seen[name] = (exit_code, api.logs("netoff").decode(),
                          created["NetworkSettings"]["Networks"], after["NetworkSettings"]["Networks"],
                          after["NetworkSettings"]["SandboxKey"], after["HostsPath"],
                          after["ResolvConfPath"], after["Config"]["NetworkDisabled"])
        finally:
            api.remove_container("netoff", force=True)
    assert seen["dockyard"] == seen["dockerd"]


def test_a_link_is_shown_as_dockerd_shows_it(both: dict[str, Any]) -> None:
    """``--link`` to a container that is there: the child's name and the parent's alias, as
    dockerd's link graph shows them in inspect (in no fixed order) (on ``--network none`` neither daemon gives
    the link an environment or hosts entry)."""
    seen = {}
    for name, (cli, _client) in both.items():
        cli("create", "--pull", "never", "--network", "none", "--name", "linkchild", "busybox", "true")
        try:
            cli("create", "--pull", "never", "--network", "none", "--name", "linkparent",
                "--link", "linkchild:al", "--link", "linkchild", "busybox", "true")
            shown = cli("inspect", "-f", "{{json .HostConfig.Links}}", "linkparent").stdout
            seen[name] = sorted(json.loads(shown))  # dockerd's order is a Go map's
        finally:
            cli("rm", "-f", "linkparent", "linkchild")
    assert seen["dockyard"] == seen["dockerd"]


def test_kernel_memory_is_ignored_from_api_1_42(both: dict[str, Any]) -> None:
    """From API 1.42 a create's ``KernelMemory`` is set to 0 before anything looks at it, as
    current dockerd's router does (20.10 speaks 1.41 at most: no reference here), so neither
    kept nor warned of; at 1.41 it is kept with dockerd 20.10's warning (above)."""
    api = docker.APIClient(base_url=both["dockyard"][0].env["DOCKER_HOST"], version="1.42")
    try:
        created = api.create_container("busybox", ["true"], name="kmem142", host_config={
            "NetworkMode": "none", "KernelMemory": 10 * 1024 * 1024})
        shown = api.inspect_container("kmem142")["HostConfig"]["KernelMemory"]
        api.remove_container("kmem142", force=True)
    finally:
        api.close()
    assert (created["Warnings"], shown) == ([], 0)


SUBNETS = {"dockerd": "10.231.70.0/24", "dockyard": "10.231.71.0/24"}  # a bridge each


@pytest.mark.parametrize("ips", [["169.254.3.3", "169.254.4.4"], ["nope"], ["10.9.9.9"]],
                         ids=["link-local", "unparsable", "not-link-local"])
def test_link_local_ips_are_dockerds(both: dict[str, Any], ips: list[str]) -> None:
    """``--link-local-ip``s on a user-defined network: each on the container's interface with
    libnetwork's /16 (and its broadcast), or the start refused as dockerd refuses it when it
    connects the container (500: one that does not parse, one that is not link-local)."""
    seen = {}
    for name, (cli, client) in both.items():
        api = client.api
        net = api.create_network("llnet", ipam={"Config": [{"Subnet": SUBNETS[name]}]})
        try:
            api.create_container(
                "busybox", ["sh", "-c", "ip -o -4 addr show eth0 | grep 169.254 | cut -d' ' -f4-8"],
                name="llcheck", host_config=api.create_host_config(network_mode="llnet"),
                networking_config=api.create_networking_config(
                    {"llnet": api.create_endpoint_config(link_local_ips=ips)}))
            try:
                api.start("llcheck")
                started = None
            except docker.errors.APIError as exc:
                started = (exc.status_code, exc.explanation)
            api.wait("llcheck")
            state = api.inspect_container("llcheck")["State"]
            seen[name] = (started, api.logs("llcheck").decode(), state["ExitCode"], state["Error"])
        finally:
            cli("rm", "-f", "llcheck")
            api.remove_network(net["Id"])
    assert seen["dockyard"] == seen["dockerd"]


def test_an_updated_real_time_setting_is_recorded_for_the_next_start(both: dict[str, Any]) -> None:
    """``docker update --cpu-rt-period/--cpu-rt-runtime``: dockerd 20.10 records them and
    writes neither to the running container's cgroup (a runtime the kernel would refuse is
    taken); they are the next start's."""
    seen = {}
    for name, (cli, _client) in both.items():
        cli("run", "-d", "--pull", "never", "--network", "none", "--name", "rtupdate", "busybox",
            "sleep", "60")
        try:
            updated = cli("update", "--cpu-rt-period", "2000", "--cpu-rt-runtime", "100", "rtupdate")
            inside = cli("exec", "rtupdate", "cat", "/sys/fs/cgroup/cpu/cpu.rt_period_us")
            shown = cli("inspect", "-f", "{{.HostConfig.CpuRealtimePeriod}} "
                        "{{.HostConfig.CpuRealtimeRuntime}}", "rtupdate")
            seen[name] = (updated.returncode, updated.stdout, updated.stderr, inside.stdout,
                          shown.stdout)
        finally:
            cli("rm", "-f", "rtupdate")
    assert seen["dockyard"] == seen["dockerd"]
