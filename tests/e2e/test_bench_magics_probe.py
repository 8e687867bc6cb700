"""bench.bench_magics's probes in a real kernel on the session daemon, once each: the paired
magic/docker-py runs and the first-line latency produce plausible figures and leave nothing."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/ lives at the repo root

from bench import bench_magics
from bench.harness import Daemon

from dockyard.testing.daemon import DaemonProcess


def test_probes_measure_in_a_real_kernel(dockyard_daemon: DaemonProcess, busybox_image: str,
                                         dockyard_client: Any) -> None:
    before = {c.id for c in dockyard_client.containers.list(all=True)}
    with bench_magics.kernel_for(Daemon("dockyard", dockyard_daemon.host)) as kernel:
        magic, direct, overhead = bench_magics.paired_runs(kernel, repeats=2, warmup=1)
        first = bench_magics.first_line_latency(kernel, repeats=2, warmup=0)
    assert len(magic.samples) == len(direct.samples) == 2 and overhead.unit == "ms"
    assert 0 < magic.median < 10 and 0 < direct.median < 10
    assert 0 < first.median < 5            # released, streamed, seen: well under the timeout
    assert {c.id for c in dockyard_client.containers.list(all=True)} == before
