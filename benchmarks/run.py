"""``make bench``: run every benchmark, print the figures and write ``bench.json`` (seconds, medians).

Usage: ``python -m benchmarks.run [--only NAME ...] [--out bench.json]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path


def _suite() -> dict[str, Callable[[], dict]]:
    from benchmarks import bench_stage

    suite: dict[str, Callable[[], dict]] = {}
    try:
        from benchmarks.bench_dataset import bench_dataset_build

        suite["dataset"] = bench_dataset_build
    except ImportError:
        pass
    try:
        from benchmarks.bench_brackets import bench_brackets

        suite["brackets"] = bench_brackets
    except ImportError:
        pass
    suite["stage1"] = bench_stage.bench_stage1_trial
    suite["stage2"] = bench_stage.bench_stage2_trial
    suite["cnn"] = lambda: bench_stage.bench_stage2_trial(n_trials=3, model="cnn")
    try:
        from benchmarks.bench_models import bench_cnn_trial

        suite["cnn_fit"] = lambda: {"cnn_fit_5000_events_s": bench_cnn_trial()["cnn_trial_s"]}
    except ImportError:
        pass
    try:
        from benchmarks.bench_workers import bench_workers

        suite["workers"] = lambda: bench_workers(n_trials=40)
    except ImportError:
        pass
    return suite


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", help="benchmark names to run (default: all)")
    parser.add_argument("--out", default="bench.json", help="where to write the figures")
    args = parser.parse_args()
    suite = _suite()
    out_path = Path(args.out)
    results: dict = json.loads(out_path.read_text()) if out_path.is_file() and args.only else {}
    for name, fn in suite.items():
        if args.only and name not in args.only:
            continue
        t0 = time.perf_counter()
        figures = fn()
        print(f"{name:10s} ({time.perf_counter() - t0:6.1f} s): {json.dumps(figures)}", flush=True)
        results.update(figures)
    results["machine"] = f"{platform.machine()} {platform.processor() or ''} python {platform.python_version()}"
    results["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    out_path.write_text(json.dumps(results, indent=2, sort_keys=True))
    print(f"wrote {out_path.resolve()}")


if __name__ == "__main__":
    main()
