"""bench.harness: the statistics, the table and the JSON the benchmarks report through."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/ lives at the repo root

from bench import harness
from bench.__main__ import parse
from bench.harness import Result, Stats


def test_median_and_nearest_rank_p90() -> None:
    s = Stats((5.0, 1.0, 3.0, 2.0, 4.0))
    assert s.median == 3.0 and s.p90 == 5.0
    ten = Stats(tuple(float(i) for i in range(1, 11)))
    assert ten.median == 5.5 and ten.p90 == 9.0
    assert Stats((7.0,)).p90 == 7.0
    assert Stats(tuple(float(i) for i in range(100))).p90 == 89.0


def test_measure_skips_warmup_and_runs_setup_before_each_run() -> None:
    calls: list[str] = []
    stats = harness.measure(lambda: calls.append("run"), repeats=3, warmup=2,
                            setup=lambda: calls.append("setup"))
    assert calls == ["setup", "run"] * 5
    assert len(stats.samples) == 3 and all(t >= 0 for t in stats.samples)


def test_attempt_turns_unsupported_into_its_reason() -> None:
    def missing() -> Stats:
        raise harness.Unsupported("not implemented")
    assert harness.attempt(missing) == "not implemented"
    with pytest.raises(ZeroDivisionError):
        harness.attempt(lambda: Stats((1 / 0,)))


@pytest.mark.parametrize("seconds,text", [(2.345, "2.35 s"), (0.0123, "12.3 ms"), (0.0000451, "45 µs")])
def test_format_seconds(seconds: float, text: str) -> None:
    assert harness.format_seconds(seconds) == text


def test_ratio_is_dockyard_over_peer() -> None:
    r = Result("x", Stats((1.0, 1.0, 1.0)), {"tar": Stats((2.0, 2.0, 4.0)), "gone": "absent"})
    assert r.ratio("tar") == 0.5
    assert r.ratio("gone") is None and r.ratio("unknown") is None
    assert Result("y", "not implemented", {"tar": Stats((1.0,))}).ratio("tar") is None


def test_table_layout() -> None:
    results = [
        Result("unpack", Stats((0.5, 0.6, 0.7)), {"tar -xzf": Stats((1.0, 1.0, 1.0))}, "≤ 1.30× tar",
               size_bytes=100_000_000),
        Result("images", "not implemented", {"dockerd": Stats((0.01, 0.02))}, "< 20 ms"),
        Result("alone", Stats((0.001,))),
    ]
    assert harness.format_table(results).splitlines() == [
        "benchmark  dockyard                           peer      peer figure                    ratio  target",
        "---------  ---------------------------------  --------  -----------------------------  -----  -----------",
        "unpack     600.0 ms (p90 700.0 ms, 167 MB/s)  tar -xzf  1.00 s (p90 1.00 s, 100 MB/s)  0.60×  ≤ 1.30× tar",
        "images     n/a (not implemented)              dockerd   15.0 ms (p90 20.0 ms)          -      < 20 ms",
        "alone      1.0 ms (p90 1.0 ms)                -         -                              -",
    ]


def test_json_report(tmp_path: Path) -> None:
    out = tmp_path / "results" / "latest.json"
    r = Result("unpack", Stats((1.0, 3.0, 2.0)), {"tar -xzf": Stats((4.0,)), "podman": "absent"})
    harness.write_json([r], out, {"quick": True})
    doc = json.loads(out.read_text())
    assert doc["context"] == {"quick": True}
    [res] = doc["results"]
    assert res["dockyard"] == {"median_s": 2.0, "p90_s": 3.0, "samples_s": [1.0, 3.0, 2.0]}
    assert res["peers"]["tar -xzf"]["ratio"] == 0.5
    assert res["peers"]["podman"] == {"unavailable": "absent", "ratio": None}
    assert not list(out.parent.glob("*.tmp"))


def test_cached_inputs_are_made_once(tmp_path: Path) -> None:
    ctx = harness.Context(cache=tmp_path, peers={})
    made: list[Path] = []

    def make(p: Path) -> None:
        made.append(p)
        p.write_text("data")

    assert ctx.cached("input.bin", make) == tmp_path / "input.bin"
    assert ctx.cached("input.bin", make).read_text() == "data"
    assert len(made) == 1 and made[0] != tmp_path / "input.bin"

    def broken(p: Path) -> None:
        p.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        ctx.cached("other.bin", broken)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.bin"]


def test_scratch_is_per_process_and_a_dead_runs_goes(tmp_path: Path) -> None:
    """Two benchmark runs at once share the cache: neither may remove the other's scratch
    (a running daemon's data root); a killed run's is removed by the next."""
    ctx = harness.Context(cache=tmp_path, peers={})
    dead = subprocess.Popen(["true"])
    dead.wait()
    other_live = tmp_path / "scratch" / "api-run-dockyard.1"  # pid 1 always lives
    stale = tmp_path / "scratch" / f"api-run-dockyard.{dead.pid}"
    for d in (other_live, stale):
        d.mkdir(parents=True)
        (d / "data").write_text("x")
    with ctx.scratch("api-run-dockyard") as mine:
        assert mine.name == f"api-run-dockyard.{os.getpid()}" and not any(mine.iterdir())
        assert other_live.is_dir() and not stale.exists()
        (mine / "data").write_text("y")
    assert not mine.exists() and (other_live / "data").read_text() == "x"


def test_quick_shrinks_inputs_and_peers_are_found() -> None:
    assert harness.Context(quick=True, peers={}).big == 32 << 20
    assert harness.Context(peers={}).big == 256 << 20
    assert harness.discover_peers(("tar", "no-such-peer-xyz")) == {"tar": "/usr/bin/tar"}


def test_cli_rejects_unknown_benchmark(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parse(["nope"])
    assert exc.value.code == 2 and "unknown benchmark(s): nope" in capsys.readouterr().err
    assert parse(["unpack", "--quick"]).names == ["unpack"]


def test_every_registered_benchmark_imports() -> None:
    from bench.__main__ import BENCHMARKS, load_benchmark

    assert {"unpack", "load", "images"} <= set(BENCHMARKS)
    assert all(callable(load_benchmark(name)) for name in BENCHMARKS)
