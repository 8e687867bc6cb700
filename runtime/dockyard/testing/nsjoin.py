"""What a container joining another's PID and IPC namespaces (``--pid``/``--ipc
container:x``) sees, through the docker CLI: the checks the remapping and the rootless
daemons' tests share (each has its own user namespaces to join).

The SysV shared memory segment is made and looked up through the syscall probe
(``testing.syscallprobe``, bound at ``/probe``): busybox has no ``ipcmk``.
"""

from __future__ import annotations

from collections.abc import Callable

MAKE_SHM: str = "29,0x5eed,4096,0x3b6"  # shmget(0x5eed, 4096, IPC_CREAT|0666)
FIND_SHM: str = "29,0x5eed,4096,0"      # shmget of that key, without creating it

Docker = Callable[..., str]  # runs the docker CLI, asserting success; its stdout


def namespaces(ok: Docker, name: str, *kinds: str) -> list[str]:
    """The ``/proc/self/ns`` links of a process exec'd in container ``name``."""
    links = " ".join(f"/proc/self/ns/{kind}" for kind in kinds)
    return ok("exec", name, "sh", "-c", f"for l in {links}; do readlink $l; done").split()


def start_pair(ok: Docker, donor: str, joiner: str, probe: tuple[str, ...]) -> None:
    """A shareable ``donor`` (``sleep 300``, a note in its /dev/shm, a SysV segment) and a
    ``joiner`` of its PID and IPC namespaces (``sleep 301``); ``probe``: the ``-v`` binding
    the syscall probe."""
    ok("run", "-d", "--name", donor, "--ipc", "shareable", *probe, "busybox", "sh", "-c",
       "echo from-donor > /dev/shm/note; exec sleep 300")
    assert ok("exec", donor, "/probe", MAKE_SHM).split()[1:] == ["0", "0"]
    ok("run", "-d", "--name", joiner, "--pid", f"container:{donor}", "--ipc", f"container:{donor}",
       *probe, "busybox", "sleep", "301")


def check_joined(ok: Docker, donor: str, joiner: str, probe: tuple[str, ...]) -> None:
    """The joiner is in the donor's user, PID and IPC namespaces: ``ps`` in it lists both
    inits, it finds the donor's segment (a container of its own IPC namespace does not:
    ENOENT) and its /dev/shm note."""
    kinds = ("user", "pid", "ipc")
    assert namespaces(ok, joiner, *kinds) == namespaces(ok, donor, *kinds)
    seen = ok("exec", joiner, "ps", "-o", "pid,args")
    assert "sleep 300" in seen and "sleep 301" in seen  # the donor's init and its own
    assert ok("exec", joiner, "/probe", FIND_SHM).split()[1:] == ["0", "0"]
    alone = ok("run", "--rm", "--ipc", "private", *probe, "busybox", "/probe", FIND_SHM)
    assert alone.split()[1:] == ["-1", "2"]  # ENOENT: another IPC namespace's
    assert ok("exec", joiner, "cat", "/dev/shm/note") == "from-donor\n"
