"""``/volumes`` endpoints through docker-py: create/inspect/list/remove/prune with dockerd's
shapes, filters and wording, and names that can never leave the volumes directory."""

from __future__ import annotations

import http.client
import json
import os
import socket
from typing import Any

import docker.errors
import pytest


def test_create_inspect_list_remove(client: Any, dockyard_daemon: Any) -> None:
    api = client.api
    made = api.create_volume("vol-one", labels={"team": "a"})
    assert made["Name"] == "vol-one" and made["Driver"] == "local" and made["Scope"] == "local"
    assert made["Labels"] == {"team": "a"} and made["Options"] is None
    assert made["Mountpoint"] == os.path.join(dockyard_daemon.root, "volumes", "vol-one", "_data")
    assert os.path.isdir(made["Mountpoint"])
    assert made["CreatedAt"].endswith("Z")
    assert api.create_volume("vol-one", labels={"other": "x"}) == made  # existing: same volume
    assert api.inspect_volume("vol-one") == made
    anonymous = api.create_volume()
    assert len(anonymous["Name"]) == 64 and anonymous["Labels"] is None
    names = {v["Name"] for v in api.volumes()["Volumes"]}
    assert {"vol-one", anonymous["Name"]} <= names
    assert [v["Name"] for v in api.volumes(filters={"label": "team=a"})["Volumes"]] == ["vol-one"]
    assert api.volumes(filters={"label": "team=b"})["Volumes"] == []
    assert [v["Name"] for v in api.volumes(filters={"name": "vol-o"})["Volumes"]] == ["vol-one"]
    assert api.volumes(filters={"driver": "nfs"})["Volumes"] == []
    api.remove_volume("vol-one")
    with pytest.raises(docker.errors.NotFound, match="get vol-one: no such volume"):
        api.inspect_volume("vol-one")
    with pytest.raises(docker.errors.NotFound, match="get vol-one: no such volume"):
        api.remove_volume("vol-one")
    assert _raw(dockyard_daemon.socket, "DELETE", "/v1.45/volumes/vol-one?force=1") == (204, None)
    assert not os.path.exists(made["Mountpoint"])


@pytest.mark.parametrize("body, status, message", [
    ({"Name": "../../etc"}, 400, ('create ../../etc: "../../etc" includes invalid characters for a '
                                'local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed')),
    ({"Name": "/tmp/x"}, 400, "includes invalid characters"),
    ({"Name": "x"}, 400, ("create x: volume name is too short, names should be at least two "
                          "alphanumeric characters")),  # dockerd 20.10's words
    ({"Name": "ok-name", "Driver": "nfs"}, 404, 'error looking up volume plugin nfs: plugin "nfs" not found'),
    ({"Name": "ok-name", "DriverOpts": {"colour": "red"}}, 400, 'create ok-name: invalid option: "colour"'),
    ({"Name": "ok-name", "DriverOpts": {"type": "tmpfs"}}, 400, 'missing required option: "device"'),
])
def test_create_refusals(client: Any, dockyard_daemon: Any, body: dict[str, Any], status: int,
                         message: str) -> None:
    reply_status, reply = _raw(dockyard_daemon.socket, "POST", "/v1.45/volumes/create", body)
    assert reply_status == status and message in reply["message"]
    assert not any(v["Name"] == "ok-name" for v in client.api.volumes()["Volumes"] or [])


def test_path_like_names_never_leave_the_volumes_dir(client: Any, dockyard_daemon: Any) -> None:
    """A name is never a path: one that decodes to ``..`` or ``//`` is answered as dockerd's
    router answers an unclean path (301 to the cleaned one, nothing removed), any other that is
    no volume is a 404."""
    expected = {"/v1.45/volumes/..": 301, "/v1.45/volumes/.gone-x": 404,
                "/v1.45/volumes/%2e%2e%2fcontainers": 301, "/v1.45/volumes/a%00b": 404,
                "/v1.45/volumes/%2fetc": 301}
    for target, wanted in expected.items():
        status, reply = _raw(dockyard_daemon.socket, "DELETE", target)
        assert status == wanted, (target, reply)
    assert os.path.isdir(os.path.join(dockyard_daemon.root, "containers"))


def test_filters_are_checked(client: Any) -> None:
    with pytest.raises(docker.errors.APIError, match="Invalid filter 'colour'"):
        client.api.volumes(filters={"colour": "red"})
    with pytest.raises(docker.errors.APIError, match="Invalid filter 'dangling=\\[maybe\\]'"):
        client.api.volumes(filters={"dangling": "maybe"})


