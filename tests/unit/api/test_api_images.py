"""The image endpoints over a real engine and store."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from urllib.parse import quote

from dockyard.testing.busybox import image_id


def lines(r) -> list[dict]:
    return [json.loads(line) for line in r.text.splitlines() if line.strip()]


def test_load_streams_json_messages(api, busybox_tar: Path) -> None:
    def chunks():  # chunked transfer encoding, as the docker CLI sends it
        with open(busybox_tar, "rb") as f:
            while block := f.read(65536):
                yield block

    r = api.post("/v1.45/images/load", data=chunks())
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    assert {"stream": "Loaded image: busybox:latest\n"} in lines(r)


def test_load_quiet(api, busybox_tar: Path) -> None:
    r = api.post("/images/load?quiet=1", data=busybox_tar.read_bytes())
    assert r.status_code == 200
    assert all("stream" in m or "status" in m for m in lines(r))


def test_load_garbage_is_a_400_before_the_stream_starts(api) -> None:
    r = api.post("/images/load", data=b"this is not a tar archive" * 1000)
    assert r.status_code == 400, r.text
    assert r.json()["message"]
    assert api.get("/images/json").json() == []


def test_list_shows_the_loaded_image(loaded) -> None:
    images = loaded.get("/images/json").json()
    assert len(images) == 1
    summary = images[0]
    assert summary["Id"] == image_id() and summary["RepoTags"] == ["busybox:latest"]
    assert "VirtualSize" not in summary  # gone in API 1.44
    assert summary["Size"] > 1_000_000 and isinstance(summary["Created"], int)


def test_old_api_versions_get_virtual_size(loaded) -> None:
    summary = loaded.get("/v1.41/images/json").json()[0]
    assert summary["VirtualSize"] == summary["Size"]


def test_inspect_and_history(loaded) -> None:
    image = loaded.get("/images/busybox/json").json()
    assert image["Id"] == image_id() and image["RootFS"]["Type"] == "layers"
    history = loaded.get("/images/busybox:latest/history").json()
    assert history[0]["Id"] == image_id() and history[0]["Tags"] == ["busybox:latest"]


def test_tag_with_slashes_and_port_then_inspect_quoted(loaded) -> None:
    r = loaded.post("/images/busybox/tag", params={"repo": "localhost:5000/team/app", "tag": "1"})
    assert r.status_code == 201, r.text
    name = quote("localhost:5000/team/app:1", safe="/:")
    image = loaded.get(f"/images/{name}/json").json()
    assert "localhost:5000/team/app:1" in image["RepoTags"]
    assert loaded.get(f"/v1.45/images/{name}/history").status_code == 200
    by_digest = loaded.get(f"/images/{quote(image_id())}/json")
    assert by_digest.status_code == 200


def test_tag_errors(loaded) -> None:
    assert loaded.post("/images/nope/tag", params={"repo": "x"}).status_code == 404
    bad = loaded.post("/images/busybox/tag", params={"repo": "UPPER"})  # dockerd 20.10: untyped
    assert bad.status_code == 500
    assert bad.json()["message"] == "invalid reference format: repository name must be lowercase"
    assert loaded.post("/images/busybox/tag").json() == {"message": "invalid reference format"}
    refused = loaded.post("/images/busybox/tag", params={"repo": "sha256"})
    assert refused.status_code == 400


def test_missing_image_is_404_with_dockerd_wording(api) -> None:
    r = api.get("/images/nope/json")
    assert r.status_code == 404
    assert r.json() == {"message": "no such image: nope: No such image: nope:latest"}


def test_remove_conflict_then_force(loaded) -> None:
    loaded.post("/images/busybox/tag", params={"repo": "other", "tag": "x"})
    conflict = loaded.delete(f"/images/{image_id()[7:19]}")
    assert conflict.status_code == 409 and "must be forced" in conflict.json()["message"]
    r = loaded.delete("/images/other:x")
    assert r.json() == [{"Untagged": "other:x"}]
    r = loaded.delete("/images/busybox", params={"force": "1"})
    assert {"Untagged": "busybox:latest"} in r.json()
    assert {"Deleted": image_id()} in r.json()
    assert loaded.get("/images/json").json() == []


def test_prune_default_keeps_tagged_and_all_removes_unused(loaded) -> None:
    r = loaded.post("/images/prune")
    assert r.status_code == 200 and r.json()["SpaceReclaimed"] == 0
    r = loaded.post("/images/prune", params={"filters": json.dumps({"dangling": ["false"]})})
    assert any("Deleted" in d for d in r.json()["ImagesDeleted"])
    assert loaded.get("/images/json").json() == []


def test_bad_filters_json_is_dockerds_500(loaded) -> None:
    r = loaded.get("/images/json", params={"filters": "{not json"})
    assert r.status_code == 500
    r = loaded.get("/images/json", params={"filters": '{"dangling": "true"}'})
    assert (r.status_code, r.json()["message"]) == (
        500, "json: cannot unmarshal string into Go value of type map[string]bool")


def test_list_filters(loaded) -> None:
    ref = {"filters": json.dumps({"reference": ["busy*"]})}
    assert len(loaded.get("/images/json", params=ref).json()) == 1
    legacy = {"filters": json.dumps({"reference": {"nomatch*": True}})}
    assert loaded.get("/images/json", params=legacy).json() == []


def test_save_one_and_many_then_reload(loaded, tmp_path: Path) -> None:
    r = loaded.get("/images/busybox/get", stream=True)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/x-tar"
    data = r.content
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert "manifest.json" in tar.getnames()
    many = loaded.get("/images/get", params={"names": ["busybox", "busybox:latest"]})
    assert many.status_code == 200
    loaded.delete("/images/busybox")
    assert loaded.post("/images/load", data=data).status_code == 200
    assert loaded.get("/images/busybox/json").status_code == 200


def test_save_missing_is_404_json(api) -> None:
    r = api.get("/images/nope/get")
    assert r.status_code == 404 and r.json()["message"] == "No such image: nope"
    assert api.get("/images/get").status_code == 400


def _rootfs_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        payload = b"hello from import\n"
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


def test_import_rootfs_with_changes(api) -> None:
    params = [("fromSrc", "-"), ("repo", "imported"), ("tag", "v1"), ("message", "from test"),
              ("changes", 'CMD ["/hello"]'), ("changes", "ENV A=b")]
    r = api.post("/images/create", params=params, data=_rootfs_tar(),
                 headers={"Content-Type": "application/tar"})
    assert r.status_code == 200, r.text
    assert lines(r)[-1]["status"].startswith("sha256:")
    image = api.get("/images/imported:v1/json").json()
    assert image["Config"]["Cmd"] == ["/hello"] and "A=b" in image["Config"]["Env"]
    assert image["Comment"] == "from test"


def test_create_without_source_is_an_error(api) -> None:
    for _ in range(3):  # the connection stays usable after each error
        assert api.post("/images/create").status_code == 400
        assert api.post("/images/create", params={"fromSrc": "http://x/y.tar"}).status_code == 400
        # a pull from a registry that is not there (on loopback: tests reach nothing else)
        assert api.post("/images/create", params={"fromImage": "127.0.0.1:9/busybox"}).status_code >= 400


def test_bad_import_parameters_answer_after_a_large_body(api) -> None:
    """The error arrives as a response, not a reset, while the client is still sending."""
    body = (b"\0" * (1 << 20) for _ in range(64))
    r = api.post("/images/create", params={"fromSrc": "http://x/y.tar"}, data=body)
    assert r.status_code == 400 and "URL" in r.json()["message"]


def test_system_df_counts_the_image(loaded) -> None:
    df = loaded.get("/system/df").json()
    assert len(df["Images"]) == 1 and df["LayersSize"] > 0


def test_client_vanishing_mid_upload_leaves_the_store_unchanged(api, busybox_tar: Path) -> None:
    import socket
    import time
    from urllib.parse import urlsplit

    data = busybox_tar.read_bytes()
    where = urlsplit(api.url)
    with socket.create_connection((where.hostname, where.port)) as sock:
        sock.sendall(b"POST /images/load HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-tar\r\n"
                     + f"Content-Length: {len(data)}\r\n\r\n".encode() + data[: len(data) // 2])
        time.sleep(0.2)
    deadline = time.monotonic() + 10
    while api.engine.images_list() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert api.get("/images/json").json() == []
    assert api.post("/images/load", data=data).status_code == 200
    assert len(api.get("/images/json").json()) == 1
