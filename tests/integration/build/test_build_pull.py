"""A base image the store lacks is pulled by the build, and the pull's messages are part of
the build's JSON stream where dockerd's classic builder puts them: after ``Step N/M : FROM``
(or after the step that names the image in ``--from``), before `` ---> <id>``. Against a
dockyard registry on loopback, through docker-py. A failed pull ends the stream with dockerd's
message; a client that hangs up mid-pull stops the download and leaves nothing behind."""

from __future__ import annotations

import io
import os
import socket
import tarfile
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from buildhelp import Built

from dockyard.testing.busybox import Image, make_image
from dockyard.testing.daemon import DaemonProcess
from dockyard.testing.registry import RegistryProcess, push_image

TRANSIENT = {"Downloading", "Extracting", "Waiting"}  # progress bars: how many varies


def _publish(registry: RegistryProcess, repo: str, tag: str = "1",
             size: int = 0) -> tuple[str, Image]:
    """An image only the registry has: busybox plus a layer of its own (``size`` random bytes
    in /blob, and a note naming it)."""
    files = {"/note": f"{repo}:{tag} {uuid.uuid4()}\n".encode()}
    if size:
        files["/blob"] = os.urandom(size)
    image = make_image(f"{repo}:{tag}", extra_files=files)
    push_image(registry.url, repo, image)
    return f"{registry.host}/{repo}:{tag}", image


def _lines(got: Built) -> list[str]:
    """The stream as docker prints it without a TTY: text as it is, a pull message as
    ``id: status``; progress bars left out."""
    out: list[str] = []
    for m in got.messages:
        if "stream" in m:
            out += [line + "\n" for line in m["stream"].splitlines()]
        elif "status" in m and m["status"] not in TRANSIENT:
            out.append(f"{m['id']}: {m['status']}\n" if m.get("id") else m["status"] + "\n")
        elif "error" in m:
            out.append(f"ERROR {m['error']}\n")
    return out


def _pull_lines(name: str, image: Image, tag: str = "1") -> list[str]:
    """What pulling ``image`` (busybox's layer already in the store) prints."""
    base, mine = (layer.digest[7:19] for layer in image.layers)
    return [f"{tag}: Pulling from {name.split('/', 1)[1].rsplit(':', 1)[0]}\n",
            f"{base}: Already exists\n", f"{mine}: Pulling fs layer\n",
            f"{mine}: Verifying Checksum\n", f"{mine}: Download complete\n",
            f"{mine}: Pull complete\n", f"Digest: {image.manifest.digest}\n",
            f"Status: Downloaded newer image for {name}\n", f" ---> {image.config.digest[7:19]}\n"]


def test_the_pull_of_a_missing_base_streams_after_its_from_step(
        build: Callable[..., Built], client: Any, dockyard_registry: RegistryProcess) -> None:
    name, image = _publish(dockyard_registry, "lib/one", size=300_000)
    got = build({"Dockerfile": f"FROM {name}\nRUN cat /note\n"}, rm=True)
    assert got.error is None, got.messages
    lines = _lines(got)
    assert lines[:10] == [f"Step 1/2 : FROM {name}\n", *_pull_lines(name, image)], lines
    assert lines[10] == "Step 2/2 : RUN cat /note\n"
    layer = image.layers[1]
    bars = [m for m in got.messages if m.get("status") == "Downloading"]
    assert bars and bars[-1]["id"] == layer.digest[7:19]
    assert bars[-1]["progressDetail"] == {"current": layer.size, "total": layer.size}
    assert client.api.inspect_image(name)["Id"] == image.config.digest
    client.api.remove_image(got.image_id)
    client.api.remove_image(name)


