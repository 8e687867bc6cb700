"""Malformed image references side by side with a private dockerd 20.10: each status, its
Content-Type and its exact words. dockerd reads a name with its vendored reference package
(``ParseNormalizedNamed``: a bad tag or digest is an ``invalid reference format``, an upper-case
name ``…: repository name must be lowercase``); a tag's ``repo`` and ``tag`` that do not parse are
its plain 500 (TagImage passes them up untyped), its reference store's refusals 400s (``sha256``
as a name among them); an image inspect says ``no such image: NAME: `` before any lookup error;
and a newline in a path's name matches no route (``.*`` takes none): 404 ``page not found``."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from dockyard.testing.daemon import DockerCLI

pytestmark = pytest.mark.slow

HEX = "a" * 64
NAMES = ["ABC", "a:b:c", "x:" + "a" * 129, "x@sha256:bad", "a/B:c", "A!b", f"ABC@sha256:{HEX}", "-a",
         "x:A!", "a\x01b", "Foo/bar", "x@sha256:" + "a" * 63, "x@sha256:" + "A" * 64, "x@md5:" + HEX[:32],
         "x/" + "a" * 260, "a:", "sha256:abc", f"sha256:{HEX}", HEX]
REPOS = ["ABC", "a:b:c", "", "sha256", f"sha256:{HEX}", "sha256:abc", HEX, "x@sha256:bad",
         f"x@sha256:{HEX}", "a\nb", "a b", "Foo/bar", "x/" + "a" * 260, "x@sha256:" + "a" * 63]
TAGS = ["a" * 129, f"sha256:{HEX}", "A:B", "-a", ".a", ""]


def requests() -> list[tuple[str, str]]:
    out = []
    for name in NAMES:
        out += [("GET", f"/images/{quote(name, safe='')}/json"),
                ("GET", f"/images/{quote(name, safe='')}/history"),
                ("DELETE", f"/images/{quote(name, safe='')}"),
                ("POST", f"/images/{quote(name, safe='')}/tag?repo=dyref-x")]
    out += [("POST", f"/images/busybox/tag?repo={quote(repo, safe='')}") for repo in REPOS]
    out += [("POST", f"/images/busybox/tag?repo=dyref-x&tag={quote(tag, safe='')}") for tag in TAGS]
    out += [("POST", "/images/dyref-nosuch/tag?repo=ABC"), ("POST", "/images/dyref-nosuch/tag"),
            ("POST", f"/images/busybox/tag?repo=dyref-y@sha256:{HEX}&tag=t")]
    out += [(method, path.format("a%0Ab")) for method, path in [
        ("GET", "/images/{}/json"), ("GET", "/images/{}/history"), ("DELETE", "/images/{}"),
        ("POST", "/images/{}/tag?repo=x"), ("POST", "/containers/{}/start")]]
    return out


def test_reference_errors_as_dockerds(both: dict[str, tuple[DockerCLI, Any]]) -> None:
    seen: dict[str, list[Any]] = {}
    for side, (cli, client) in both.items():
        api = client.api
        seen[side] = []
        try:
            for method, path in requests():
                answer = api.request(method, api._url(path))
                seen[side].append([method, path, answer.status_code,
                                   answer.headers.get("Content-Type"), answer.text])
            for args in [("image", "inspect", "busybox:dyref-nosuch"), ("image", "inspect", "ABC"),
                         ("history", "busybox:dyref-nosuch"), ("tag", "busybox", "sha256"),
                         ("rmi", "a:b:c")]:
                done = cli(*args)
                seen[side].append([args, done.returncode, done.stdout, done.stderr])
        finally:
            cli("rmi", "dyref-x", "dyref-x:latest", "dyref-y:t")
    assert seen["dockyard"] == seen["dockerd"]
    statuses = {(s[0], s[2]) for s in seen["dockerd"] if isinstance(s[0], str)}
    assert {("POST", 500), ("POST", 400), ("GET", 400), ("GET", 404), ("POST", 201)} <= statuses


SAVES = ["Busybox:x", "x:A!", "a:b:c", "busybox:dyref-nosuch", "dyref-nosuch", "abcdef", "sha256:abc",
         f"dyref-nosuch@sha256:{HEX}"]
COMMITS = [{"repo": "ABC"}, {"repo": "a:b:c"}, {"repo": "x", "tag": "A:B"}, {"repo": "sha256"},
           {"repo": f"x@sha256:{HEX}"}, {"container": "dyref-nosuch", "repo": "ABC"}]


def test_save_and_commit_names_as_dockerds(both: dict[str, tuple[DockerCLI, Any]]) -> None:
    """A save reads each name as dockerd 20.10's tarexport (a bad one its untyped 500, a missing
    bare name ``No such image: NAME`` as given, a missing tag ``reference does not exist``); a
    commit's repo and tag that do not parse are its untyped 500, as a tag's."""
    seen: dict[str, list[Any]] = {}
    for side, (cli, client) in both.items():
        api = client.api
        made = cli("create", "--pull", "never", "--name", "dyref-c", "busybox", "true")
        assert made.returncode == 0, made.stderr
        try:
            seen[side] = []
            for name in SAVES:
                answer = api.get(api._url("/images/get"), params={"names": name})
                seen[side].append([name, answer.status_code, answer.text])
            for params in COMMITS:
                answer = api.post(api._url("/commit"), params={"container": "dyref-c", **params})
                seen[side].append([params, answer.status_code, answer.text])
        finally:
            cli("rm", "-f", "dyref-c")
    assert seen["dockyard"] == seen["dockerd"]
    assert [s[1] for s in seen["dockerd"]][:3] == [500, 500, 500]
