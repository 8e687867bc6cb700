"""``--cap-add``/``--cap-drop`` of a capability the daemon cannot give: refused at create as
current moby refuses it (moby PR #42933, "oci/caps: limit available capabilities to current
environment", and after: ``validateCapabilities`` → 400 "invalid CapAdd: capability not
supported by your kernel or not available in the current environment"). dockerd 20.10 takes
the create and fails the start in runc's words ("unable to apply caps"); dockyard dropped it
silently. The daemon here starts with CAP_SYS_TIME out of its bounding set (``setpriv``), as
this machine's own set lacks CAP_SYS_RESOURCE."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from docker import errors as docker_errors

from dockyard.testing.daemon import DaemonProcess, DockerCLI

UNAVAILABLE = ('capability not supported by your kernel or not available in the current '
               'environment: "CAP_SYS_TIME"')


class _BoundedDaemon(DaemonProcess):
    """A daemon exec'd by ``setpriv`` with CAP_SYS_TIME dropped from its bounding set (so from
    its permitted and effective sets too; the pid stays the daemon's)."""

    def command(self) -> list[str]:
        return ["setpriv", "--bounding-set", "-sys_time", *super().command()]


@pytest.fixture(scope="module")
def bounded(busybox_archive: Path) -> Iterator[DaemonProcess]:
    with _BoundedDaemon(None, log_level="warn") as daemon:
        daemon.load(busybox_archive)
        yield daemon


def _status_caps(text: str) -> int:
    return int(next(line for line in text.splitlines() if line.startswith("CapEff:")).split()[1], 16)


def test_an_unavailable_capability_is_refused_at_create(bounded: DaemonProcess) -> None:
    """In moby's words, 400, nothing made; one it has, ALL and --privileged still run (getting
    what the daemon has), an unknown name keeps its words."""
    docker = DockerCLI(bounded.host)
    for flags, key in ((("--cap-add", "SYS_TIME"), "CapAdd"), (("--cap-add", "cap_sys_time"), "CapAdd"),
                       (("--cap-drop", "sys_time"), "CapDrop")):
        done = docker("create", "--network", "none", *flags, "busybox", "true")
        assert (done.returncode, done.stderr) == (
            1, f"Error response from daemon: invalid {key}: {UNAVAILABLE}\n"), flags
    assert docker("ps", "-aq").stdout == ""
    client = bounded.client()
    try:
        with pytest.raises(docker_errors.APIError) as refused:
            client.api.create_container("busybox", ["true"], host_config={"CapAdd": ["SYS_TIME"]})
        assert refused.value.status_code == 400
        assert refused.value.explanation == f"invalid CapAdd: {UNAVAILABLE}"
    finally:
        client.close()
    # what it has is given: ALL and --privileged get that, CAP_SYS_TIME (bit 25) not among it
    for flags in (("--cap-add", "NET_ADMIN"), ("--cap-add", "ALL"), ("--privileged",)):
        done = docker("run", "--rm", "--network", "none", *flags, "busybox", "cat", "/proc/self/status")
        assert done.returncode == 0, (flags, done.stderr)
        caps = _status_caps(done.stdout)
        assert caps & 1 << 12 and not caps & 1 << 25, (flags, hex(caps))  # NET_ADMIN, SYS_TIME
    done = docker("create", "--cap-add", "FOO", "busybox", "true")
    assert done.stderr == 'Error response from daemon: invalid CapAdd: unknown capability: "CAP_FOO"\n'
