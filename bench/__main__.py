"""``python3 -m bench [names…] [--quick]``: run the benchmarks, print the table, save JSON."""

from __future__ import annotations

import argparse
import importlib
import platform
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from .harness import Context, Result, format_table, write_json

# name -> module under bench/ whose bench(ctx) runs it; imported only when selected.
BENCHMARKS: dict[str, str] = {
    "unpack": "unpack",
    "load": "load",
    "images": "images",
    "build": "build",
    "run": "bench_run",
    "registry": "bench_registry",
    "distribution": "bench_distribution",
    "api_run": "bench_api_run",
    "magics": "bench_magics",
}
RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"


def load_benchmark(name: str) -> Callable[[Context], list[Result]]:
    module = importlib.import_module(f"{__package__}.{BENCHMARKS[name]}")
    return module.bench  # type: ignore[no-any-return]


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python3 -m bench", description=__doc__)
    p.add_argument("names", nargs="*", metavar="NAME",
                   help=f"benchmarks to run (default: all): {', '.join(BENCHMARKS)}")
    p.add_argument("--quick", action="store_true", help="32 MiB inputs instead of 256 MiB, 3 repeats")
    p.add_argument("--repeats", type=int, help="timed runs per figure (default 5, 3 with --quick)")
    p.add_argument("--json", type=Path, default=RESULTS, help=f"where to write results ({RESULTS})")
    args = p.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        p.error(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    ctx = Context(quick=args.quick, repeats=args.repeats or (3 if args.quick else 5))
    print(f"peers: {', '.join(ctx.peers) or 'none'}; inputs cached in {ctx.cache}", file=sys.stderr)
    results: list[Result] = []
    failed = []
    for name in args.names or list(BENCHMARKS):
        print(f"{name} …", file=sys.stderr)
        try:
            results += load_benchmark(name)(ctx)
        except Exception:  # noqa: BLE001 - one broken benchmark must not hide the others
            traceback.print_exc()
            failed.append(name)
    print(format_table(results))
    context = {"quick": ctx.quick, "repeats": ctx.repeats, "peers": ctx.peers,
               "machine": platform.machine(), "python": platform.python_version(),
               "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "failed": failed}
    write_json(results, args.json, context)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
