"""exec and docker cp with a rootless container, run for real as an unprivileged user this test creates (with
subordinate ids, and with the single-id map where setgroups is denied)."""

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
import json, os, sys
from pathlib import Path
from dockyard.testing.busybox import busybox_rootfs
from dockyard.containers.runtime import Runtime
from dockyard.containers.spec import ContainerSpec
from dockyard.linux.enter import ExecSpec

base = Path(sys.argv[1])
busybox_rootfs(base / "rootfs")
out = {}
with Runtime() as rt:
    c = rt.start(ContainerSpec(id="c1", lower_dirs=[str(base / "rootfs")], args=["sleep", "100"],
                               upper_dir=str(base / "c1/upper"), work_dir=str(base / "c1/work"),
                               hostname="rootless"))
    r, w = os.pipe()
    p = rt.exec(ExecSpec(id="e1", pid=c.pid, args=["sh", "-c", "id -u; hostname; echo $$"]),
                stdout=w, stderr=w)
    os.close(w)
    out["status"] = p.wait(20).exit_code
    out["output"] = os.read(r, 1 << 20).decode()
    import io, tarfile
    from types import SimpleNamespace
    from dockyard.containers import archive
    record = SimpleNamespace(id="c1", state={"Running": True, "Pid": c.pid}, config={},
                             host_config={})
    boxes = SimpleNamespace(get=lambda name: record)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("copied")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"cp\n"))
    archive.put(boxes, "c1", "/tmp", io.BytesIO(buf.getvalue()))
    stat, chunks = archive.get(boxes, "c1", "/tmp/copied")
    out["cp"] = [stat["size"], len(b"".join(chunks)) > 0]
    c.kill()
    c.wait(20)
print(json.dumps(out))
'''


@pytest.fixture(params=["subids", "single"])
def unprivileged(request: pytest.FixtureRequest) -> Iterator[tuple[str, Path]]:
    name = f"dy{uuid.uuid4().hex[:8]}"
    saved = {p: Path(p).read_bytes() if Path(p).exists() else None
             for p in ("/etc/subuid", "/etc/subgid")}
    extra = [] if request.param == "subids" else ["-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0"]
    subprocess.run(["useradd", "-M", "-s", "/bin/sh", *extra, name], check=True)
    home = Path(tempfile.mkdtemp(prefix="dyrootless-exec-", dir="/tmp"))
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


def test_rootless_exec(unprivileged: tuple[str, Path]) -> None:
    name, home = unprivileged
    (home / "script.py").write_text(SCRIPT)
    (home / "script.py").chmod(0o644)
    done = subprocess.run(
        ["runuser", "-u", name, "--", "env", f"PYTHONPATH={RUNTIME_DIR}", PYTHON,
         str(home / "script.py"), str(home)],
        check=False, capture_output=True, text=True, timeout=60, cwd=home)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.splitlines()[-1])
    assert out["status"] == 0, out["output"]
    uid, hostname, pid = out["output"].split()
    assert (uid, hostname) == ("0", "rootless") and int(pid) > 1
    assert out["cp"] == [3, True]  # docker cp into and out of the rootless container
