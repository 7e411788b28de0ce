"""Whole-trial benchmarks: run the real CLI on the ES file and read trial durations from Optuna.

A trial's duration is Optuna's ``datetime_complete - datetime_start``: sampling, dataset build,
model fit, metrics and MLflow logging (run, params, metrics, artifacts) included. Study-level work
(parsing, sessions, levels, numba compilation) happens once before the first trial.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna

REPO = Path(__file__).resolve().parents[1]
ES_CSV = REPO.parent / "shared" / "data" / "ES_1min.csv"


def _trial_seconds(workdir: Path, study: str) -> list[float]:
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(workdir / "experiments" / "optuna-journal.log")))
    trials = optuna.load_study(study_name=study, storage=storage).get_trials(deepcopy=False)
    return [(t.datetime_complete - t.datetime_start).total_seconds() for t in trials
            if t.datetime_complete is not None and t.state.name in ("COMPLETE", "PRUNED")]


def run_cli(args: list[str], cwd: Path) -> float:
    """Run ``python -m opt ARGS`` in ``cwd``; return wall seconds. Raises on a non-zero exit."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "opt", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"opt {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - t0


def es_args(study: str) -> list[str]:
    return ["data=csv", f"data.path={ES_CSV}", "instrument=es", f"search.study_name={study}", "search.progress=false"]


def bench_stage1_trial(n_trials: int = 7) -> dict[str, float]:
    """Median seconds of one stage-1 trial on the real ES file (MLflow logging included)."""
    with tempfile.TemporaryDirectory(prefix="opt-bench-") as tmp:
        wall = run_cli(["run", "+stage=1", *es_args("bench"), f"search.n_trials={n_trials}"], Path(tmp))
        secs = _trial_seconds(Path(tmp), "bench-stage1")
    return {"stage1_trial_s": statistics.median(secs), "stage1_trial_s_min": min(secs),
            "stage1_trial_s_max": max(secs), "stage1_invocation_s": wall, "stage1_trials_measured": len(secs)}


def bench_stage2_trial(n_trials: int = 5, model: str = "xgboost") -> dict[str, float]:
    """Median seconds of one stage-2 trial (``model``) on the real ES file after a 3-trial stage 1.

    The whole trial: walk-forward folds (fit, predict, bracket simulation), metrics and MLflow
    logging. Key ``stage2_trial_s`` for XGBoost, ``<model>_trial_s`` otherwise.
    """
    with tempfile.TemporaryDirectory(prefix="opt-bench-") as tmp:
        run_cli(["run", "+stage=1", *es_args("bench"), "search.n_trials=3"], Path(tmp))
        run_cli(["run", "+stage=2", *es_args("bench"), f"search.n_trials={n_trials}",
                 f"stage.models=[{model}]", "search.pruner=none"], Path(tmp))
        secs = _trial_seconds(Path(tmp), "bench-stage2")
    key = "stage2_trial_s" if model == "xgboost" else f"{model}_trial_s"
    return {key: statistics.median(secs), f"{key}_trials_measured": len(secs)}
