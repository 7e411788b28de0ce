"""Stage-1 bookkeeping at scale: a study that already holds N finished trials, then real trials on ES.

For each N (default 0, 1,000, 10,000, 50,000) and storage (journal file, PostgreSQL) a fresh study is
filled with N finished trials drawn from the real stage-1 space (``study.add_trials``; 70 % COMPLETE,
30 % PRUNED, each with the user attributes a real trial writes), then ``run_study`` runs ``trials``
(default 20) real stage-1 trials on the ES file in this process. Each trial's objective is timed (a
wrapper around the stage), and so is the time between two objective starts (the whole cycle: the
loop's counts, ``study.ask``, sampling, the MLflow run with params, metrics and artifacts,
``study.tell``, closing the run). The figures, medians over the trials:

- ``stage1_overhead_ms_at_<N>[_pg]``: cycle minus objective, in ms (sample + storage + MLflow + artifacts);
- ``stage1_sample_ms_at_<N>[_pg]``: of that, the stage's ``sample`` (the ``suggest_*`` calls);
- ``stage1_trials_per_hour_at_<N>[_pg]``: 3600 / median cycle;
- ``study_load_s_at_<N>[_pg]``: ``optuna.load_study`` plus the finished count (what every worker start pays);
- ``worker_first_trial_s_at_<N>[_pg]``: ``python -m opt run`` from process start to its first
  trial's start (Optuna's ``datetime_start``), warm numba cache;
- ``list_s_at_<N>[_pg]``, ``show_s_at_<N>[_pg]``: ``python -m opt list`` / ``show`` wall seconds.

The N trials added here have no MLflow runs (the MLflow store holds only the measured trials), and
their journal records are one per trial where a real trial writes ~15: loading a real study of N
trials from a journal is slower than the ``study_load_s`` figure here (the issue measured 10-14 s at
20,000 real trials). ``--sampler random`` (or any ``conf/search/sampler`` name) replaces the sampler
of ``conf/search/sampler/tpe.yaml``.

Usage: ``python -m benchmarks.bench_scale [--n 0 1000 10000] [--storage journal postgres] [--trials 20]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from omegaconf import DictConfig
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import FrozenTrial, TrialState

REPO = Path(__file__).resolve().parents[1]
ES_CSV = Path(os.environ.get("OPT_BENCH_ES", REPO.parent / "shared" / "data" / "ES_1min.csv"))

__all__ = ["bench_scale", "scale_point", "fake_trials"]

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
_METRICS = ("score", "n_events", "events_per_day", "break_rate", "bounce_rate", "chop_rate", "n_train", "n_eval",
            "physics_quality", "model_performance", "variance_score", "silhouette", "knn5_purity",
            "correlation_score", "corr_max", "corr_mean", "precision_at_80", "auc", "one_minus_brier", "brier",
            "logloss", "accuracy")


def _compose(overrides: list[str]) -> DictConfig:
    from hydra import compose, initialize_config_dir

    from opt.cli import normalize_overrides
    from opt.paths import conf_dir

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose(config_name="config", overrides=normalize_overrides(overrides))


def _templates(cfg: DictConfig, n: int = 200) -> list[dict[str, BaseDistribution]]:
    """The distributions of ``n`` random trials of ``stage.space`` (a conditional space gives trials
    different parameter sets; one throwaway in-memory study)."""
    from opt.stages import get_stage

    stage = get_stage(int(cfg.stage.id))
    cfg = stage.plan(cfg).cfg  # the space as the run sees it (`only_if` leaves resolved)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    out = []
    for _ in range(n):
        trial = study.ask()
        stage.sample(trial, cfg)
        out.append(dict(trial.distributions))
        study.tell(trial, 0.0)
    return out


def _draw(dist: BaseDistribution, rng: np.random.Generator) -> Any:
    if isinstance(dist, CategoricalDistribution):
        return dist.choices[int(rng.integers(len(dist.choices)))]
    if isinstance(dist, IntDistribution):
        return int(dist.low + dist.step * int(rng.integers((dist.high - dist.low) // dist.step + 1)))
    assert isinstance(dist, FloatDistribution)
    if dist.step is not None:
        return float(dist.low + dist.step * int(rng.integers(round((dist.high - dist.low) / dist.step) + 1)))
    if dist.log:
        return float(np.exp(rng.uniform(np.log(dist.low), np.log(dist.high))))
    return float(rng.uniform(dist.low, dist.high))


def fake_trials(templates: list[dict[str, BaseDistribution]], n: int, *, seed: int = 0) -> list[FrozenTrial]:
    """``n`` finished trials (70 % COMPLETE with a score, 30 % PRUNED), each over the distributions of one
    of ``templates`` (its categorical choices kept, so a conditional space stays consistent; the other
    values drawn anew), with the user attributes a real stage-1 trial writes (metrics, config params,
    MLflow run id, worker)."""
    rng = np.random.default_rng(seed)
    start = datetime(2026, 1, 1)
    out = []
    for i in range(n):
        distributions = templates[int(rng.integers(len(templates)))]
        params = {name: _draw(d, rng) for name, d in distributions.items()}
        metrics = {m: float(rng.uniform()) for m in _METRICS}
        complete = rng.uniform() < 0.7
        attrs: dict[str, Any] = {"worker": "bench:1", "mlflow_run_id": uuid.uuid4().hex, "config_params": params,
                                 "metrics": metrics}
        if not complete:
            attrs["prune_reason"] = "events_per_day=0.50 outside [1.0, 60.0]"
        t0 = start + timedelta(seconds=i)
        out.append(optuna.trial.create_trial(
            state=TrialState.COMPLETE if complete else TrialState.PRUNED,
            value=metrics["score"] if complete else None, params=params, distributions=distributions,
            user_attrs=attrs))
        out[-1].datetime_start, out[-1].datetime_complete = t0, t0 + timedelta(milliseconds=300)
    return out


class _TimedStage:
    """The stage-1 stage with its ``sample`` and ``objective`` timed (perf_counter stamps)."""

    def __init__(self, stage: Any) -> None:
        self._stage = stage
        self.id, self.result_file = stage.id, stage.result_file
        self.samples: list[float] = []
        self.objectives: list[tuple[float, float]] = []  # (start, seconds)

    def plan(self, cfg: DictConfig) -> Any:
        return self._stage.plan(cfg)

    def sample(self, trial: optuna.Trial, cfg: DictConfig) -> Any:
        t0 = time.perf_counter()
        try:
            return self._stage.sample(trial, cfg)
        finally:
            self.samples.append(time.perf_counter() - t0)

    def objective(self, ctx: Any, cfg: DictConfig) -> Any:
        t0 = time.perf_counter()
        try:
            return self._stage.objective(ctx, cfg)
        finally:
            self.objectives.append((t0, time.perf_counter() - t0))


@contextlib.contextmanager
def _pg_database() -> Any:
    """A fresh PostgreSQL database (dropped afterwards); yields its URL."""
    import sqlalchemy

    name = f"opt_bench_scale_{uuid.uuid4().hex[:10]}"
    admin = sqlalchemy.create_engine(PG_ADMIN.replace("postgresql://", "postgresql+psycopg2://"),
                                     isolation_level="AUTOCOMMIT")
    with admin.connect() as con:
        con.execute(sqlalchemy.text(f"CREATE DATABASE {name}"))
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        from sqlalchemy.orm import close_all_sessions

        close_all_sessions()
        with admin.connect() as con:
            con.execute(sqlalchemy.text(
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"))
            con.execute(sqlalchemy.text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()


def _cli(args: list[str], cwd: Path) -> tuple[float, str]:
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONPATH": str(REPO / "src")}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "opt", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"opt {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - t0, proc.stdout


def _es_overrides(n_target: int, storage: str | None, sampler: str | None) -> list[str]:
    out = ["+stage=1", "data=csv", f"data.path={ES_CSV}", "instrument=es", "search.study_name=scale",
           "search.progress=false", f"search.n_trials={n_target}", "search.max_consecutive_failures=0",
           "search.resume_mismatch=true"]  # the space may change between two reads of conf/ (others edit it)
    if storage:
        out.append(f"search.storage={storage}")
    if sampler:
        out.append(f"search/sampler={sampler}")
    return out


def _fill(cfg: DictConfig, n: int) -> float:
    """Create the study of ``cfg`` and add ``n`` finished trials; return the seconds it took."""
    from opt.studies import make_storage, study_name_for

    t0 = time.perf_counter()
    study = optuna.create_study(study_name=study_name_for(cfg, 1), storage=make_storage(cfg), direction="maximize",
                                load_if_exists=True)
    trials = fake_trials(_templates(cfg), n)
    for i in range(0, n, 1000):
        study.add_trials(trials[i:i + 1000])
    return time.perf_counter() - t0


def _load_seconds(cfg: DictConfig) -> float:
    from opt.search.loop import counts
    from opt.studies import make_storage, study_name_for

    t0 = time.perf_counter()
    study = optuna.load_study(study_name=study_name_for(cfg, 1), storage=make_storage(cfg))
    counts(study)
    return time.perf_counter() - t0


def _first_trial_seconds(workdir: Path, overrides: list[str], cfg: DictConfig) -> float:
    """``python -m opt run`` for one more trial: seconds from process start to that trial's start."""
    from opt.studies import make_storage, study_name_for

    started = datetime.now()
    _cli(["run", *overrides], workdir)
    study = optuna.load_study(study_name=study_name_for(cfg, 1), storage=make_storage(cfg))
    last = max(study.get_trials(deepcopy=False), key=lambda t: t.number)
    assert last.datetime_start is not None
    return (last.datetime_start - started).total_seconds()


