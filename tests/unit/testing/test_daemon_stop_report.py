"""A test daemon that does not stop on SIGTERM in time is killed, and says so with the end of
its log: a session's teardown that waited out a daemon's drain (a connection or an engine call
left open) showed only as 15 s of the last test's teardown."""

from __future__ import annotations

import signal
import subprocess
import time
import warnings

import pytest

from dockyard.testing.daemon import DaemonProcess

# A process that outlives SIGTERM (ignored signals stay ignored across exec), as a daemon stuck
# in its drain does, having logged a last line.
STUCK = "trap '' TERM; echo 'engine calls still running after 10s; closing anyway'; exec sleep 60"


def _started(script: str) -> DaemonProcess:
    daemon = DaemonProcess()
    with open(daemon.log_path, "ab") as log:
        daemon.proc = subprocess.Popen(["sh", "-c", script], stdout=log, stderr=log)
    while "closing anyway" not in daemon.log() and daemon.proc.poll() is None:
        time.sleep(0.01)
    return daemon


def test_a_daemon_killed_at_its_stop_is_reported_with_its_log() -> None:
    daemon = _started(STUCK)
    try:
        with pytest.warns(RuntimeWarning, match=r"did not stop within 0.5s of signal 15: killed; "
                                                r"its log ends:\nengine calls still running"):
            assert daemon.stop(timeout=0.5) == -signal.SIGKILL
    finally:
        daemon.cleanup()


def test_a_daemon_that_stops_in_time_is_not_reported() -> None:
    daemon = _started(STUCK.replace("trap '' TERM; ", ""))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert daemon.stop(timeout=30) == -signal.SIGTERM
    finally:
        daemon.cleanup()
