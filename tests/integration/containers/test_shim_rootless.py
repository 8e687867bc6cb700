"""The shim as an unprivileged user (a user this test creates): output, json-file log, exit
status, the hand-off to a bare interpreter, and a kill through the shim — no root anywhere."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from dockyard.testing.rootless import UnprivilegedUser

SCRIPT = r'''
import json, os, sys, time
from pathlib import Path
from dockyard.testing.busybox import busybox_rootfs
from dockyard.containers.runtime import Runtime
from dockyard.containers.shim import HANDOFF_AFTER
from dockyard.containers.spec import ContainerSpec

base = Path(sys.argv[1])
rootfs = busybox_rootfs(base / "rootfs")

def run(cid, args, then=None):
    box = base / cid
    box.mkdir()
    spec = ContainerSpec(id=cid, lower_dirs=[str(rootfs)], args=args, upper_dir=str(box / "upper"),
                         work_dir=str(box / "work"))
    pid, sock = rt.start_shim(spec, str(box), str(box / "log.json"))
    if then:
        then(box, sock)
    packets = []
    while (p := sock.recv(65536)) and p[:1] != b"x":
        packets.append(p.decode())
    return {"packets": packets, "exit": json.loads(p[1:]), "log": (box / "log.json").read_text()}

def handoff(box, sock):
    time.sleep(HANDOFF_AFTER + 0.5)
    pid = int((box / "shim.pid").read_text())
    out["cmdline"] = Path(f"/proc/{pid}/cmdline").read_bytes().decode().replace("\0", " ")
    sock.send(b"k15")

out = {}
with Runtime() as rt:
    out["quick"] = run("q1", ["sh", "-c", "id -u; echo err >&2; exit 3"])
    out["long"] = run("l1", ["sh", "-c", "trap 'echo bye; exit 4' TERM; while true; do sleep 0.05; done"],
                      handoff)
print(json.dumps(out))
'''


@pytest.fixture
def unprivileged() -> Iterator[UnprivilegedUser]:
    with UnprivilegedUser.made(subids=True, runtime_dir=False) as user:
        yield user


def test_rootless_shim(unprivileged: UnprivilegedUser) -> None:
    done = unprivileged.run_python(SCRIPT, str(unprivileged.home))
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.splitlines()[-1])
    quick = out["quick"]
    assert quick["exit"]["exit_code"] == 3
    assert "".join(p[1:] for p in quick["packets"] if p[0] == "1") == "0\n"
    assert [json.loads(line)["stream"] for line in quick["log"].splitlines()] == ["stdout", "stderr"]
    assert "resume" in out["cmdline"]
    assert out["long"]["exit"]["exit_code"] == 4
    assert json.loads(out["long"]["log"])["log"] == "bye\n"
