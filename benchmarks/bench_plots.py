"""End-of-study plots on a large study: the time :func:`opt.tracking.plots.write_study_plots` takes.

The study is built in memory with ``study.add_trials`` from the real stage-1 space (``conf/stage/1.yaml``,
24 parameters): each trial's parameters are drawn with Optuna's RandomSampler and its value is a
smooth function of a few of them plus noise, so the importances have something to find. Building the
study is not timed; drawing and writing the plots (PNG and the HTML page) is.

Usage: ``python -m benchmarks.bench_plots [N_TRIALS]``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import TrialState, create_trial

REPO = Path(__file__).resolve().parents[1]


def stage1_distributions() -> dict[str, BaseDistribution]:
    """The Optuna distributions of the real stage-1 space (one ``suggest`` on a throwaway trial)."""
    from hydra import compose, initialize_config_dir

    from opt.cli import normalize_overrides
    from opt.paths import conf_dir
    from opt.stages.space import suggest

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(config_name="config", overrides=normalize_overrides(["+stage=1"]))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    suggest(trial, cfg.stage.space)
    return dict(trial.distributions)


def synthetic_study(n_trials: int, seed: int = 0) -> optuna.Study:
    """An in-memory maximized study of ``n_trials`` complete trials over the stage-1 space (~5 % pruned)."""
    dists = stage1_distributions()
    sampler = optuna.samplers.RandomSampler(seed=seed)
    rng = np.random.default_rng(seed)
    study = optuna.create_study(direction="maximize", sampler=sampler, study_name="bench-plots")
    trials = []
    for _ in range(n_trials):
        params: dict[str, Any] = {name: d.to_external_repr(sampler.sample_independent(study, None, name, d))  # type: ignore[arg-type]
                                  for name, d in dists.items()}
        value = (np.sin(3 * params["events.k_atr"]) + 0.3 * np.log(params["outcome.threshold"])
                 - 0.01 * abs(params["outcome.lookforward"] - 30) + 0.1 * rng.normal())
        pruned = rng.random() < 0.05
        trials.append(create_trial(params=params, distributions=dists, value=None if pruned else float(value),
                                   state=TrialState.PRUNED if pruned else TrialState.COMPLETE))
    study.add_trials(trials)
    return study


def bench_study_plots(n_trials: int = 20_000) -> dict[str, float]:
    """Seconds :func:`opt.tracking.plots.write_study_plots` takes on a ``n_trials`` stage-1 study.

    Returns:
        ``{"study_plots_s_at_<n_trials>": wall seconds, "study_plots_cpu_s_at_<n_trials>": this process's
        CPU seconds (steadier on a busy machine), "study_plots_mb_at_<n_trials>": MB written}``.
    """
    from opt.tracking.plots import write_study_plots

    _warm_imports()
    study = synthetic_study(n_trials)
    with tempfile.TemporaryDirectory(prefix="bench-plots-") as tmp:
        t0, c0 = time.perf_counter(), time.process_time()
        written = write_study_plots(study, Path(tmp))
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        size = sum(p.stat().st_size for p in written) / 1e6
    return {f"study_plots_s_at_{n_trials}": round(seconds, 2), f"study_plots_cpu_s_at_{n_trials}": round(cpu, 2),
            f"study_plots_mb_at_{n_trials}": round(size, 2)}


def _warm_imports() -> None:
    """Import what a study process has loaded when its plots are drawn (the stages import scikit-learn,
    the runner matplotlib), so the figure is the plots' own time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401
    import optuna.importance  # noqa: F401
    import plotly.graph_objects  # noqa: F401

    import opt.search.runner  # noqa: F401


if __name__ == "__main__":
    print(bench_study_plots(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000))