def test_in_use_dangling_and_prune(client: Any, dockyard_daemon: Any) -> None:
    api = client.api
    api.create_volume("vol-used")
    api.create_volume("vol-free")
    ctr = api.create_container("busybox", ["true"], volumes=["/anon"], host_config=api.create_host_config(
        binds=["vol-used:/data"], network_mode="none"))
    anonymous = [m["Name"] for m in api.inspect_container(ctr["Id"])["Mounts"] if m["Destination"] == "/anon"]
    assert len(anonymous[0]) == 64
    status, reply = _raw(dockyard_daemon.socket, "DELETE", "/v1.45/volumes/vol-used?force=1")
    assert (status, reply) == (409, {"message": f"remove vol-used: volume is in use - [{ctr['Id']}]"})
    dangling = {v["Name"] for v in api.volumes(filters={"dangling": "true"})["Volumes"]}
    assert "vol-free" in dangling and "vol-used" not in dangling
    used = {v["Name"] for v in api.volumes(filters={"dangling": "false"})["Volumes"]}
    assert used == {"vol-used", anonymous[0]}
    free_anon = api.create_volume(labels={"com.docker.volume.anonymous": ""})["Name"]
    with open(os.path.join(dockyard_daemon.root, "volumes", free_anon, "_data", "f"), "wb") as f:
        f.write(b"x" * 1000)
    report = api.prune_volumes()  # API >= 1.42: anonymous, unused volumes only
    assert report == {"VolumesDeleted": [free_anon], "SpaceReclaimed": 1000}
    report = api.prune_volumes(filters={"all": "true"})
    assert "vol-free" in report["VolumesDeleted"] and "vol-used" not in report["VolumesDeleted"]
    api.remove_container(ctr["Id"], v=True)
    names = {v["Name"] for v in api.volumes()["Volumes"]}
    assert "vol-used" in names and anonymous[0] not in names  # -v: anonymous ones only


def test_old_api_prune_removes_named_volumes_too(client: Any, dockyard_daemon: Any) -> None:
    client.api.create_volume("vol-old-api")
    status, reply = _raw(dockyard_daemon.socket, "POST", "/v1.41/volumes/prune")
    assert status == 200 and "vol-old-api" in reply["VolumesDeleted"]


def test_system_df_volumes(client: Any, run: Any) -> None:
    client.api.create_volume("vol-df")
    run("head -c 5000 /dev/zero > /v/f", volumes=["vol-df:/v"])
    [usage] = [v for v in client.api.df()["Volumes"] if v["Name"] == "vol-df"]
    assert usage["UsageData"] == {"Size": 5000, "RefCount": 0}
    client.api.create_container("busybox", ["true"], host_config=client.api.create_host_config(
        binds=["vol-df:/v"], network_mode="none"))
    [usage] = [v for v in client.api.df()["Volumes"] if v["Name"] == "vol-df"]
    assert usage["UsageData"] == {"Size": 5000, "RefCount": 1}


def _raw(sock_path: Any, method: str, target: str, body: Any = None) -> tuple[int, Any]:
    class Conn(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.connect(str(sock_path))

    conn = Conn("localhost", timeout=30)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, target, body=data, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw.strip() else None
    finally:
        conn.close()


def test_creates_racing_removals_never_lose_a_used_volume(client: Any) -> None:
    """Containers created while another client keeps removing and pruning their volume: every
    container that exists at the end has its volume on disk."""
    import threading

    api = client.api
    stop = threading.Event()
    outcomes: list[int] = []

    def remover() -> None:
        while not stop.is_set():
            try:
                api.remove_volume("race-h4")
                outcomes.append(204)
            except docker.errors.APIError as exc:
                outcomes.append(exc.status_code)
            api.prune_volumes(filters={"all": "true"})

    thread = threading.Thread(target=remover)
    thread.start()
    try:
        ids = [api.create_container("busybox", ["true"], host_config=api.create_host_config(
            binds=["race-h4:/d"], network_mode="none"))["Id"] for _ in range(12)]
    finally:
        stop.set()
        thread.join()
    assert set(outcomes) <= {204, 404, 409}
    for cid in ids:
        [mount] = api.inspect_container(cid)["Mounts"]
        assert os.path.isdir(mount["Source"]), mount
    with pytest.raises(docker.errors.APIError, match="volume is in use"):
        api.remove_volume("race-h4")
