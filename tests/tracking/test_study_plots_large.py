"""End-of-study plots (#10.5, #11.4): fast and small on a large study, readable, and working offline."""

from __future__ import annotations

import re
import time
from pathlib import Path

import optuna
import pytest
from benchmarks.bench_plots import synthetic_study

from opt.tracking import plots
from opt.tracking.plots import HTML_PAGE, PARALLEL_MAX_PARAMS, write_study_plots

optuna.logging.set_verbosity(optuna.logging.ERROR)


@pytest.fixture(scope="module")
def big_study() -> optuna.Study:
    """3,000 trials over the real stage-1 space (24 parameters), ~5 % pruned."""
    return synthetic_study(3000)


def test_html_page_is_self_contained(big_study: optuna.Study, tmp_path: Path) -> None:
    written = write_study_plots(big_study, tmp_path)
    assert {p.name for p in written} == {"optimization_history.png", "param_importances.png",
                                         "parallel_coordinate.png", HTML_PAGE}
    html = (tmp_path / HTML_PAGE).read_text()
    # no script loaded from the network (the old pages loaded plotly.js from its CDN: blank offline)
    assert not re.findall(r"<script[^>]+src=[\"']?(https?:)?//", html)
    assert html.count("<script type=\"text/javascript\">/**") <= 1  # plotly.js embedded once for the 3 plots
    assert "Plotly.newPlot" in html and html.count("Plotly.newPlot") == 3
    assert (tmp_path / HTML_PAGE).stat().st_size < 6_500_000  # plotly.js (~4.8 MB) + small figures


def test_parallel_coordinates_show_the_top_parameters_and_a_sample(big_study: optuna.Study) -> None:
    data = plots._data(big_study)
    importances = plots._importances(data)
    assert len(importances) >= PARALLEL_MAX_PARAMS and abs(sum(importances.values()) - 1) < 1e-6
    # the synthetic score depends on these three only: they lead, in order
    assert list(importances)[:3] == ["events.k_atr", "outcome.threshold", "outcome.lookforward"]
    fig = plots._parallel_fig(data, list(importances)[:PARALLEL_MAX_PARAMS])
    (parcoords,) = fig.data
    assert len(parcoords.dimensions) == 1 + PARALLEL_MAX_PARAMS  # the score and 8 parameters, not 24 axes
    assert len(parcoords.dimensions[0].values) == plots.PARALLEL_MAX_TRIALS
    history = plots._history_fig(data)
    assert len(history.data[0].x) == plots.PLOT_MAX_TRIALS  # a sample in the interactive page
    best = max(data.values)
    assert history.data[1].y[-1] == best and best in set(history.data[0].y)  # the best trials are in it


def test_plots_of_a_large_study_are_fast(big_study: optuna.Study, tmp_path: Path) -> None:
    """The plots' cost no longer grows with the study: 3,000 trials in well under the 20,000-trial budget
    (10 s; measured by benchmarks/bench_plots.py). The old plots took ~35 s here (one Optuna plotly trace
    per trial, importances computed three times on every trial)."""
    write_study_plots(big_study, tmp_path / "warm")  # imports, font cache
    start = time.process_time()
    write_study_plots(big_study, tmp_path)
    assert time.process_time() - start < 10.0
