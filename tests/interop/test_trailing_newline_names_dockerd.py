"""Names with a trailing newline or a leading space refused side by side with a private
dockerd 20.10: its Go regexps end at ``$``, the end of the text (Python's ``$`` also takes a
final newline), and its query values are read as sent (tornado strips them) — container names
(create and rename), volume names (create and a bind's), in dockerd's words (a volume name
quoted as Go's %q). A script reading ``docker ps`` line by line would meet the name split in
two."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.testing.daemon import DockerCLI

pytestmark = pytest.mark.slow

REQUESTS: list[tuple[str, dict[str, str], Any]] = [
    ("/containers/create", {"name": "dynl\n"}, {"Image": "busybox"}),
    ("/containers/create", {"name": " dynl"}, {"Image": "busybox"}),
    ("/containers/create", {}, {"Image": "busybox", "HostConfig": {"Binds": ["dynlv\n:/x"]}}),
    ("/containers/create", {}, {"Image": "busybox\n"}),
    ("/containers/dynl-a/rename", {"name": "dynl-b\n"}, None),
    ("/volumes/create", {}, {"Name": "dynlv\n"}),
]


def test_a_name_ends_where_gos_regexp_ends(both: dict[str, tuple[DockerCLI, Any]]) -> None:
    seen = {}
    for side, (cli, client) in both.items():
        api = client.api
        made = cli("create", "--pull", "never", "--name", "dynl-a", "busybox", "true")
        assert made.returncode == 0, made.stderr
        seen[side] = []
        try:
            for path, params, body in REQUESTS:
                url = api._url("{0}", path)
                answer = api._post_json(url, data=body, params=params) if body is not None \
                    else api._post(url, params=params)
                seen[side].append([path, params, answer.status_code, answer.text])
        finally:
            cli("rm", "-f", "dynl-a", "dynl-b\n", "dynl", " dynl")
            cli("volume", "rm", "dynlv\n")
    assert seen["dockyard"] == seen["dockerd"]
    assert [s[2] for s in seen["dockerd"]] == [400] * len(REQUESTS)
