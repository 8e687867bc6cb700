"""Resource limits side by side with a private real dockerd 20.10 (runc 1.1, this host's
cgroup v1): which create refuses them (its checks in its order), which start refuses them (what
runc writes and the kernel refuses or clamps: cpu-shares read back, a quota below 1 ms), which
``docker update`` refuses, and what the container's cgroup files hold afterwards, read inside it.
Through the raw API at 1.41 and the docker CLI."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import docker
import pytest

pytestmark = pytest.mark.slow

MB = 1 << 20
FILES = ("memory/memory.limit_in_bytes", "memory/memory.memsw.limit_in_bytes",
         "memory/memory.soft_limit_in_bytes", "cpu/cpu.shares", "cpu/cpu.cfs_period_us",
         "cpu/cpu.cfs_quota_us", "pids/pids.max")
READ = "; ".join(f'echo "{f.split("/")[1]}=$(cat /sys/fs/cgroup/{f})"' for f in FILES)


@pytest.fixture
def apis(dockerd: Any, dockyard_daemon: Any, client: Any) -> Iterator[dict[str, Any]]:
    """Each daemon's low-level docker-py client at API 1.41 (busybox in each; ``client``
    removes what a failed test leaves in dockyard)."""
    pair = {name: docker.APIClient(base_url=host, version="1.41", timeout=30)
            for name, host in (("dockerd", dockerd.host), ("dockyard", dockyard_daemon.host))}
    yield pair
    for api in pair.values():
        api.close()


def _plain(text: str) -> str:
    """Without what differs by daemon: ids, and the cgroup's parent (docker, dockyard)."""
    text = re.sub(r"/(docker|dockyard)/[0-9a-f]{64}/", "/<cg>/", text)
    return re.sub(r"[0-9a-f]{64}", "<id>", text)


def _refusal(exc: docker.errors.APIError) -> tuple[int, str]:
    return exc.response.status_code, _plain(str(exc.explanation))


def _run(api: Any, resources: dict[str, Any]) -> dict[str, Any]:
    """Create and start a container with ``resources``: each step's outcome, and the cgroup
    files as the container reads them."""
    try:
        made = api.create_container("busybox", ["sh", "-c", READ],
                                    host_config={"NetworkMode": "none", **resources})
    except docker.errors.APIError as exc:
        return {"create": _refusal(exc)}
    seen: dict[str, Any] = {"create": made["Warnings"]}
    try:
        try:
            api.start(made["Id"])
        except docker.errors.APIError as exc:
            seen["start"] = _refusal(exc)
            seen["state"] = api.inspect_container(made["Id"])["State"]["ExitCode"]
            return seen
        api.wait(made["Id"], timeout=30)
        seen["files"] = api.logs(made["Id"]).decode()
        return seen
    finally:
        api.remove_container(made["Id"], force=True)


