"""Benchmark: years of bars (issue #10 point 3): study preparation, a stage-1 trial and peak memory.

``bench_years()`` measures ``data=synthetic data.years=Y`` for Y in 1, 3, 10 and a real-size Parquet
file (10 years of synthetic bars written to a temporary folder, read with ``data=parquet``). Each size
runs in a fresh subprocess (``python -m benchmarks.bench_years --one ...``), so its peak RSS
(``ru_maxrss``) is that size's alone. In the subprocess:

- ``prepare_s``: :func:`opt.stages.prepare_market` (generate or read the bars, check them, cut off the
  held-out test part, build the session calendar, levels and ATR), after the numba kernels are
  loaded by a small warm-up run;
- ``stage1_trial_s``: median seconds of ``n_trials`` stage-1 objectives (event dataset, split,
  XGBoost fit, DESIGN §7 metrics; MLflow logging excluded), parameters sampled by a seeded TPE sampler
  from ``stage.space`` after one untimed trial of the base config; pruned trials count, like
  :mod:`benchmarks.bench_stage`;
- ``stage1_dataset_s``: median seconds of the trial's data path alone (:func:`opt.dataset.build_event_dataset`
  of the base config), the part that grows with bars;
- ``peak_rss_mb``: the subprocess's peak resident memory, MiB;
- ``*_cpu_s``: the same as process CPU seconds (all threads), steadier than wall time on a loaded machine;
  ``load_1min``: the 1-minute load average when the size finished.

Targets (issue #10): prepare <= 30 s, a trial <= 3 s and peak RSS <= 4 GB for 10 years.
``python -m benchmarks.bench_years`` prints ``bench_years()`` as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
YEARS = (1, 3, 10)
_PARQUET_YEARS = 10


def _compose(overrides: list[str]) -> Any:
    from hydra import compose, initialize_config_dir

    from opt.cli import normalize_overrides
    from opt.paths import conf_dir

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose(config_name="config",
                       overrides=normalize_overrides(["+stage=1", "search.progress=false", *overrides]))


def _warm_up() -> None:
    """Load (or compile) every numba kernel on a small study so that timings exclude it."""
    from opt.stages import DatasetStage, TrialContext, prepare_market
    from opt.stages.base import TrialPrunedWithReason

    cfg = _compose(["data=synthetic", "data.synthetic.n_days=20"])
    try:
        DatasetStage().objective(TrialContext(market=prepare_market(cfg)), cfg)
    except TrialPrunedWithReason:
        pass


def measure_one(overrides: list[str], n_trials: int) -> dict[str, float]:
    """Prepare the study of ``overrides`` and time ``n_trials`` stage-1 trials (in this process)."""
    import optuna

    from opt.config_rules import check_config
    from opt.dataset import build_event_dataset
    from opt.stages import DatasetStage, TrialContext, prepare_market
    from opt.stages.base import TrialPrunedWithReason

    _warm_up()
    cfg = _compose(overrides)
    check_config(cfg)
    t0, c0 = time.perf_counter(), time.process_time()
    market = prepare_market(cfg)
    prepare_s, prepare_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    stage = DatasetStage()
    plan = stage.plan(cfg)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=42))
    secs: list[float] = []
    cpu: list[float] = []
    pruned = 0
    for i in range(n_trials + 1):
        trial = study.ask()
        trial_cfg = plan.cfg if i == 0 else stage.sample(trial, plan.cfg)[1]
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            result = stage.objective(TrialContext(market=market, number=i), trial_cfg)
            study.tell(trial, result.metrics["score"])
        except TrialPrunedWithReason:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            pruned += i > 0
        if i > 0:
            secs.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    dataset: list[float] = []
    for _ in range(3):  # the data path of a trial alone (events, labels, features)
        t0 = time.perf_counter()
        build_event_dataset(market.ctx, plan.cfg)
        dataset.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    return {"prepare_s": prepare_s, "prepare_cpu_s": prepare_cpu_s, "stage1_trial_s": statistics.median(secs),
            "stage1_trial_cpu_s": statistics.median(cpu), "stage1_trial_s_max": max(secs),
            "stage1_dataset_s": statistics.median(dataset), "peak_rss_mb": peak,
            "n_bars": float(market.n_bars_total), "trials_pruned": float(pruned), "load_1min": os.getloadavg()[0]}


def _write_parquet(path: Path, years: int) -> None:
    """``years`` of the default synthetic bars as a Parquet file (in a subprocess: its memory is not ours)."""
    code = (
        "import sys; from benchmarks.bench_years import _compose; from opt.data import load_bars_from_config; "
        f"load_bars_from_config(_compose(['data=synthetic', 'data.years={years}'])).to_parquet(sys.argv[1])"
    )
    subprocess.run([sys.executable, "-c", code, str(path)], cwd=REPO, check=True)


def _run_one(overrides: list[str], n_trials: int) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_years", "--one", "--n-trials", str(n_trials), *overrides],
        cwd=REPO, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"bench_years {overrides} failed:\n{proc.stderr[-3000:]}")
    out: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def bench_years(years: tuple[int, ...] = YEARS, n_trials: int = 5, parquet: bool = True) -> dict[str, float]:
    """``prepare_s_<Y>y``, ``stage1_trial_s_<Y>y``, ``peak_rss_mb_<Y>y`` (and ``n_bars_<Y>y``) per size.

    Args:
        years: years of synthetic bars (``data.years``), each measured in a fresh subprocess.
        n_trials: timed stage-1 trials per size (the median is reported).
        parquet: also measure a 10-year Parquet file (keys with the suffix ``_parquet_10y``).

    Returns:
        Seconds and MiB, rounded; keys as above.
    """
    results: dict[str, float] = {}
    runs: list[tuple[str, list[str]]] = [(f"{y}y", ["data=synthetic", f"data.years={y}"]) for y in years]
    with tempfile.TemporaryDirectory(prefix="opt-bench-years-") as tmp:
        if parquet:
            path = Path(tmp) / f"bars_{_PARQUET_YEARS}y.parquet"
            _write_parquet(path, _PARQUET_YEARS)
            runs.append((f"parquet_{_PARQUET_YEARS}y", ["data=parquet", f"data.path={path}"]))
        for suffix, overrides in runs:
            one = _run_one(overrides, n_trials)
            for key in ("prepare_s", "prepare_cpu_s", "stage1_trial_s", "stage1_trial_cpu_s", "stage1_trial_s_max",
                        "stage1_dataset_s", "load_1min"):
                results[f"{key}_{suffix}"] = round(one[key], 3)
            results[f"peak_rss_mb_{suffix}"] = round(one["peak_rss_mb"], 1)
            results[f"n_bars_{suffix}"] = int(one["n_bars"])
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--one", action="store_true", help="measure one size in this process (Hydra overrides)")
    parser.add_argument("--n-trials", type=int, default=5)
    parser.add_argument("--years", type=int, nargs="*", default=list(YEARS))
    parser.add_argument("--no-parquet", action="store_true")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(args.overrides, args.n_trials)))
    else:
        print(json.dumps(bench_years(tuple(args.years), args.n_trials, not args.no_parquet), indent=2))


if __name__ == "__main__":
    main()
