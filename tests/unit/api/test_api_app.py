"""Routing, version negotiation, the error edge and the system endpoints."""

from __future__ import annotations

import pytest

from dockyard import API_VERSION, MIN_API_VERSION


def test_ping_get_has_dockerd_headers(api) -> None:
    r = api.get("/_ping")
    assert r.status_code == 200 and r.text == "OK"
    assert r.headers["API-Version"] == API_VERSION
    assert r.headers["Docker-Experimental"] == "false"
    assert r.headers["OSType"] == "linux"
    assert r.headers["Builder-Version"] == "1"
    assert "no-cache" in r.headers["Cache-Control"] and r.headers["Pragma"] == "no-cache"


def test_ping_head_has_headers_and_no_body(api) -> None:
    r = api.request("HEAD", "/v1.41/_ping")
    assert r.status_code == 200 and r.content == b""
    assert r.headers["API-Version"] == API_VERSION


@pytest.mark.parametrize("prefix", ["", "/v1.24", "/v1.41", f"/v{API_VERSION}"])
def test_every_path_works_with_and_without_version_prefix(api, prefix: str) -> None:
    r = api.get(prefix + "/version")
    assert r.status_code == 200
    body = r.json()
    assert body["ApiVersion"] == API_VERSION and body["MinAPIVersion"] == MIN_API_VERSION


def test_too_new_version_is_dockerd_400(api) -> None:
    r = api.get("/v1.99/images/json")
    assert r.status_code == 400
    assert r.json() == {"message": f"client version 1.99 is too new. Maximum supported API version is {API_VERSION}"}


def test_too_old_version_is_dockerd_400(api) -> None:
    r = api.get("/v1.12/info")
    assert r.status_code == 400
    assert r.json()["message"] == (
        f"client version 1.12 is too old. Minimum supported API version is {MIN_API_VERSION}, "
        "please upgrade your client to a newer version")


@pytest.mark.parametrize("path", ["/nope", "/v1.45/nope", "/images", "/vX/version"])
def test_unknown_endpoint_is_page_not_found(api, path: str) -> None:
    r = api.get(path)
    assert r.status_code == 404
    assert r.json() == {"message": "page not found"}
    assert r.headers["Content-Type"] == "application/json"


def test_wrong_method_is_page_not_found(api) -> None:
    r = api.delete("/info")  # dockerd 20.10's router matches a route with its method
    assert r.status_code == 404
    assert r.json() == {"message": "page not found"}


def test_info_has_the_fields_docker_info_reads(api) -> None:
    info = api.get("/info").json()
    for key in ("ID", "Images", "Driver", "DockerRootDir", "OSType", "Architecture", "NCPU",
                "MemTotal", "Name", "ServerVersion", "KernelVersion", "OperatingSystem"):
        assert key in info
    assert info["Images"] == 0 and info["OSType"] == "linux"


def test_system_df_shape(api) -> None:
    df = api.get("/system/df").json()
    assert df["Images"] == [] and df["Containers"] == [] and df["Volumes"] == []
    assert df["BuildCache"] == [] and isinstance(df["LayersSize"], int)


def test_every_response_carries_api_version_header(api) -> None:
    assert api.get("/nope").headers["Api-Version"] == API_VERSION
    assert api.get("/images/nope/json").headers["Api-Version"] == API_VERSION


def test_route_index_finds_what_the_table_order_finds() -> None:
    """Each request tries only its first segment's routes; the table's order decides
    within them, as before (``/containers/json`` is the list, not an inspect of "json")."""
    from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine

    from dockyard.api.app import ROUTES, index_routes
    from dockyard.api.handlers import containers, images

    index = index_routes(ROUTES)

    def route(path: str) -> object:
        request = HTTPServerRequest(start_line=RequestStartLine("GET", path, "HTTP/1.1"),
                                    headers=HTTPHeaders({"Host": "dockyard"}))
        for matcher, handler in index.get(path[1:].split("/", 1)[0], []):
            if matcher.match(request) is not None:
                return handler
        return None

    assert route("/containers/json") is containers.ListHandler
    assert route("/containers/abc/json") is containers.InspectHandler
    assert route("/containers/abc") is containers.RemoveHandler
    assert route("/images/busybox:latest/json") is images.InspectHandler
    assert route("/nope") is None
    # dockerd's DELETE /containers/{name:.*} (a link's name, parent/alias); other methods 404
    assert route("/containers/a/b/c") is containers.LinkNameRemoveHandler
    assert sum(len(rules) for rules in index.values()) == len(ROUTES)
    with pytest.raises(ValueError, match="literal path segment"):
        index_routes([(r"/(containers|images)/json", containers.ListHandler)])


@pytest.mark.parametrize("path", ["/containers/a/b/c", "/v1.41/containers/x/nope"])
def test_a_known_segment_without_a_route_is_page_not_found(api, path: str) -> None:
    r = api.get(path)
    assert r.status_code == 404 and r.json() == {"message": "page not found"}
