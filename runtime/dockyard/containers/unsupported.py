"""What dockerd 20.10 on Linux takes in a create only to refuse or to warn of: other
platforms' fields (``--isolation``, ``--io-maxbandwidth``/``--io-maxiops``), runtimes it does
not know, storage options its overlay2 cannot apply where the data root is not xfs with
``pquota``, device requests (``--gpus``) without a device driver — each answered here in its
words and status, at the point where dockerd answers (its request decoder, its create, the
start), so that nothing is taken and then silently left undone. The fields it takes and
discards with a warning are ``create.discard_unsupported``'s."""

from __future__ import annotations

import json
from typing import Any, Final

from ..errors import DockyardError, InvalidArgument
from ..linux import cgroups

RUNTIMES: Final = ("runc", "io.containerd.runc.v2", "io.containerd.runtime.v1.linux")
"""The runtimes dockerd 20.10 knows without a daemon.json ``runtimes`` (its ``docker info``
lists them; the first is its default): here each name is dockyard's one runtime."""
_V1_RUNTIME: Final = RUNTIMES[2]


def check_decoded(hc: dict[str, Any]) -> None:
    """What dockerd's request decoder refuses (runconfig's validateIsolation, validateQoS and
    validateResources), before it looks at the image: its 500 and words. The real-time
    bounds are cgroup v1's ``cpu.rt_period_us``/``cpu.rt_runtime_us``, which cgroup v2 lacks."""
    isolation = str(hc.get("Isolation") or "")
    if isolation and isolation.lower() != "default":
        raise DockyardError(f"Invalid isolation: {json.dumps(isolation)} - linux only supports "
                            "'default'")
    for key, what in (("IOMaximumBandwidth", "maximum bandwidth"), ("IOMaximumIOps", "maximum IOPs")):
        if hc.get(key):
            raise DockyardError(f"Invalid QoS settings: linux does not support configuration of {what}")
    period, runtime = hc.get("CpuRealtimePeriod") or 0, hc.get("CpuRealtimeRuntime") or 0
    if (period or runtime) and "cpu_rt" not in cgroups.supported():
        raise DockyardError("Your kernel does not support CPU real-time scheduler")
    if period and runtime and runtime > period:
        raise DockyardError("cpu real-time runtime cannot be higher than cpu real-time period")


def check_storage_opts(hc: dict[str, Any]) -> None:
    """``--storage-opt``, as dockerd's overlay2 driver takes it where the data root is not
    xfs mounted with ``pquota``: ``size`` refused for that, any other option as unknown
    (lower-cased). dockyard's overlay has no quotas wherever its data root is; this is
    dockerd's answer on such a file system (500, at the container's layer)."""
    options = [str(key).lower() for key in hc.get("StorageOpt") or {}]
    if "size" in options:
        raise DockyardError("--storage-opt is supported only for overlay over xfs with 'pquota' "
                            "mount option")
    if options:
        raise DockyardError(f"Unknown option {options[0]}")


def check_device_requests(hc: dict[str, Any]) -> None:
    """``--gpus`` (``DeviceRequests``) at a start: dockerd 20.10 selects a device driver for
    each request by driver name and capabilities, and has one (nvidia) only where
    nvidia-container-runtime-hook is installed; dockyard has none, so a request fails the
    start in dockerd's words (500, exit code 128), as on a host without the hook."""
    requests = hc.get("DeviceRequests") or []
    if not requests:
        return
    driver, caps = str(requests[0].get("Driver") or ""), requests[0].get("Capabilities") or []
    shown = "[" + " ".join("[" + " ".join(str(c) for c in group or []) + "]"
                           for group in caps) + "]"  # Go's %v of [][]string
    raise DockyardError(f"could not select device driver {json.dumps(driver)} with "
                        f"capabilities: {shown}")


def check_runtime(hc: dict[str, Any]) -> None:
    """``--runtime``: one of :data:`RUNTIMES` (dockerd's 400 otherwise, after its other
    HostConfig checks)."""
    if hc["Runtime"] not in RUNTIMES:
        raise InvalidArgument(f"Unknown runtime specified {hc['Runtime']}")


def runtime_warnings(hc: dict[str, Any]) -> list[str]:
    """dockerd 20.10's warning for its deprecated shim v1 runtime, last of a create's."""
    if hc.get("Runtime") != _V1_RUNTIME:
        return []
    return [(f'Configured runtime "{_V1_RUNTIME}" is deprecated and will be removed in the '
             "next release.")]
