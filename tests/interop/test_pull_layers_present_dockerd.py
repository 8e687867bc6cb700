"""A pull of what is partly here already, beside a private dockerd 20.10 (loopback registry).

Each daemon pushes (to a registry of its own) busybox as image A and a commit on it as image B, removes both (busybox
keeps the base layer), then pulls A and B. dockerd's puller fetches nothing for an image whose
config it has (A: no layer line at all), and says ``Already exists`` for a layer whose blob it
knows (pushed from that layer) and whose chain it holds (B's base); dockyard went through
``Pulling fs layer`` and a download for both.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from dockyard.testing.daemon import DockerCLI

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("dockyard_clean_images")]


# a whole layer's bar as dockerd writes it: Go's HTML escaping of its arrow, the size in eight
BAR = '"progressDetail":{"current":N,"total":N},"progress":"[' + "=" * 50 + '\\u003e]     NB/NB"'


def _line(status: str, detail: str = '"progressDetail":{}') -> str:
    return f'{{"status":"{status}",{detail},"id":"ID"}}'


def _layer_lines(lines: list[str]) -> list[tuple[int, str]]:
    """(layer by order of first appearance, status) of each ``<id>: <status>`` line."""
    order: dict[str, int] = {}
    found = []
    for line in lines:
        head, sep, status = line.partition(": ")
        if sep and len(head) == 12 and all(c in "0123456789abcdef" for c in head):
            found.append((order.setdefault(head, len(order)), status))
    return found


def _raw_pull(client: Any, image: str) -> list[bytes]:
    api = client.api
    name, _, tag = image.rpartition(":")
    response = api._post(api._url("/images/create"), params={"fromImage": name, "tag": tag},
                         stream=True)
    assert response.status_code == 200
    return [line for line in response.iter_lines() if line]


def _top_layer(raw: list[bytes], top: str) -> list[str]:
    """The new layer's lines as sent (its sizes as N: the two commits differ), consecutive
    repeats of a Downloading line as one and no Verifying Checksum (dockerd's progress
    watcher drops what a faster message overtook)."""
    lines: list[str] = []
    for line in raw:
        message = json.loads(line)
        text = re.sub(rb"\b\d+", b"N", line.replace(top.encode(), b"ID")).decode()
        if message.get("id") != top or message["status"] == "Verifying Checksum":
            continue
        if not (lines and lines[-1] == text and message["status"] == "Downloading"):
            lines.append(text)
    return lines


def test_present_layers_are_not_pulled_as_by_dockerd(both: dict[str, tuple[DockerCLI, Any]],
                                                     dockyard_registry_factory: Any) -> None:
    seen: dict[str, Any] = {}
    for side, (cli, client) in both.items():
        registry = dockyard_registry_factory()
        a, b = f"{registry.host}/dypresent/a:1", f"{registry.host}/dypresent/b:1"
        box = f"dypresent-{side}"
        assert cli("tag", "busybox", a).returncode == 0
        assert cli("push", a).returncode == 0
        made = cli("run", "--name", box, "--pull", "never", "--network", "none", "busybox",
                   "sh", "-c", "echo b > /b")
        assert made.returncode == 0, made.stderr
        assert cli("commit", box, b).returncode == 0
        cli("rm", box)
        assert cli("push", b).returncode == 0
        assert cli("rmi", a, b).returncode == 0
        pulled_a, pulled_b = cli("pull", a), cli("pull", b)
        assert cli("rmi", b).returncode == 0
        raw = _raw_pull(client, b)
        cli("rmi", a, b)
        b_lines = _layer_lines(pulled_b.stdout.splitlines())
        messages = [json.loads(line) for line in raw]
        base = [m for m in messages if m.get("id") == messages[1].get("id")]
        seen[side] = {
            "A": [pulled_a.returncode, _layer_lines(pulled_a.stdout.splitlines()),
                  pulled_a.stdout.splitlines()[-2].replace(registry.host, "REG")],
            "B base": [status for i, status in b_lines if i == 0],
            "B top": [s for i, s in b_lines if i == 1][:1] + [s for i, s in b_lines if i == 1][-1:],
            "raw base": [{k: v for k, v in m.items() if k != "id"} for m in base],
            "raw top": _top_layer(raw, messages[2].get("id")),
        }
    assert seen["dockyard"] == seen["dockerd"]
    assert seen["dockerd"] == {
        "A": [0, [], "Status: Downloaded newer image for REG/dypresent/a:1"],
        "B base": ["Already exists"],
        "B top": ["Pulling fs layer", "Pull complete"],
        "raw base": [{"status": "Already exists", "progressDetail": {}}],
        "raw top": [_line("Pulling fs layer"), _line("Downloading", BAR),
                    _line("Download complete"), _line("Extracting", BAR),
                    _line("Extracting", BAR), _line("Pull complete")],
    }
