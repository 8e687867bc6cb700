"""bench.bench_api_run's pure parts: /proc readings, the missing-endpoint rule, the result table;
and the harness's non-time figures (Amount)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/ lives at the repo root

from bench import bench_api_run as api_run
from bench.harness import Amount, Figure, Result, Stats, Unsupported, format_figure, format_table


def _proc(root: Path, pid: int, ppid: int, rss_kib: int | None) -> None:
    (root / str(pid)).mkdir(parents=True)
    rss = f"VmRSS:\t  {rss_kib} kB\n" if rss_kib is not None else ""
    (root / str(pid) / "status").write_text(f"Name:\tx\nPPid:\t{ppid}\n{rss}Threads:\t1\n")


def test_proc_readings(tmp_path: Path) -> None:
    _proc(tmp_path, 10, 1, 2048)
    _proc(tmp_path, 11, 10, 512)
    _proc(tmp_path, 12, 10, None)  # a kernel thread has no VmRSS
    (tmp_path / "self").mkdir()
    assert api_run.rss_bytes(10, tmp_path) == 2048 * 1024 and api_run.rss_bytes(12, tmp_path) == 0
    assert api_run.rss_bytes(99, tmp_path) == 0 and api_run.parent_pid(99, tmp_path) == 0
    assert api_run.parent_pid(11, tmp_path) == 10
    assert api_run.children(10, tmp_path) == [11, 12]
    assert api_run.rss_bytes(os.getpid()) > 0 and api_run.parent_pid(os.getpid()) == os.getppid()


def _api_error(status: int, message: str) -> Exception:
    import docker.errors

    response = requests.Response()
    response.status_code = status
    response._content = b'{"message": "%s"}' % message.encode()
    error: Exception = docker.errors.APIError("error", response=response, explanation=message)
    return error


def test_only_a_missing_route_is_endpoint_missing() -> None:
    assert api_run.missing_endpoint(_api_error(404, "page not found"))
    assert not api_run.missing_endpoint(_api_error(404, "No such container: x"))
    assert not api_run.missing_endpoint(_api_error(500, "page not found"))
    assert not api_run.missing_endpoint(RuntimeError("page not found"))
    with pytest.raises(Unsupported, match="endpoint missing"), api_run.endpoint_guard():
        raise _api_error(404, "page not found")
    with pytest.raises(RuntimeError), api_run.endpoint_guard():
        raise RuntimeError("boom")


def test_amount_figures_format_and_compare() -> None:
    assert format_figure(Amount(39.24, "MiB")) == "39.2 MiB"
    r = Result("rss", Amount(40.0, "MiB"), {"dockerd": Amount(160.0, "MiB"), "gone": "absent"})
    assert r.ratio("dockerd") == 0.25 and r.ratio("gone") is None
    assert r.as_json()["dockyard"] == {"value": 40.0, "unit": "MiB"}


def test_results_table_lists_every_peer_and_reason() -> None:
    t = Stats((0.01, 0.012, 0.011))
    mine: dict[str, Figure] = {"none": t, "bridge": "endpoint missing", "batch": t, "rss": Amount(40, "MiB"),
                               "shim": Amount(8, "MiB"), "cli none": Stats((0.2,)), "docker cli none": t,
                               "cli ps": Stats((0.1,)), "docker cli ps": Stats((0.02,))}
    dockerd: dict[str, Figure] = {k: Stats((0.3,)) for k in ("none", "bridge", "cli none", "cli bridge", "cli ps",
                                                             "batch")}
    dockerd.update(rss=Amount(112, "MiB"), shim=Amount(13, "MiB"))
    podman: dict[str, Figure] = {"none": "podman not installed", "bridge": "podman not installed"}
    low: dict[str, Figure] = {"runc run": Stats((0.026,)), "crun run": Stats((0.009,)),
                              "unshare+chroot floor": Stats((0.003,))}
    results = api_run.results(mine, dockerd, podman, low, Stats((0.008,)))
    assert [r.name for r in results] == ["api run --rm true (network none)", "api run --rm true (default bridge)",
                                         "CLI run --rm true (network none)", "CLI ps", "50× run -d, then wait", "daemon idle RSS", "per-container supervisor RSS"]
    assert set(results[0].peers) == {"dockerd (docker-py)", "docker run --rm (CLI)", "podman run --rm (runc)",
                                     "runc run", "crun run", "unshare+chroot floor",
                                     "docker-py alone (null server)"}
    table = format_table(results)
    assert "n/a (endpoint missing)" in table and "n/a (podman not installed)" in table
    assert "40.0 MiB" in table and "0.36×" in table  # 40 / 112


def test_the_null_engine_serves_docker_py_a_whole_run(tmp_path: Path) -> None:
    """docker-py's floor is only a floor if ``containers.run`` really goes through every
    request against the stand-in: fresh ids, empty logs, exit 0, removal; and anything
    else is dockerd's 404."""
    import docker
    from bench.harness import Context
    from docker.errors import NotFound

    with api_run.null_side(Context(repeats=1, peers={}, cache=tmp_path)) as side:
        client = docker.DockerClient(base_url=side.host, version="auto", timeout=10)
        try:
            assert client.containers.run("busybox", "true", remove=True, network_mode="none") == b""
            first, second = client.containers.create("busybox"), client.containers.create("busybox")
            assert first.id != second.id and len(first.id) == 64
            with pytest.raises(NotFound, match="page not found"):
                client.images.get("busybox")
        finally:
            client.close()
    assert not list((tmp_path / "scratch").iterdir())
