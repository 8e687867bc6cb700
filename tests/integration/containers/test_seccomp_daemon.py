"""Seccomp through the Engine API (docker-py): the default profile on every container and exec,
``--privileged`` and ``seccomp=unconfined`` without one, a custom profile, ``--cap-add``, and
dockerd's words for what it refuses. The errnos are dockerd 20.10's for the same probe."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import docker
import pytest

from dockyard.testing import syscallprobe

EPERM, EFAULT, EBADF, EINVAL, ENOSYS = 1, 14, 9, 22, 38
CALLS = ["39", "272,0x10000000", "272,0", "165", "250,0,-3,0", "308,-1,0", "435", "470",
         "135,0x0040000", "i386,310,0x10000000"]
CONFINED = {"39": 0, "272,0x10000000": EPERM, "272,0": EPERM, "165": EPERM, "250,0,-3,0": EPERM,
            "308,-1,0": EPERM, "435": ENOSYS, "470": ENOSYS, "135,0x0040000": EPERM,
            "i386,310,0x10000000": EPERM}


@pytest.fixture(scope="module")
def probe(syscall_probe: Path) -> Path:
    return syscall_probe


def _volumes(probe: Path) -> dict[str, dict[str, str]]:
    return {str(probe): {"bind": "/probe", "mode": "ro"}}


def _run(client: Any, probe: Path, calls: list[str] = CALLS, **kw: Any) -> dict[str, int]:
    out = client.containers.run("busybox", ["/probe", *calls], volumes=_volumes(probe),
                                remove=True, **kw)
    return syscallprobe.errnos(out.decode())


def test_every_container_gets_the_default_profile(client: Any, probe: Path) -> None:
    assert _run(client, probe) == CONFINED
    assert _run(client, probe, security_opt=["no-new-privileges"]) == CONFINED
    # current dockerd's name for it (20.10 read "builtin" as JSON and failed the start)
    assert _run(client, probe, security_opt=["seccomp=builtin"]) == CONFINED


def test_privileged_and_unconfined_load_none(client: Any, probe: Path) -> None:
    calls = ["272,0", "435", "135,0x0040000"]
    lifted = {"272,0": 0, "435": EINVAL, "135,0x0040000": 0}
    assert _run(client, probe, calls, security_opt=["seccomp=unconfined"]) == lifted
    assert _run(client, probe, calls, security_opt=["seccomp:unconfined"]) == lifted
    assert _run(client, probe, calls, privileged=True) == lifted


def test_cap_add_sys_admin_gets_the_calls_the_profile_gives_it(client: Any, probe: Path) -> None:
    got = _run(client, probe, ["272,0x10000000", "308,-1,0", "435", "167"], cap_add=["SYS_ADMIN"])
    assert got == {"272,0x10000000": 0, "308,-1,0": EBADF, "435": EINVAL, "167": EPERM}


def test_an_exec_gets_the_containers_profile(client: Any, probe: Path) -> None:
    box = client.containers.run("busybox", ["sleep", "1000"], volumes=_volumes(probe), detach=True)
    code, out = box.exec_run(["/probe", *CALLS])
    assert code == 0 and syscallprobe.errnos(out.decode()) == CONFINED
    free = client.containers.run("busybox", ["sleep", "1000"], volumes=_volumes(probe),
                                 detach=True, security_opt=["seccomp=unconfined"])
    code, out = free.exec_run(["/probe", "272,0"])
    assert syscallprobe.errnos(out.decode()) == {"272,0": 0}


def test_a_custom_profile_as_the_docker_cli_sends_it(client: Any, probe: Path) -> None:
    profile = {"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["getpid", "no_such_call"], "action": "SCMP_ACT_ERRNO",
                             "errnoRet": 13}, {"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}]}
    opt = "seccomp=" + json.dumps(profile, separators=(",", ":"))
    assert _run(client, probe, ["39", "110", "272,0"], security_opt=[opt]) == \
        {"39": 13, "110": EPERM, "272,0": 0}
    box = client.containers.create("busybox", ["true"], security_opt=[opt, "no-new-privileges"])
    assert box.attrs["HostConfig"]["SecurityOpt"] == [opt, "no-new-privileges"]
    empty = client.containers.run("busybox", ["/probe", "272,0"], volumes=_volumes(probe),
                                  remove=True, security_opt=["seccomp={}"])
    assert syscallprobe.errnos(empty.decode()) == {"272,0": 0}  # sets nothing: no filter


@pytest.mark.parametrize(("opt", "message"), [
    ("seccomp={bad", ("Decoding seccomp profile failed: invalid character 'b' looking for "
                     "beginning of object key string")),
    ('seccomp={"defaultAction":"SCMP_ACT_BOGUS"}', ("failed to create shim task: OCI runtime "
     "create failed: runc create failed: string SCMP_ACT_BOGUS is not a valid action for "
     "seccomp: unknown")),
])
def test_a_refused_profile_fails_the_start_in_dockerds_words(client: Any, opt: str,
                                                            message: str) -> None:
    box = client.containers.create("busybox", ["true"], security_opt=[opt])
    with pytest.raises(docker.errors.APIError) as caught:
        box.start()
    assert caught.value.status_code == 500
    assert caught.value.explanation == message


@pytest.mark.parametrize(("opt", "message"), [
    ("bogus=1", 'invalid --security-opt 2: "bogus=1"'),
    ("seccomp", 'invalid --security-opt 1: "seccomp"'),
    ("no-new-privileges=maybe", 'invalid --security-opt 2: "no-new-privileges=maybe"'),
])
def test_create_refuses_an_unknown_security_opt(client: Any, opt: str, message: str) -> None:
    with pytest.raises(docker.errors.APIError) as caught:
        client.containers.create("busybox", ["true"], security_opt=[opt])
    assert caught.value.status_code == 500 and caught.value.explanation == message
    for fine in ("label=disable", "apparmor=unconfined", "no-new-privileges=false"):
        client.containers.create("busybox", ["true"], security_opt=[fine]).remove()


def test_info_lists_seccomp(client: Any) -> None:
    assert client.info()["SecurityOptions"][0] == "name=seccomp,profile=default"