def test_each_stage_shows_the_pull_of_its_own_images(
        build: Callable[..., Built], client: Any, dockyard_registry: RegistryProcess) -> None:
    """Two FROMs and a ``COPY --from=<image>`` all missing: each pull's messages follow the
    step that uses the image, after the earlier stage's output; ``-q`` shows none of them;
    ``--pull`` pulls again and says the image is up to date."""
    first, first_image = _publish(dockyard_registry, "lib/first")
    second, second_image = _publish(dockyard_registry, "lib/second", tag="2")
    third, third_image = _publish(dockyard_registry, "lib/third")
    dockerfile = (f"FROM {first} AS one\nRUN cat /note > /one\n"
                  f"FROM {second}\nCOPY --from={third} /note /third\nCOPY --from=one /one /one\n")
    got = build({"Dockerfile": dockerfile}, rm=True)
    assert got.error is None, got.messages
    lines = _lines(got)
    start = lines.index(f"Step 3/5 : FROM {second}\n")
    assert lines[:10] == [f"Step 1/5 : FROM {first} AS one\n", *_pull_lines(first, first_image)]
    assert lines[10] == "Step 2/5 : RUN cat /note > /one\n" and start > 10
    assert lines[start + 1:start + 10] == _pull_lines(second, second_image, tag="2")
    step4 = lines.index(f"Step 4/5 : COPY --from={third} /note /third\n")
    assert step4 == start + 10
    assert lines[step4 + 1:step4 + 9] == _pull_lines(third, third_image)[:-1]

    quiet = build({"Dockerfile": dockerfile}, quiet=True)
    assert quiet.error is None and not [m for m in quiet.messages if "status" in m], quiet.messages
    again = build({"Dockerfile": dockerfile}, pull=True)
    assert again.error is None, again.messages
    lines = _lines(again)
    # an image here already: no layer line, as dockerd's puller
    assert lines[:4] == [f"Step 1/5 : FROM {first} AS one\n", "1: Pulling from lib/first\n",
                         f"Digest: {first_image.manifest.digest}\n",
                         f"Status: Image is up to date for {first}\n"], lines
    mounted, mounted_image = _publish(dockyard_registry, "lib/mounted")
    run = f"RUN --mount=from={mounted},target=/m cat /m/note"
    with_mount = build({"Dockerfile": f"FROM busybox\n{run}\n"}, rm=True)
    assert with_mount.error is None, with_mount.messages
    lines = _lines(with_mount)
    assert lines[2:11] == [f"Step 2/2 : {run}\n", *_pull_lines(mounted, mounted_image)[:-1]], lines
    assert lines[11].startswith(" ---> Running in ")
    for image_id in {got.image_id, quiet.image_id, again.image_id, with_mount.image_id}:
        client.api.remove_image(image_id)
    client.api.prune_builds()  # stage one's images, children of the first base
    for name in (first, second, third, mounted):
        client.api.remove_image(name)


def test_an_onbuild_trigger_shows_the_pull_of_the_image_it_names(
        build: Callable[..., Built], client: Any, dockyard_registry: RegistryProcess) -> None:
    """A base's ONBUILD triggers name images the build could not see before they run (``COPY
    --from=<image>``, ``RUN --mount=from=<image>``): each pull's messages follow ``# Executing
    N build triggers`` in the order the triggers run, as dockerd's (they were pulled silently)."""
    copied, copied_image = _publish(dockyard_registry, "lib/trig-copy")
    mounted, mounted_image = _publish(dockyard_registry, "lib/trig-mount")
    dockerfile = (f"FROM busybox AS base\nONBUILD COPY --from={copied} /note /c\n"
                  f"ONBUILD RUN --mount=from={mounted},target=/m cat /m/note\n"
                  "FROM base\nRUN cat /c\n")
    got = build({"Dockerfile": dockerfile}, rm=True)
    assert got.error is None, got.messages
    lines = _lines(got)
    start = lines.index("Step 4/5 : FROM base\n")
    assert lines[start + 1] == "# Executing 2 build triggers\n", lines
    assert lines[start + 2:start + 10] == _pull_lines(copied, copied_image)[:-1], lines
    assert lines[start + 10:start + 18] == _pull_lines(mounted, mounted_image)[:-1], lines
    assert lines[start + 18].startswith(" ---> Running in "), lines
    client.api.remove_image(got.image_id)
    client.api.prune_builds()
    for name in (copied, mounted):
        client.api.remove_image(name)


