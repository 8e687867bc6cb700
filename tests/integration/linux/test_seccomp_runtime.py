"""Seccomp asserted from inside a container: a static probe makes the calls and prints each
errno; the expectations are what dockerd 20.10 (runc 1.1) gave the same probe on this machine
where its profile and ours agree (tests/interop/test_seccomp_docker_cli.py compares the two)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from containerprobe import Result, collect

from dockyard.containers.runtime import Runtime
from dockyard.containers.spec import ContainerSpec, Mount
from dockyard.linux import capabilities, seccomp
from dockyard.testing import syscallprobe

EPERM, EFAULT, ENOSYS, EINVAL, EBADF = 1, 14, 38, 22, 9
PROBES = {  # call → errno under the default profile and Docker's default capabilities
    "39": 0,                      # getpid
    "272,0x10000000": EPERM,      # unshare(CLONE_NEWUSER)
    "272,0": EPERM,               # unshare: no argument is allowed without CAP_SYS_ADMIN
    "165": EPERM,                 # mount
    "250,0,-3,0": EPERM,          # keyctl
    "248": EPERM,                 # add_key
    "321": EPERM,                 # bpf
    "167": EPERM,                 # swapon
    "135,0xffffffff": 0,          # personality: the query
    "135,0x0040000": EPERM,       # personality(ADDR_NO_RANDOMIZE)
    "56,0x10000011": EPERM,       # clone(CLONE_NEWUSER|SIGCHLD)
    "435": ENOSYS,                # clone3: ENOSYS so that libc falls back to clone
    "41,2,1,0": 0,                # socket(AF_INET, SOCK_STREAM)
    "448,-1,0": EBADF,            # process_mrelease: allowed (the fd is bad)
    "451,-1": EBADF,              # cachestat: allowed (dockerd 20.10's older profile: ENOSYS)
    "457": ENOSYS,                # above the profile's highest call (futex_requeue): ENOSYS
    "400": EPERM,                 # a number below it no call has: the default action
    "161,0": EFAULT,              # chroot: CAP_SYS_CHROOT is a default capability
    "308,-1,0": EPERM,            # setns
    "i386,20": 0,                 # i386 getpid
    "i386,310,0x10000000": EPERM,  # i386 unshare
}
Run = Callable[..., Result]


@pytest.fixture(scope="module")
def probe(syscall_probe: Path) -> Path:
    return syscall_probe


@pytest.fixture
def probed(runtime: Runtime, make_spec: Callable[..., ContainerSpec],
           probe: Path) -> Callable[..., dict[str, int]]:
    def go(calls: list[str], **kw: object) -> dict[str, int]:
        kw.setdefault("seccomp", _default_for(kw))
        spec = make_spec(["/probe", *calls], mounts=[Mount("bind", "/probe", str(probe), True)], **kw)
        result = collect(runtime, spec)
        assert result.code == 0, result.err
        return syscallprobe.errnos(result.out)
    return go


def _default_for(kw: dict[str, object]) -> str:
    caps = capabilities.resolve(kw.get("cap_add") or [], kw.get("cap_drop") or [])  # type: ignore[arg-type]
    return f"default:{capabilities.mask(caps)}"


def test_the_default_profile_refuses_what_dockers_refuses(probed: Callable[..., dict[str, int]]) -> None:
    assert probed(list(PROBES)) == PROBES


def test_no_new_privileges_loads_it_last_with_the_same_effect(
        probed: Callable[..., dict[str, int]]) -> None:
    assert probed(list(PROBES), no_new_privs=True) == PROBES


def test_unconfined_loads_nothing(probed: Callable[..., dict[str, int]]) -> None:
    got = probed(["272,0", "435", "400", "135,0x0040000"], seccomp="")
    assert got == {"272,0": 0, "435": EINVAL, "400": ENOSYS, "135,0x0040000": 0}


def test_cap_sys_admin_gets_what_the_profile_gives_it(probed: Callable[..., dict[str, int]]) -> None:
    got = probed(["272,0", "435", "308,-1,0", "165", "167"], cap_add=["SYS_ADMIN"])
    # unshare, clone3 and setns reach the kernel now; swapon stays refused (EPERM: no CAP_SYS_ADMIN
    # rule for it)
    assert got == {"272,0": 0, "435": EINVAL, "308,-1,0": EBADF, "165": EFAULT, "167": EPERM}


def test_a_custom_profile(probed: Callable[..., dict[str, int]]) -> None:
    text = ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getpid"], '
            '"action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}')
    program = seccomp.compile_profile(text, capabilities.DOCKER_DEFAULT)
    got = probed(["39", "272,0"], seccomp=seccomp.encode(program))
    assert got == {"39": 13, "272,0": 0}
