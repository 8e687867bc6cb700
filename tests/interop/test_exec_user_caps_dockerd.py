"""``docker exec -u <non-root>`` side by side with a private real dockerd 20.10: the exec's
process holds its container's capabilities until its execve (dockerd gives an exec its
container's process spec), so a command only root may reach is exec'd and then runs without
them; in a container whose own user is not root it holds none."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.slow

SCRIPT = ("printf '#!/bin/sh\\necho ran\\n' > /root/x; chmod 755 /root/x; chmod 700 /root; "
          "touch /tmp/ready; sleep 60")

CASES = [  # (the container's user, the exec's options, its command)
    ("0", ["-u", "nobody"], ["/root/x"]),             # exec'd; sh cannot open it: exit 2
    ("0", ["-u", "nobody"], ["/root"]),               # a directory: permission denied, 126
    ("0", ["-u", "nobody"], ["cat", "/root/x"]),      # cat runs without the capabilities
    ("0", ["-u", "nobody"], ["grep", "Cap", "/proc/self/status"]),  # none past the execve
    ("nobody", [], ["/root/x"]),                      # its user holds none: stat refused, 126
]


@pytest.mark.parametrize(("user", "options", "command"), CASES,
                         ids=[f"{u} {' '.join(o + c)}" for u, o, c in CASES])
def test_an_exec_as_another_user_is_dockerds(both: dict[str, Any], user: str,
                                             options: list[str], command: list[str]) -> None:
    seen = {}
    for name, (cli, client) in both.items():
        made = cli("run", "-d", "--network", "none", "--name", "execcaps", "busybox",
                   "sh", "-c", SCRIPT)
        assert made.returncode == 0, made.stderr
        cli("exec", "execcaps", "sh", "-c", "until [ -e /tmp/ready ]; do sleep 0.05; done")
        if user != "0":  # the same files in a container of another user
            cli("commit", "execcaps", "execcaps-image")
            client.api.remove_container("execcaps", force=True)
            cli("run", "-d", "--network", "none", "--name", "execcaps", "-u", user,
                "execcaps-image", "sleep", "60")
        done = cli("exec", *options, "execcaps", *command)
        client.api.remove_container("execcaps", force=True)
        if user != "0":
            client.api.remove_image("execcaps-image")
        seen[name] = (done.returncode, done.stdout, done.stderr)
    assert seen["dockyard"] == seen["dockerd"]