def test_a_failed_pull_ends_the_stream_with_dockerds_message(
        build: Callable[..., Built], client: Any, dockyard_registry: RegistryProcess) -> None:
    """An unknown repository, an unknown tag; a later stage's base (pulled before any step
    runs, so the stream starts at that stage's FROM step)."""
    host = dockyard_registry.host
    unknown = (f"ERROR repository {host}/lib/nope not found: name unknown: repository name not "
               "known to registry\n")
    before = {i["Id"] for i in client.api.images(all=True)}
    got = build({"Dockerfile": f"FROM {host}/lib/nope:1\nRUN true\n"})
    assert _lines(got) == [f"Step 1/2 : FROM {host}/lib/nope:1\n", unknown]
    name, _ = _publish(dockyard_registry, "lib/tags")
    repo = name.rsplit(":", 1)[0]
    got = build({"Dockerfile": f"FROM {repo}:9\nRUN true\n"})
    assert _lines(got) == [f"Step 1/2 : FROM {repo}:9\n",
                           f"ERROR manifest for {repo}:9 not found: manifest unknown: manifest unknown\n"]
    dockerfile = f"FROM busybox AS one\nRUN true\nFROM {host}/lib/nope:2\nCOPY --from=one /bin /x\n"
    got = build({"Dockerfile": dockerfile})
    assert _lines(got) == [f"Step 3/4 : FROM {host}/lib/nope:2\n", unknown]
    assert {i["Id"] for i in client.api.images(all=True)} == before


class SlowLink:
    """A loopback TCP relay to the registry passing the registry's bytes at ``rate`` bytes a
    second: a real registry behind a slow link. ``passed`` counts the bytes it passed on."""

    def __init__(self, target: str, rate: int) -> None:
        host, port = target.rsplit(":", 1)
        self.target = (host, int(port))
        self.rate = rate
        self.passed = 0
        self.server = socket.create_server(("127.0.0.1", 0))
        self.host = f"127.0.0.1:{self.server.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                near, _ = self.server.accept()
            except OSError:
                return
            far = socket.create_connection(self.target)
            threading.Thread(target=self._pipe, args=(near, far, 0), daemon=True).start()
            threading.Thread(target=self._pipe, args=(far, near, self.rate), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, rate: int) -> None:
        try:
            while data := src.recv(8192):
                dst.sendall(data)
                if rate:
                    self.passed += len(data)
                    time.sleep(len(data) / rate)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.server.close()


def _post_build(daemon: DaemonProcess, dockerfile: str) -> socket.socket:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        body = dockerfile.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    payload = data.getvalue()
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(120)  # a bound for a broken daemon (the answer's connection stays open)
    sock.connect(str(daemon.socket))
    sock.sendall(b"POST /build HTTP/1.1\r\nHost: d\r\nContent-Type: application/x-tar\r\n"
                 + f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload)
    return sock


def test_a_client_that_hangs_up_mid_pull_stops_it(
        daemon: DaemonProcess, build: Callable[..., Built], client: Any,
        dockyard_registry: RegistryProcess) -> None:
    """The registry behind a slow link (the layer would take half a minute): the build's
    client hangs up at the first progress bar; the daemon stops the download (its blob being
    written goes) before the layer is through, and neither the image nor a snapshot being
    unpacked is left; the same build then pulls the layer whole."""
    _, image = _publish(dockyard_registry, "lib/slow", size=12 << 20)
    link = SlowLink(dockyard_registry.host, 400_000)
    try:
        slow = f"{link.host}/lib/slow:1"
        sock = _post_build(daemon, f"FROM {slow}\nRUN true\n")
        seen = b""
        while b'"Downloading"' not in seen:
            chunk = sock.recv(4096)
            assert chunk, seen
            seen += chunk
        assert b"Step 1/2 : FROM " + slow.encode() in seen and b"Pulling fs layer" in seen
        ingest = daemon.root / "content" / "ingest"
        assert os.listdir(ingest)  # the layer's blob, being written

        def unpacking() -> list[str]:
            return [p for p in os.listdir(daemon.root / "snapshots") if p.startswith("tmp-")]

        assert unpacking()  # … and unpacked as it comes
        sock.close()
        deadline = time.monotonic() + 60  # a bound for a broken daemon, not a speed claim
        while (os.listdir(ingest) or unpacking()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not os.listdir(ingest), "the daemon kept downloading after the client hung up"
        assert not unpacking()
        assert link.passed < image.layers[1].size  # stopped, not finished
        assert not client.api.images(name=f"{link.host}/lib/slow")
    finally:
        link.close()
    name = f"{dockyard_registry.host}/lib/slow:1"
    got = build({"Dockerfile": f"FROM {name}\nRUN true\n"})
    assert got.error is None, got.messages
    assert f"{image.layers[1].digest[7:19]}: Pull complete\n" in _lines(got)
    client.api.remove_image(got.image_id)
    client.api.remove_image(name)