def scale_point(n: int, *, storage: str = "journal", trials: int = 20, sampler: str | None = None,
                cli: bool = True) -> dict[str, float]:
    """The figures at ``n`` finished trials on ``storage`` (``journal`` or ``postgres``); see the module docstring."""
    from opt.search.runner import run_study
    from opt.stages import get_stage

    suffix = f"_at_{n}" + ("_pg" if storage == "postgres" else "")
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="opt-bench-scale-") as tmp, contextlib.chdir(tmp), \
            (_pg_database() if storage == "postgres" else contextlib.nullcontext(None)) as url:
        workdir = Path(tmp)
        cfg = _compose(_es_overrides(n + trials, url, sampler))
        out[f"fill_s{suffix}"] = _fill(cfg, n)
        out[f"study_load_s{suffix}"] = _load_seconds(cfg)
        if trials >= 2:  # trials=0: only the fill, the load, a worker's start, list and show
            stage = _TimedStage(get_stage(1))
            t0 = time.perf_counter()
            run_study(cfg, stage)  # type: ignore[arg-type]  # a timed Stage
            wall = time.perf_counter() - t0
            starts = [s for s, _ in stage.objectives]
            cycles = np.diff(starts)
            overhead = [c - d for c, (_, d) in zip(cycles, stage.objectives[:-1], strict=True)]
            out[f"stage1_overhead_ms{suffix}"] = 1000 * statistics.median(overhead)
            out[f"stage1_objective_ms{suffix}"] = 1000 * statistics.median(d for _, d in stage.objectives)
            out[f"stage1_sample_ms{suffix}"] = 1000 * statistics.median(stage.samples)
            out[f"stage1_trials_per_hour{suffix}"] = 3600.0 / statistics.median(cycles)
            out[f"stage1_run_wall_s{suffix}"] = wall
        if cli:
            out[f"worker_first_trial_s{suffix}"] = _first_trial_seconds(
                workdir, _es_overrides(n + trials + 1, url, sampler), cfg)
            common = [o for o in _es_overrides(n + trials, url, sampler) if not o.startswith("search.n_trials")]
            out[f"list_s{suffix}"] = _cli(["list", *common], workdir)[0]
            out[f"show_s{suffix}"] = _cli(["show", *common], workdir)[0]
    return out


