"""Study plots logged as artifacts of a stage's parent run: history, importances, parallel coordinates.

Each plot is written as a PNG (matplotlib, readable in the MLflow UI's artifact view), and the three
together as one interactive page, ``study_plots.html`` (plotly, with plotly.js embedded once, so the
page works offline and inside the MLflow UI, which has no network access to a CDN). They go under
``plots/`` of the run.

Large studies stay fast and small (20,000 trials: a few seconds; the HTML page ~5 MB, nearly all of
it plotly.js):

* the optimization-history PNG shows every trial; the interactive history shows at most
  :data:`PLOT_MAX_TRIALS` of them (the best quarter of that number plus a seeded random sample of
  the rest) and the best-so-far line of all of them;
* parameter importances are computed once (Optuna's default evaluator, seeded) on at most
  :data:`IMPORTANCE_MAX_TRIALS` trials chosen the same way;
* the parallel coordinates show the :data:`PARALLEL_MAX_PARAMS` most important parameters over at most
  :data:`PARALLEL_MAX_TRIALS` trials.

Multi-objective studies are plotted for their first objective. Plotting never breaks a study: a plot
that cannot be drawn (no complete trial, one trial for the importances, a failing evaluator) is
skipped with a warning.
"""

from __future__ import annotations

import logging
import math
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution
from optuna.trial import FrozenTrial, TrialState

__all__ = ["PLOTS", "HTML_PAGE", "PLOT_MAX_TRIALS", "IMPORTANCE_MAX_TRIALS", "PARALLEL_MAX_TRIALS",
           "PARALLEL_MAX_PARAMS", "log_study_plots", "write_study_plots"]

log = logging.getLogger(__name__)

#: the PNG plots (file stems), in the order of the HTML page
PLOTS = ("optimization_history", "param_importances", "parallel_coordinate")
HTML_PAGE = "study_plots.html"
PLOT_MAX_TRIALS = 2000  # trials in the interactive history
IMPORTANCE_MAX_TRIALS = 1000  # trials the importances are computed on
PARALLEL_MAX_TRIALS = 500  # lines in the parallel coordinates
PARALLEL_MAX_PARAMS = 8  # parallel coordinates show the most important parameters only
_SEED = 0


