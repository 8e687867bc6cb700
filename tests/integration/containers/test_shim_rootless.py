"""The shim as an unprivileged user (a user this test creates): output, json-file log, exit
status, the hand-off to a bare interpreter, and a kill through the shim — no root anywhere."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

RUNTIME_DIR = Path(__file__).resolve().parents[3] / "runtime"
PYTHON = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable

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
def unprivileged() -> Iterator[tuple[str, Path]]:
    name = f"dy{uuid.uuid4().hex[:8]}"
    saved = {p: Path(p).read_bytes() if Path(p).exists() else None
             for p in ("/etc/subuid", "/etc/subgid")}
    subprocess.run(["useradd", "-M", "-s", "/bin/sh", name], check=True)
    home = Path(tempfile.mkdtemp(prefix="dyrootless-shim-", dir="/tmp"))
    try:
        home.chmod(0o755)
        entry = pwd.getpwnam(name)
        os.chown(home, entry.pw_uid, entry.pw_gid)
        yield name, home
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True)
        for path, data in saved.items():
            if data is not None:
                Path(path).write_bytes(data)
        shutil.rmtree(home, ignore_errors=True)


def test_rootless_shim(unprivileged: tuple[str, Path]) -> None:
    name, home = unprivileged
    (home / "script.py").write_text(SCRIPT)
    (home / "script.py").chmod(0o644)
    done = subprocess.run(
        ["runuser", "-u", name, "--", "env", f"PYTHONPATH={RUNTIME_DIR}", PYTHON,
         str(home / "script.py"), str(home)],
        check=False, capture_output=True, text=True, timeout=60, cwd=home)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.splitlines()[-1])
    quick = out["quick"]
    assert quick["exit"]["exit_code"] == 3
    assert "".join(p[1:] for p in quick["packets"] if p[0] == "1") == "0\n"
    assert [json.loads(line)["stream"] for line in quick["log"].splitlines()] == ["stdout", "stderr"]
    assert "resume" in out["cmdline"]
    assert out["long"]["exit"]["exit_code"] == 4
    assert json.loads(out["long"]["log"])["log"] == "bye\n"