def bench_scale(ns: tuple[int, ...] = (0, 1000, 10000, 50000), storages: tuple[str, ...] = ("journal", "postgres"),
                *, trials: int = 20, sampler: str | None = None) -> dict[str, float]:
    """:func:`scale_point` for every ``ns`` x ``storages``, with the machine's load average recorded."""
    out: dict[str, float] = {}
    for storage in storages:
        for n in ns:
            figures = scale_point(n, storage=storage, trials=trials, sampler=sampler)
            figures[f"load_avg_1m_at_{n}" + ("_pg" if storage == "postgres" else "")] = os.getloadavg()[0]
            print(json.dumps(figures), flush=True)
            out.update(figures)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, nargs="*", default=[0, 1000, 10000, 50000])
    parser.add_argument("--storage", nargs="*", default=["journal", "postgres"], choices=["journal", "postgres"])
    parser.add_argument("--trials", type=int, default=20, help="real trials per point (0: no trials, only the "
                        "load, a worker's first trial, list and show)")
    parser.add_argument("--sampler", default=None, help="a conf/search/sampler name (default: tpe as configured)")
    parser.add_argument("--out", default=None, help="also merge the figures into this JSON file")
    args = parser.parse_args()
    figures = bench_scale(tuple(args.n), tuple(args.storage), trials=args.trials, sampler=args.sampler)
    if args.out:
        path = Path(args.out)
        merged = json.loads(path.read_text()) if path.is_file() else {}
        merged.update(figures)
        path.write_text(json.dumps(merged, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
