"""Stage-1 throughput with 1 and 2 worker processes on the real ES file (the real CLI, MLflow included).

Throughput is the study's finished trials over the span from the first trial's start to the last
trial's completion (Optuna's ``datetime_start`` / ``datetime_complete``), so process start-up (imports,
data preparation, store set-up) is left out. One worker runs with the configured model threads
(``model.n_jobs``); K workers get ``cores // K`` each (``search.threads_per_worker``). Stage-1
trials on ES take ~0.3 s, so a 12-trial window lasts seconds: each figure is the median of a few runs.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

import optuna

from benchmarks.bench_stage import es_args, run_cli

__all__ = ["bench_workers", "trials_per_hour"]


def trials_per_hour(workdir: Path, study: str) -> float:
    """Finished trials per hour of ``study`` in ``workdir``'s journal, first start to last completion."""
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(workdir / "experiments" / "optuna-journal.log")))
    trials = [t for t in optuna.load_study(study_name=study, storage=storage).get_trials(deepcopy=False)
              if t.state.name in ("COMPLETE", "PRUNED")]
    span = max(t.datetime_complete for t in trials) - min(t.datetime_start for t in trials)
    return len(trials) / span.total_seconds() * 3600.0


def _throughput(workers: int, n_trials: int) -> float:
    with tempfile.TemporaryDirectory(prefix="opt-bench-workers-") as tmp:
        run_cli(["run", "+stage=1", *es_args("bench"), f"search.n_trials={n_trials}", f"search.workers={workers}"],
                Path(tmp))
        return trials_per_hour(Path(tmp), "bench-stage1")


def bench_workers(n_trials: int = 12, *, repeats: int = 3) -> dict[str, float]:
    """Stage-1 trials per hour with 1 and 2 workers on the ES file, and the speed-up of 2 over 1.

    Args:
        n_trials: the study's target in each measurement.
        repeats: measurements of each (alternating 1 and 2 workers); the medians are returned.
    """
    one, two = [], []
    for _ in range(repeats):
        one.append(_throughput(1, n_trials))
        two.append(_throughput(2, n_trials))
    one_w, two_w = statistics.median(one), statistics.median(two)
    return {"stage1_trials_per_hour_1w": one_w, "stage1_trials_per_hour_2w": two_w, "workers_speedup": two_w / one_w}