@dataclass
class _Data:
    """The complete trials of a study with a finite first-objective value, in trial-number order."""

    trials: list[FrozenTrial]
    numbers: np.ndarray  # int64 (n,)
    values: np.ndarray  # float64 (n,), the first objective
    maximize: bool
    name: str
    study_name: str

    def pick(self, n: int) -> np.ndarray:
        """Positions of at most ``n`` trials: the best ``n // 4`` plus a seeded sample of the rest, sorted."""
        if len(self.values) <= n:
            return np.arange(len(self.values))
        order = np.argsort(-self.values if self.maximize else self.values, kind="stable")
        best = order[: n // 4]
        rest = np.random.default_rng(_SEED).choice(order[n // 4:], size=n - len(best), replace=False)
        return np.sort(np.concatenate([best, rest]))


def _data(study: optuna.Study) -> _Data:
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    trials = [t for t in complete if t.values and math.isfinite(float(t.values[0]))]
    names = study.metric_names or []
    name = names[0] if names else ("score" if len(study.directions) == 1 else "objective 0")
    return _Data(trials=trials, numbers=np.array([t.number for t in trials], dtype=np.int64),
                 values=np.array([float(t.values[0]) for t in trials], dtype=np.float64),
                 maximize=study.directions[0] == optuna.study.StudyDirection.MAXIMIZE, name=name,
                 study_name=study.study_name)


class _TrialsView:
    """What Optuna's importance evaluators read of a study, over a chosen list of trials (no copies)."""

    def __init__(self, trials: list[FrozenTrial], maximize: bool) -> None:
        self._trials = trials
        direction = optuna.study.StudyDirection.MAXIMIZE if maximize else optuna.study.StudyDirection.MINIMIZE
        self.directions = [direction]
        self.direction = direction

    def _is_multi_objective(self) -> bool:
        return False

    def get_trials(self, deepcopy: bool = False, states: Any = None) -> list[FrozenTrial]:
        return self._trials


def _importances(data: _Data) -> dict[str, float]:
    """Normalized importances of the parameters for the first objective, most important first.

    Computed once, with Optuna's default evaluator, on at most :data:`IMPORTANCE_MAX_TRIALS` trials
    (their first objective only). Raises whatever Optuna raises (e.g. fewer than 2 trials).
    """
    chosen = [data.trials[i] for i in data.pick(IMPORTANCE_MAX_TRIALS)]
    if any(len(t.values) > 1 for t in chosen):  # the first objective only
        chosen = [optuna.trial.create_trial(params=t.params, distributions=t.distributions, value=float(t.values[0]))
                  for t in chosen]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:  # a view of the chosen trials: no copy of the study (Optuna reads only these members)
            found = optuna.importance.get_param_importances(_TrialsView(chosen, data.maximize))  # type: ignore[arg-type]
        except (AttributeError, TypeError):  # another Optuna: an in-memory study of the chosen trials
            sub = optuna.create_study(direction="maximize" if data.maximize else "minimize")
            sub.add_trials(chosen)
            found = optuna.importance.get_param_importances(sub)
    return dict(sorted(found.items(), key=lambda kv: -kv[1]))


def _best_so_far(data: _Data) -> np.ndarray:
    return np.maximum.accumulate(data.values) if data.maximize else np.minimum.accumulate(data.values)


def _axis(data: _Data, positions: np.ndarray, param: str) -> tuple[np.ndarray, list[str] | None]:
    """Values of ``param`` for the trials at ``positions`` (NaN where absent) and, for a categorical,
    its choice labels (values are then the choice indices)."""
    dist = next((t.distributions[param] for t in data.trials if param in t.distributions), None)
    if isinstance(dist, CategoricalDistribution):
        labels = [str(c) for c in dist.choices]
        index = {c: i for i, c in enumerate(dist.choices)}
        vals = [index.get(data.trials[i].params[param], np.nan) if param in data.trials[i].params else np.nan
                for i in positions]
        return np.array(vals, dtype=np.float64), labels
    vals = [float(data.trials[i].params[param]) if param in data.trials[i].params else np.nan for i in positions]
    return np.array(vals, dtype=np.float64), None


# -- PNG (matplotlib) -------------------------------------------------------------------------------

def _figure(width: float = 9.0, height: float = 5.5) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height), dpi=80)


def _save(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _history_png(data: _Data, path: Path) -> None:
    fig, ax = _figure()
    ax.scatter(data.numbers, data.values, s=6 if len(data.values) > 1000 else 14, alpha=0.5, color="#1f77b4",
               linewidths=0, label=f"{data.name} ({len(data.values)} complete trials)")
    ax.step(data.numbers, _best_so_far(data), where="post", color="#d62728", label="best so far")
    ax.set_xlabel("trial number")
    ax.set_ylabel(data.name)
    ax.set_title(f"optimization history: {data.study_name}")
    ax.legend(loc="lower right" if data.maximize else "upper right")
    ax.grid(alpha=0.3)
    _save(fig, path)


def _importance_png(data: _Data, importances: dict[str, float], path: Path) -> None:
    names = list(importances)[::-1]
    fig, ax = _figure(9.0, max(3.0, 0.28 * len(names) + 1.2))
    ax.barh(names, [importances[n] for n in names], color="#1f77b4")
    ax.set_xlabel(f"importance for {data.name} (sums to 1)")
    n = min(len(data.values), IMPORTANCE_MAX_TRIALS)
    ax.set_title(f"parameter importances ({n} of {len(data.values)} complete trials)")
    ax.tick_params(axis="y", labelsize=8)
    _save(fig, path)


def _parallel_png(data: _Data, params: list[str], path: Path) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    pos = data.pick(PARALLEL_MAX_TRIALS)
    columns = [(data.name, data.values[pos], None), *((p, *_axis(data, pos, p)) for p in params)]
    fig, ax = _figure(max(9.0, 1.3 * len(columns)), 5.5)
    scaled = []
    for _, vals, labels in columns:
        lo, hi = (0.0, float(len(labels) - 1)) if labels else (float(np.nanmin(vals)), float(np.nanmax(vals)))
        scaled.append(np.full_like(vals, 0.5) if hi <= lo else (vals - lo) / (hi - lo))
    ys = np.column_stack(scaled)
    xs = np.arange(len(columns), dtype=np.float64)
    order = np.argsort(data.values[pos] if data.maximize else -data.values[pos], kind="stable")  # best on top
    segments = [np.column_stack([xs, ys[i]]) for i in order]
    cmap = plt.get_cmap("viridis" if data.maximize else "viridis_r")
    lines = LineCollection(segments, cmap=cmap, linewidths=0.8, alpha=0.6)
    lines.set_array(data.values[pos][order])
    ax.add_collection(lines)
    fig.colorbar(lines, ax=ax, label=data.name, pad=0.01)
    for x, (_name, vals, labels) in zip(xs, columns, strict=True):
        ax.axvline(x, color="#444444", linewidth=0.8)
        if labels:
            for k, label in enumerate(labels):
                ax.text(x + 0.03, k / max(len(labels) - 1, 1), label, fontsize=7, va="center")
        else:
            ax.text(x + 0.03, 0.0, f"{np.nanmin(vals):.3g}", fontsize=7, va="center")
            ax.text(x + 0.03, 1.0, f"{np.nanmax(vals):.3g}", fontsize=7, va="center")
    ax.set_xticks(xs, [c[0] for c in columns], rotation=20, ha="right", fontsize=8)
    ax.set_xlim(-0.1, xs[-1] + 0.4)
    ax.set_ylim(-0.05, 1.05)
    ax.set_yticks([])
    ax.set_title(f"parallel coordinates: {len(params)} most important parameters, {len(pos)} trials "
                 f"(best {PARALLEL_MAX_TRIALS // 4} + sample)" if len(pos) < len(data.values)
                 else f"parallel coordinates: {len(params)} most important parameters, {len(pos)} trials")
    _save(fig, path)


# -- HTML (plotly) ----------------------------------------------------------------------------------

def _history_fig(data: _Data) -> Any:
    import plotly.graph_objects as go

    pos = data.pick(PLOT_MAX_TRIALS)
    best = _best_so_far(data)
    changed = np.unique(np.r_[np.flatnonzero(np.r_[True, best[1:] != best[:-1]]), len(best) - 1])
    shown = f"{len(pos)} of {len(data.values)} trials" if len(pos) < len(data.values) else f"{len(pos)} trials"
    fig = go.Figure([
        go.Scatter(x=data.numbers[pos], y=data.values[pos], mode="markers", name=f"{data.name} ({shown})",
                   marker={"size": 4, "opacity": 0.6}),
        go.Scatter(x=data.numbers[changed], y=best[changed], mode="lines", name="best so far",
                   line={"shape": "hv", "color": "#d62728"}),
    ])
    fig.update_layout(title="optimization history", xaxis_title="trial number", yaxis_title=data.name, height=450)
    return fig


def _importance_fig(data: _Data, importances: dict[str, float]) -> Any:
    import plotly.graph_objects as go

    names = list(importances)[::-1]
    fig = go.Figure(go.Bar(x=[importances[n] for n in names], y=names, orientation="h"))
    fig.update_layout(title=f"parameter importances for {data.name}", xaxis_title="importance (sums to 1)",
                      height=max(300, 22 * len(names) + 120), margin={"l": 220})
    return fig


def _parallel_fig(data: _Data, params: list[str]) -> Any:
    import plotly.graph_objects as go

    pos = data.pick(PARALLEL_MAX_TRIALS)
    dims = [{"label": data.name, "values": data.values[pos]}]
    for p in params:
        vals, labels = _axis(data, pos, p)
        dim: dict[str, Any] = {"label": p, "values": vals}
        if labels:
            dim.update(tickvals=list(range(len(labels))), ticktext=labels)
        dims.append(dim)
    fig = go.Figure(go.Parcoords(line={"color": data.values[pos], "colorscale": "Viridis", "showscale": True,
                                       "reversescale": not data.maximize}, dimensions=dims))
    fig.update_layout(title=f"parallel coordinates: {len(params)} most important parameters, {len(pos)} trials",
                      height=500)
    return fig


def _write_html(figs: list[Any], title: str, path: Path) -> None:
    """One self-contained page: plotly.js embedded once, then each figure (no network needed)."""
    parts = [fig.to_html(full_html=False, include_plotlyjs=(i == 0), include_mathjax=False)
             for i, fig in enumerate(figs)]
    path.write_text(f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>"
                    f"<body>\n<h3 style=\"font-family:sans-serif\">{title}</h3>\n" + "\n".join(parts)
                    + "\n</body></html>\n", encoding="utf-8")


def _warn(study_name: str, what: str, exc: BaseException) -> None:
    log.warning("study %s: %s not drawn: %s", study_name, what,
                str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__)


def write_study_plots(study: optuna.Study, folder: Path) -> list[Path]:
    """Write the plots of ``study`` into ``folder``; return the files written (possibly none).

    Writes ``optimization_history.png``, ``param_importances.png`` and ``parallel_coordinate.png``
    (the last two need 2+ complete trials) and ``study_plots.html`` (the same plots, interactive).
    Trials that are not COMPLETE, or whose first objective is not finite, are left out.

    Never raises for a plot that cannot be drawn: it is skipped with a warning.
    """
    data = _data(study)
    if not data.trials:
        log.warning("study %s has no complete trial: no plots", study.study_name)
        return []
    importances: dict[str, float] = {}
    if len(data.trials) < 2:
        log.warning("study %s: parameter importances need 2+ complete trials; skipped", study.study_name)
    else:
        try:
            importances = _importances(data)
        except Exception as exc:  # noqa: BLE001 - a plot must never break a study
            _warn(study.study_name, "param_importances", exc)
    params = list(importances)[:PARALLEL_MAX_PARAMS]
    drawers: list[tuple[str, Any, Any]] = [("optimization_history", lambda p: _history_png(data, p),
                                            lambda: _history_fig(data))]
    if importances:
        drawers.append(("param_importances", lambda p: _importance_png(data, importances, p),
                        lambda: _importance_fig(data, importances)))
    if params:
        drawers.append(("parallel_coordinate", lambda p: _parallel_png(data, params, p),
                        lambda: _parallel_fig(data, params)))
    written, figs = [], []
    for stem, png, fig in drawers:
        try:
            png(folder / f"{stem}.png")
            written.append(folder / f"{stem}.png")
        except Exception as exc:  # noqa: BLE001
            _warn(study.study_name, f"{stem}.png", exc)
        try:
            figs.append(fig())
        except Exception as exc:  # noqa: BLE001
            _warn(study.study_name, f"{stem} (interactive)", exc)
    if figs:
        try:
            _write_html(figs, f"study {study.study_name}: {len(data.trials)} complete trials", folder / HTML_PAGE)
            written.append(folder / HTML_PAGE)
        except Exception as exc:  # noqa: BLE001
            _warn(study.study_name, HTML_PAGE, exc)
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
