"""Builder features the corpus does not show on its own: the RUN environment dockerd gives,
ADD of a URL (served from loopback), predefined and proxy build args, ONBUILD triggers in a
child build, context symlinks that try to escape, and bad input refused before any step runs."""

from __future__ import annotations

import functools
import hashlib
import io
import os
import re
import stat
import tarfile
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import docker.errors
import pytest
from buildhelp import Built, image_file, write_context

HEX12 = re.compile(r" ---> Running in ([0-9a-f]{12})\n")


def _read(client: Any, image: str, path: str) -> str:
    found = image_file(client.api.inspect_image(image), path)
    assert found is not None, f"{path} missing from {image}"
    return found.read_text()


def _env(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines())


def test_run_env_has_path_hostname_and_home(build: Callable[..., Built], client: Any) -> None:
    """dockerd puts PATH and HOSTNAME (the step container's short id) first and HOME from the
    user's passwd entry last, unless the image sets them."""
    got = build({"Dockerfile": "FROM busybox\nRUN env > /root.env\nUSER nobody\n"
                 "RUN env > /tmp/nobody.env\nUSER root\nENV HOME=/custom\nRUN env > /custom.env\n"},
                tag="runenv:1", nocache=True)
    assert got.error is None, got.text
    ids = HEX12.findall(got.text)
    root, nobody, custom = (_env(_read(client, "runenv:1", p))
                            for p in ("/root.env", "/tmp/nobody.env", "/custom.env"))
    assert (root["HOME"], root["HOSTNAME"]) == ("/root", ids[0])
    assert root["PATH"] == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    assert nobody["HOME"] == "/home" and nobody["HOSTNAME"] in ids  # busybox: nobody's home
    assert custom["HOME"] == "/custom"


