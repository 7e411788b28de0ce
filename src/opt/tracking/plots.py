"""Study plots logged as artifacts of a stage's parent run: history, importances, parallel coordinates.

Each plot is written as a PNG (Optuna's matplotlib backend, readable in the MLflow UI) and as an
interactive HTML page (Optuna's plotly backend, ``write_html`` with plotly.js from its CDN). They go
under ``plots/`` of the run. Multi-objective studies are plotted for their first objective. Plotting
never breaks a study: a plot that cannot be drawn (no complete trial, one trial for the importances,
a parameter space fANOVA cannot use) is skipped with a warning.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

__all__ = ["PLOTS", "log_study_plots", "write_study_plots"]

log = logging.getLogger(__name__)

#: file stem -> Optuna plot function name (same name in optuna.visualization and .matplotlib)
PLOTS = {"optimization_history": "plot_optimization_history", "param_importances": "plot_param_importances",
         "parallel_coordinate": "plot_parallel_coordinate"}
PARALLEL_MAX_PARAMS = 8  # parallel coordinates show the most important parameters only


def _target(study: optuna.Study) -> tuple[Callable[[FrozenTrial], float] | None, str]:
    """Plot target and its name: None / "score" for one objective, the first value for several."""
    names = study.metric_names or []
    if len(study.directions) == 1:
        return None, names[0] if names else "score"
    return (lambda t: float(t.values[0])), names[0] if names else "objective 0"


def _importance_target(study: optuna.Study) -> Callable[[FrozenTrial], float] | None:
    """Importance target: as :func:`_target`, negated for a maximized first objective of several
    (Optuna's default evaluator ranks parameters by how they reach LOW target values)."""
    if len(study.directions) == 1:
        return None
    sign = -1.0 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else 1.0
    return lambda t: sign * float(t.values[0])


def _top_params(study: optuna.Study, target: Callable[[FrozenTrial], float] | None) -> list[str] | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            importances = optuna.importance.get_param_importances(study, target=target)
        return list(importances)[:PARALLEL_MAX_PARAMS] or None
    except Exception:  # noqa: BLE001 - too few trials: parallel coordinates of every parameter
        return None


def _png(fn_name: str, study: optuna.Study, path: Path, kwargs: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the matplotlib backend is marked experimental
        ax = getattr(optuna.visualization.matplotlib, fn_name)(study, **kwargs)
    fig = (ax.flat[0] if hasattr(ax, "flat") else ax).figure
    fig.set_size_inches(9, 5.5)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _html(fn_name: str, study: optuna.Study, path: Path, kwargs: dict[str, Any]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig = getattr(optuna.visualization, fn_name)(study, **kwargs)
    fig.write_html(str(path), include_plotlyjs="cdn")


def write_study_plots(study: optuna.Study, folder: Path) -> list[Path]:
    """Write the plots of ``study`` into ``folder``; return the files written (possibly none).

    Never raises for a plot that cannot be drawn: it is skipped with a warning.
    """
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        log.warning("study %s has no complete trial: no plots", study.study_name)
        return []
    target, name = _target(study)
    base: dict[str, Any] = {"target": target, "target_name": name}
    ranking = _importance_target(study)
    kwargs = {"optimization_history": base, "param_importances": {**base, "target": ranking},
              "parallel_coordinate": {**base, "params": _top_params(study, ranking)}}
    written = []
    for stem, fn_name in PLOTS.items():
        if stem == "param_importances" and len(complete) < 2:
            log.warning("study %s: parameter importances need 2+ complete trials; skipped", study.study_name)
            continue
        for suffix, draw in ((".png", _png), (".html", _html)):
            path = folder / f"{stem}{suffix}"
            try:
                draw(fn_name, study, path, kwargs[stem])
                written.append(path)
            except Exception as exc:  # noqa: BLE001 - a plot must never break a study
                log.warning("study %s: %s%s not drawn: %s", study.study_name, stem, suffix,
                            str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__)
    return written


def log_study_plots(tracker: Any, run_id: str, study: optuna.Study) -> None:
    """Draw the plots of ``study`` and log them under ``plots/`` of MLflow run ``run_id``.

    Args:
        tracker: an :class:`opt.tracking.Tracker` (its ``log_artifacts``).
        run_id: the stage's parent run.
        study: the study (single- or multi-objective; failed and pruned trials are ignored).

    Never raises: any failure is logged as a warning and the caller goes on.
    """
    try:
        with tempfile.TemporaryDirectory(prefix="opt-plots-") as tmp:
            if write_study_plots(study, Path(tmp)):
                tracker.log_artifacts(run_id, tmp, "plots")
    except Exception as exc:  # noqa: BLE001 - plots are a by-product; never fail the study for them
        log.warning("study plots not logged for run %s: %s", run_id, exc)