def _update(api: Any, resources: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """``POST /containers/{id}/update`` of a running container made with ``resources``: the
    answer, the cgroup files as the container reads them, and what inspect records."""
    made = api.create_container("busybox", ["sleep", "60"],
                                host_config={"NetworkMode": "none", **resources})
    try:
        api.start(made["Id"])
        url = api._url("/containers/{0}/update", made["Id"])
        try:
            seen: dict[str, Any] = {"update": api._result(api._post_json(url, data=request), True)}
        except docker.errors.APIError as exc:
            seen = {"update": _refusal(exc)}
        seen["files"] = api.exec_start(api.exec_create(made["Id"], ["sh", "-c", READ])).decode()
        recorded = api.inspect_container(made["Id"])["HostConfig"]
        seen["recorded"] = {key: recorded[key] for key in (*resources, *request)}
        return seen
    finally:
        api.remove_container(made["Id"], force=True)


START_FAILED = ("failed to create shim task: OCI runtime create failed: runc create failed: "
                "unable to start container process: error during container init: error setting "
                "cgroup config for procHooks process: ")

PERIOD = (400, ("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s "
                "(i.e. 1000000)"))
MEMORY = (400, "Minimum memory limit allowed is 6MB")
RUNS = {
    # runc writes the shares, reads them back and refuses what the kernel clamped
    "cpu-shares-1": ({"CpuShares": 1},
                     (500, START_FAILED + "the minimum allowed cpu-shares is 2: unknown")),
    "cpu-shares-max": ({"CpuShares": 262145},
                       (500, START_FAILED + "the maximum allowed cpu-shares is 262144: unknown")),
    "cpu-shares-negative": ({"CpuShares": -1}, (500, "shares: invalid argument")),
    # the memory limit is checked first of all; a negative swap bound or reservation is unset
    "memory-before-swap": ({"Memory": 2 * MB, "MemorySwap": 1 * MB}, MEMORY),
    "memory-before-swappiness": ({"Memory": 1, "MemorySwappiness": 101}, MEMORY),
    "swap-unlimited-by-any-negative": ({"Memory": 8 * MB, "MemorySwap": -2}, None),
    "reservation-negative": ({"MemoryReservation": -1}, None),
    "kernel-memory-negative": ({"KernelMemory": -1}, None),
    # a period is checked and written without a quota, before anything else of the CPU's
    "period-alone-short": ({"CpuPeriod": 100}, PERIOD),
    "period-alone-long": ({"CpuPeriod": 1_000_001}, PERIOD),
    "period-alone": ({"CpuPeriod": 1000}, None),
    "period-before-shares": ({"CpuShares": 1, "CpuPeriod": 1}, PERIOD),
    "period-negative-beside-cpus": ({"NanoCpus": 10**9, "CpuPeriod": -1}, PERIOD),
    "cpus-conflict-before-range": ({"NanoCpus": 1, "CpuPeriod": 100_000},
                                   (400, ("Conflicting options: Nano CPUs and CPU Period cannot "
                                         "both be set"))),
    # --cpus below 0.01: no quota at all, or one the kernel refuses at the start
    "cpus-no-quota": ({"NanoCpus": 1}, None),
    "cpus-quota-below-1ms": ({"NanoCpus": 9_999_999},
                             (500, START_FAILED + 'failed to write "999": write /sys/fs/'
                                   "cgroup/cpu/<cg>/cpu.cfs_quota_us: invalid argument: unknown")),
    "quota-of-cpus-overridden": ({"NanoCpus": 10**9, "CpuQuota": -1}, None),
    "oom-score-adj-after-resources": ({"OomScoreAdj": 1001, "CpuPeriod": 1}, PERIOD),
}


@pytest.mark.parametrize("resources, refused", list(RUNS.values()), ids=list(RUNS))
def test_a_create_and_start_refuse_or_write_limits_as_dockerd(
        apis: dict[str, Any], resources: dict[str, Any], refused: tuple[int, str] | None) -> None:
    seen = {name: _run(api, resources) for name, api in apis.items()}
    assert seen["dockyard"] == seen["dockerd"]
    outcome = seen["dockerd"].get("start", seen["dockerd"]["create"])
    if refused is None:
        assert "files" in seen["dockerd"], outcome
    else:
        assert outcome == refused
        assert seen["dockerd"].get("state", 128) == 128  # a refused start's exit code


RUNC = "Cannot update container <id>: runc did not terminate successfully: exit status 1: "
DONE: dict[str, Any] = {"Warnings": None}
KMEM = "Specifying a kernel memory limit is deprecated and will be removed in a future release."
OOM = ("OOM killer is disabled for the container, but no memory limit is set, this can result "
       "in the system running out of resources.")
UPDATES = {
    "cpu-shares-1": ({"CpuShares": 512}, {"CpuShares": 1},
                     (500, RUNC + "the minimum allowed cpu-shares is 2\n: unknown")),
    "cpu-shares-negative": ({}, {"CpuShares": -1},
                            (500, RUNC + "the maximum allowed cpu-shares is 262144\n: unknown")),
    "period-alone": ({}, {"CpuPeriod": 1000}, DONE),
    "period-alone-short": ({}, {"CpuPeriod": 100}, PERIOD),
    "period-before-shares": ({}, {"CpuShares": 1, "CpuPeriod": 100}, PERIOD),
    "cpus-no-quota": ({}, {"NanoCpus": 1}, DONE),
    "cpus-quota-below-1ms": ({}, {"NanoCpus": 9_999_999},
                             (500, RUNC + 'failed to write "999": write /sys/fs/cgroup/cpu/<cg>/'
                                          "cpu.cfs_quota_us: invalid argument\n: unknown")),
    "swap-unlimited-leaves-the-bound": ({"Memory": 8 * MB}, {"Memory": 12 * MB, "MemorySwap": -1},
                                        DONE),
    "swap-negative": ({"Memory": 8 * MB}, {"MemorySwap": -2}, DONE),
    "memory-before-swap": ({"Memory": 8 * MB}, {"Memory": 2 * MB, "MemorySwap": 1 * MB}, MEMORY),
    "reservation-negative": ({"MemoryReservation": 8 * MB}, {"MemoryReservation": -1}, DONE),
    "kernel-memory": ({}, {"KernelMemory": 8 * MB}, {"Warnings": [KMEM]}),
    "oom-killer-without-memory": ({}, {"OomKillDisable": True}, {"Warnings": [OOM]}),
    "quota-beside-a-negative-one": ({"CpuQuota": -1}, {"NanoCpus": 10**9}, DONE),
}


@pytest.mark.parametrize("resources, request_, answer", list(UPDATES.values()), ids=list(UPDATES))
def test_an_update_refuses_or_writes_limits_as_dockerd(
        apis: dict[str, Any], resources: dict[str, Any], request_: dict[str, Any],
        answer: Any) -> None:
    """A refusal by runc leaves what it wrote before (cpu-shares clamped to 2) and the record
    as it was; a swap bound of -1 leaves the bound in place."""
    seen = {name: _update(api, resources, request_) for name, api in apis.items()}
    assert seen["dockyard"] == seen["dockerd"]
    assert seen["dockerd"]["update"] == answer


def test_the_docker_cli_sees_the_same_refusals(both: dict[str, Any]) -> None:
    """``docker run`` (exit 125 for a create's or a start's refusal alike) and ``docker
    update`` (exit 1), their words as printed."""
    seen = {}
    for name, (cli, _client) in both.items():
        runs = [cli("run", "--rm", "--pull", "never", "--network", "none", *flags, "busybox",
                    "true")
                for flags in (("--cpu-shares", "1"), ("--memory-swap", "1m", "-m", "2m"),
                              ("--cpu-period", "100"))]
        cli("run", "-d", "--name", "limitsupdate", "--network", "none", "--pull", "never",
            "busybox", "sleep", "60")
        try:
            updates = [cli("update", *flags, "limitsupdate")
                       for flags in (("--cpu-shares", "1"), ("--cpu-period", "1000"))]
            inside = cli("exec", "limitsupdate", "cat", "/sys/fs/cgroup/cpu/cpu.shares",
                         "/sys/fs/cgroup/cpu/cpu.cfs_period_us")
        finally:
            cli("rm", "-f", "limitsupdate")
        seen[name] = [(done.returncode, _plain(done.stderr)) for done in (*runs, *updates)] + \
            [inside.stdout]
    assert seen["dockyard"] == seen["dockerd"]
    assert [code for code, _ in seen["dockerd"][:5]] == [125, 125, 125, 1, 0]
    assert "the minimum allowed cpu-shares is 2" in seen["dockerd"][0][1]
    assert "Minimum memory limit allowed is 6MB" in seen["dockerd"][1][1]
    assert "CPU cfs period can not be less than 1ms" in seen["dockerd"][2][1]
    assert seen["dockerd"][5] == "2\n1000\n"


CPUSET = ("grep cpuset /proc/self/cgroup; cat /sys/fs/cgroup/cpuset/cpuset.cpus "
          "/sys/fs/cgroup/cpuset/cpuset.mems; grep Cpus_allowed_list /proc/1/status")


def test_an_update_of_a_cpuset_is_seen_inside_as_under_dockerd(apis: dict[str, Any]) -> None:
    """dockerd 20.10 (recorded on this cgroup v1 host): ``POST /containers/{id}/update`` with
    ``CpusetCpus``/``CpusetMems`` of a running container started without them records them in
    HostConfig and writes its own cpuset cgroup, which the container sees — in a cgroup
    namespace of its own (dockyard's default) too, rooted there since its start (dockyard's was
    the hierarchy's root, the container moved below it at the update: /sys/fs/cgroup/cpuset
    showed the root's CPUs and /proc/self/cgroup a path; in the host's namespace it matched);
    a CPU or memory node the host lacks is refused first."""
    last = str(max(os.sched_getaffinity(0)))
    seen = {}
    for name, api in apis.items():
        made = api.create_container("busybox", ["sleep", "60"],
                                    host_config={"NetworkMode": "none", "CgroupnsMode": "private"})
        try:
            api.start(made["Id"])
            url = api._url("/containers/{0}/update", made["Id"])
            answers = [(done.status_code, done.json()) for done in (
                api._post_json(url, data=body) for body in (
                    {"CpusetCpus": "1024"}, {"CpusetMems": "1024"}, {"CpusetCpus": "abc"},
                    {"CpusetCpus": last, "CpusetMems": "0"}))]
            inside = api.exec_start(api.exec_create(made["Id"], ["sh", "-c", CPUSET])).decode()
            recorded = api.inspect_container(made["Id"])["HostConfig"]
            seen[name] = [answers, re.sub(r"/(docker|dockyard)/[0-9a-f]{64}$", "/<cg>", inside,
                                          flags=re.MULTILINE),
                          [recorded["CpusetCpus"], recorded["CpusetMems"]]]
        finally:
            api.remove_container(made["Id"], force=True)
    assert seen["dockyard"] == seen["dockerd"]
    answers, inside, recorded = seen["dockerd"]
    assert answers[-1] == (200, {"Warnings": None}) and recorded == [last, "0"]
    assert inside.split("\n")[1:4] == [last, "0", f"Cpus_allowed_list:\t{last}"]
