"""``make bench``: run every benchmark, print the figures and write ``bench.json`` (seconds, medians).

Usage: ``python -m benchmarks.run [--only NAME ...] [--out bench.json] [--scale-n 0 1000 ...]``. A chosen
benchmark whose module is missing or does not import stops the run with its name and error (no silent
skip). ``scale`` (:mod:`benchmarks.bench_scale`) runs N = 0, 1,000, 10,000 and 50,000 on the journal
file and PostgreSQL by default (long: ``--scale-n 0 1000`` for a quick look).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: benchmark name -> (module under benchmarks/, the function that returns its bench.json figures)
_BENCHMARKS: dict[str, tuple[str, Callable[[Any, argparse.Namespace], dict]]] = {
    "dataset": ("bench_dataset", lambda m, a: m.bench_dataset_build()),
    "brackets": ("bench_brackets", lambda m, a: m.bench_brackets()),
    "stage1": ("bench_stage", lambda m, a: m.bench_stage1_trial()),
    "stage2": ("bench_stage", lambda m, a: m.bench_stage2_trial()),
    "cnn": ("bench_stage", lambda m, a: m.bench_stage2_trial(n_trials=3, model="cnn")),
    "cnn_fit": ("bench_models", lambda m, a: {"cnn_fit_5000_events_s": m.bench_cnn_trial()["cnn_trial_s"]}),
    "workers": ("bench_workers", lambda m, a: m.bench_workers(n_trials=40)),
    "scale": ("bench_scale", lambda m, a: m.bench_scale(tuple(a.scale_n), tuple(a.scale_storage),
                                                       trials=a.scale_trials, sampler=a.scale_sampler)),
    "samplers": ("bench_samplers", lambda m, a: m.bench_samplers()),
    "plots": ("bench_plots", lambda m, a: m.bench_study_plots()),
    "years": ("bench_years", lambda m, a: m.bench_years()),
}


def _load(name: str) -> Any:
    """The module of benchmark ``name``.

    Raises:
        SystemExit: it is missing or does not import (naming the file, the error and ``--only``).
    """
    module = _BENCHMARKS[name][0]
    try:
        return importlib.import_module(f"benchmarks.{module}")
    except ImportError as exc:
        raise SystemExit(f"benchmark {name!r}: benchmarks/{module}.py cannot be imported ({exc}); fix it, or run "
                         f"the others with --only {' '.join(n for n in _BENCHMARKS if n != name)}") from exc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", choices=list(_BENCHMARKS), help="benchmark names to run (default: all)")
    parser.add_argument("--out", default="bench.json", help="where to write the figures")
    parser.add_argument("--scale-n", type=int, nargs="*", default=[0, 1000, 10000, 50000],
                        help="scale: finished trials already in the study (benchmarks/bench_scale.py)")
    parser.add_argument("--scale-storage", nargs="*", default=["journal", "postgres"], choices=["journal", "postgres"])
    parser.add_argument("--scale-trials", type=int, default=20, help="scale: real stage-1 trials measured per point")
    parser.add_argument("--scale-sampler", default=None, help="scale: a conf/search/sampler name (default: tpe)")
    args = parser.parse_args()
    out_path = Path(args.out)
    results: dict = json.loads(out_path.read_text()) if out_path.is_file() and args.only else {}
    chosen = [n for n in _BENCHMARKS if not args.only or n in args.only]
    modules = {name: _load(name) for name in chosen}  # every chosen benchmark imports, or none runs
    for name in chosen:
        t0 = time.perf_counter()
        figures = _BENCHMARKS[name][1](modules[name], args)
        print(f"{name:10s} ({time.perf_counter() - t0:6.1f} s): {json.dumps(figures)}", flush=True)
        results.update(figures)
    results["machine"] = f"{platform.machine()} {platform.processor() or ''} python {platform.python_version()}"
    results["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    results["load_avg_1m_at_end"] = os.getloadavg()[0]
    out_path.write_text(json.dumps(results, indent=2, sort_keys=True))
    print(f"wrote {out_path.resolve()}")


if __name__ == "__main__":
    main()