@pytest.fixture
def http_files(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A loopback HTTP server (Last-Modified from the file's mtime) and its directory."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()
    server.server_close()
    thread.join()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *_args: Any) -> None:
        pass


def _tar_gz(files: dict[str, bytes]) -> bytes:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as tar:
        for name, body in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return data.getvalue()


def test_add_url_from_a_loopback_server(build: Callable[..., Built], client: Any,
                                        http_files: tuple[str, Path]) -> None:
    url, served = http_files
    (served / "data.txt").write_text("downloaded\n")
    os.utime(served / "data.txt", (1_600_000_000, 1_600_000_000))
    (served / "pkg.tar.gz").write_bytes(_tar_gz({"inside.txt": b"x"}))
    good = "sha256:" + hashlib.sha256(b"downloaded\n").hexdigest()
    dockerfile = (f"FROM busybox\nADD {url}/data.txt /dl/\nADD {url}/pkg.tar.gz /dl/pkg.tar.gz\n"
                  f"ADD --chmod=644 {url}/data.txt /dl/renamed.txt\n"
                  f"ADD --checksum={good} {url}/data.txt /dl/checked.txt\n")
    got = build({"Dockerfile": dockerfile}, tag="addurl:1")
    assert got.error is None, got.text
    inspect = client.api.inspect_image("addurl:1")
    data = image_file(inspect, "/dl/data.txt")
    assert data is not None and data.read_text() == "downloaded\n"
    st = os.stat(data)
    assert (stat.S_IMODE(st.st_mode), st.st_uid, int(st.st_mtime)) == (0o600, 0, 1_600_000_000)
    archive = image_file(inspect, "/dl/pkg.tar.gz")  # a download is never extracted
    assert archive is not None and archive.read_bytes() == (served / "pkg.tar.gz").read_bytes()
    assert image_file(inspect, "/dl/inside.txt") is None
    renamed = image_file(inspect, "/dl/renamed.txt")
    assert renamed is not None and stat.S_IMODE(os.stat(renamed).st_mode) == 0o644
    history = [h["CreatedBy"] for h in client.api.history("addurl:1")]
    # dockerd 20.10 names a download by its tarsum, without "file:" (checked by hand)
    assert history[3] == ("/bin/sh -c #(nop) ADD 1dd82b2a6746ed98dc6fe606493678e902acc273da5e444acb"
                          "07d1afa5ad787f in /dl/ ")
    again = build({"Dockerfile": dockerfile})
    assert (again.image_id, again.cached) == (got.image_id, 4)  # same bytes: cache hits
    os.utime(served / "data.txt", None)  # a newer Last-Modified alone changes nothing
    assert build({"Dockerfile": dockerfile}).cached == 4
    (served / "data.txt").write_text("edited\n")
    edited = build({"Dockerfile": dockerfile.replace(f"--checksum={good} ", "")})
    assert edited.error is None and edited.cached == 0, edited.text
    bad = build({"Dockerfile": dockerfile})  # the checksum no longer matches
    assert bad.error is not None and bad.error.startswith("digest mismatch sha256:")
    unnamed = build({"Dockerfile": f"FROM busybox\nADD {url}/ /dl/\n"})
    assert unnamed.error == f"cannot determine filename for source {url}/"
    missing = build({"Dockerfile": f"FROM busybox\nADD {url}/nope.txt /x\n"})
    assert missing.error == f"failed to GET {url}/nope.txt with status 404 File not found"
    for image in ("addurl:1", edited.image_id):
        client.api.remove_image(image)


def _wh_tar() -> bytes:
    """A plain tar whose entries look like a layer's whiteouts: ``.wh.keep`` (would delete
    ``keep``) and ``d/.wh..wh..opq`` (would hide what ``d`` has below)."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        folder = tarfile.TarInfo("d")
        folder.type, folder.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(folder)
        for name, body in ((".wh.keep", b"not a whiteout\n"), ("d/.wh..wh..opq", b"not opaque\n"),
                           ("d/added.txt", b"added\n")):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(body), 0o644
            tar.addfile(info, io.BytesIO(body))
    return data.getvalue()


def test_add_of_a_local_tar_keeps_whiteout_names_as_files(build: Callable[..., Built],
                                                           client: Any) -> None:
    """dockerd's ADD extracts a local tar as plain files: ``.wh.*`` entries are files of that
    name, not whiteouts or opaque markers, and nothing the base has is deleted or hidden."""
    dockerfile = ("FROM busybox\nRUN mkdir -p /dst/d && echo base > /dst/d/base.txt && "
                  "echo kept > /dst/keep\nADD wh.tar /dst/\nRUN ls -A /dst /dst/d > /listing\n")
    got = build({"Dockerfile": dockerfile, "wh.tar": _wh_tar()}, tag="addwh:1")
    assert got.error is None, got.text
    inspect = client.api.inspect_image("addwh:1")
    assert _read(client, "addwh:1", "/listing") == (
        "/dst:\n.wh.keep\nd\nkeep\n\n/dst/d:\n.wh..wh..opq\nadded.txt\nbase.txt\n")
    for path, body in (("/dst/.wh.keep", "not a whiteout\n"), ("/dst/d/.wh..wh..opq", "not opaque\n"),
                       ("/dst/keep", "kept\n"), ("/dst/d/base.txt", "base\n")):
        found = image_file(inspect, path)
        assert found is not None and stat.S_ISREG(os.lstat(found).st_mode), path
        assert found.read_text() == body
    marker = image_file(inspect, "/dst/d/.wh..wh..opq")
    assert marker is not None  # its directory in the ADD's layer is not made opaque
    assert not any(key.endswith("overlay.opaque") for key in os.listxattr(marker.parent))
    client.api.remove_image("addwh:1")


def test_context_files_named_like_whiteouts_are_files(build: Callable[..., Built],
                                                        client: Any) -> None:
    """A build context is not a layer: ``.wh.note`` in it is a file COPY can copy."""
    dockerfile = "FROM busybox\nCOPY .wh.note /n\nCOPY . /ctx/\nRUN ls -A /ctx > /listing\n"
    got = build({"Dockerfile": dockerfile, ".wh.note": "a note\n"}, tag="ctxwh:1")
    assert got.error is None, got.text
    assert _read(client, "ctxwh:1", "/n") == "a note\n"
    assert _read(client, "ctxwh:1", "/listing") == ".wh.note\nDockerfile\n"
    client.api.remove_image("ctxwh:1")


def test_predefined_and_proxy_args(build: Callable[..., Built], client: Any) -> None:
    """TARGETPLATFORM and friends once declared; proxy args reach RUN without ARG, stay out of
    the history and are never reported as unused."""
    dockerfile = ("FROM busybox\nARG TARGETPLATFORM TARGETARCH BUILDPLATFORM\n"
                  "RUN echo $TARGETPLATFORM $TARGETARCH $BUILDPLATFORM > /plat && "
                  "echo \"$HTTP_PROXY|$no_proxy\" > /proxy\n")
    got = build({"Dockerfile": dockerfile}, tag="args:1",
                buildargs={"HTTP_PROXY": "http://proxy.invalid:3128", "no_proxy": "localhost"})
    assert got.error is None, got.text
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
    assert _read(client, "args:1", "/plat").split() == [f"linux/{arch}", arch, f"linux/{arch}"]
    assert _read(client, "args:1", "/proxy") == "http://proxy.invalid:3128|localhost\n"
    history = " ".join(h["CreatedBy"] for h in client.api.history("args:1"))
    assert "proxy.invalid" not in history and "|3 BUILDPLATFORM=" in history
    assert "were not consumed" not in got.text
    client.api.remove_image("args:1")


def test_onbuild_triggers_run_in_the_child(build: Callable[..., Built], client: Any,
                                           tmp_path: Path) -> None:
    base = build({"Dockerfile": "FROM busybox\nONBUILD COPY . /app/src\n"
                  "ONBUILD RUN ls /app/src > /app/manifest\nRUN mkdir -p /app\n"}, tag="onb:base")
    assert base.error is None, base.text
    ctx = write_context(tmp_path / "child", {"Dockerfile": "FROM onb:base\nLABEL child=1\n",
                                             "a.txt": "a"})
    child = build(path=ctx, tag="onb:child")
    assert child.error is None, child.text
    assert "# Executing 2 build triggers\n" in child.text
    assert _read(client, "onb:child", "/app/manifest").split() == ["Dockerfile", "a.txt"]
    assert client.api.inspect_image("onb:child")["Config"]["OnBuild"] in (None, [])
    for image in ("onb:child", "onb:base"):
        client.api.remove_image(image)


def test_context_symlinks_cannot_escape(build: Callable[..., Built], client: Any,
                                        tmp_path: Path) -> None:
    """A context symlink resolves inside the context (as dockerd's FollowSymlinkInScope), and
    a hostile context tar cannot write through one."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("host secret")
    ctx = tmp_path / "ctx"
    (ctx / "etc").mkdir(parents=True)
    (ctx / "etc" / "passwd").write_text("context passwd\n")
    os.symlink("/etc/passwd", ctx / "abs")
    os.symlink("../../../../../../../../etc/passwd", ctx / "rel")
    os.symlink(str(outside), ctx / "out")
    (ctx / "Dockerfile").write_text("FROM busybox\nCOPY abs /abs\nCOPY rel /rel\n")
    messages = list(client.api.build(path=str(ctx), decode=True, tag="scoped:1"))
    assert not [m for m in messages if "error" in m], messages
    assert _read(client, "scoped:1", "/abs") == _read(client, "scoped:1", "/rel") \
        == "context passwd\n"
    (ctx / "Dockerfile").write_text("FROM busybox\nCOPY out/secret /s\n")
    with pytest.raises(docker.errors.APIError) as info:
        list(client.api.build(path=str(ctx), decode=True))
    assert "file not found in build context" in str(info.value)
    evil = io.BytesIO()
    with tarfile.open(fileobj=evil, mode="w") as tar:
        link = tarfile.TarInfo("esc")
        link.type, link.linkname = tarfile.SYMTYPE, str(outside)
        tar.addfile(link)
        for name, body in (("esc/pwned", b"x"), ("Dockerfile", b"FROM busybox\n")):
            entry = tarfile.TarInfo(name)
            entry.size = len(body)
            tar.addfile(entry, io.BytesIO(body))
    evil.seek(0)
    try:
        list(client.api.build(fileobj=evil, custom_context=True, decode=True))
    except docker.errors.APIError:
        pass  # refusing the tar is as good as ignoring the entry
    assert sorted(os.listdir(outside)) == ["secret"]
    client.api.remove_image("scoped:1")


@pytest.mark.parametrize(("dockerfile", "kwargs", "message"), [
    ("FROM busybox\nRUN echo ran\nFOO bar\n", {},
     "dockerfile parse error line 3: unknown instruction: FOO"),
    ("FROM busybox AS a\nRUN echo ran\nCOPY --from=b /x /x\nFROM busybox AS b\n"
     + "COPY --from=a /y /y\n", {}, "circular dependency detected on stage: b"),
    ("FROM busybox AS a\nRUN echo ran\n", {"target": "nope"},
     "failed to reach build target nope in Dockerfile"),
    ("ARG IMG\nFROM $IMG\nRUN echo ran\n", {}, "base name ($IMG) should not be blank"),
    ("FROM busybox\nRUN echo ran\nARG SRC\nCOPY ${SRC:?required} /\n", {}, "SRC: required"),
    ("# check=error=true\nFROM busybox\nRUN echo ran\nCMD echo\n", {},
     "lint violation found for rules: JSONArgsRecommended"),
    ("FROM busybox\nRUN echo ran\nCOPY ../outside.txt /\n", {},
     "file not found in build context"),
])
def test_bad_input_is_refused_before_any_step_runs(
        build: Callable[..., Built], client: Any, dockerfile: str, kwargs: dict[str, Any],
        message: str) -> None:
    before = {i["Id"] for i in client.api.images(all=True)}
    with pytest.raises(docker.errors.APIError) as info:
        build({"Dockerfile": dockerfile, f"unused-{uuid.uuid4().hex[:6]}": "x"}, **kwargs)
    assert info.value.status_code == 400 and message in info.value.explanation
    assert {i["Id"] for i in client.api.images(all=True)} == before
