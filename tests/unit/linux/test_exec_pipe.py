"""A start is done once the init has exec'd its command, as ``runc start`` is: its
close-on-exec error pipe's EOF, with no report on it, says it has. Before session 13 the init
wrote a byte there on its way and the start answered at it, and ``docker top`` right after it
listed the init as the launcher's Python now and then. Here a real forked process lingers before
its execve (the window widened), and whoever waited must see it as its command."""

from __future__ import annotations

import os
import shutil
import signal
import time

from dockyard.linux.launcher import exec_result


def test_the_start_waits_for_the_exec() -> None:
    sleep = shutil.which("sleep")
    assert sleep is not None
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:  # the init: set up, entrypoint found, then slow to exec
        try:
            os.close(read_end)
            time.sleep(0.5)  # widens the window a start could answer in, asserts nothing
            os.execv(sleep, ["sleep", "30"])
        finally:
            os._exit(1)
    os.close(write_end)
    try:
        exec_result(read_end)  # closes it
        assert os.readlink(f"/proc/{pid}/exe") == os.path.realpath(sleep)
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
