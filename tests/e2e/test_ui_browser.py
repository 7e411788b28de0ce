"""The MLflow UI opens on the work (#11.4), checked in a real browser.

Starts ``mlflow server`` on a free 127.0.0.1 port against the tiny study's store
(:mod:`tests.helpers.tiny_study`: stage 1 and stage 2, 2 trials each), loads the experiment, opt's trial
runs table, a trial run and its artifacts in headless Chromium, asserts on what the page shows
(``--dump-dom``) and saves screenshots under the test's tmp dir and in ``/tmp/opt-ui-screenshots/``.
Skipped when Chromium is not installed (``.ci/run`` installs it).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from opt.tracking.ui_view import runs_table_path

from tests.helpers.tiny_study import tiny_study

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
SHOTS = Path("/tmp/opt-ui-screenshots")
WINDOW = "1800,1000"
BUDGET_MS = 20000  # virtual time for the page's requests and rendering
ML = "?workflowType=machine_learning"  # the UI's "Model training" switch (default: GenAI)


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The tiny study's store served by ``mlflow server``: base URL, client, experiment id, tmp dir."""
    if CHROMIUM is None:
        pytest.skip("chromium not found on PATH: install it (e.g. apt-get install -y chromium) to check the MLflow UI")
    from mlflow.tracking import MlflowClient

    root = tiny_study(tmp_path_factory)
    uri = f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("tiny")
    assert experiment is not None
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    out = tmp_path_factory.mktemp("ui-browser")
    log = open(out / "mlflow-server.log", "wb")  # noqa: SIM115 - closed below
    # no job runner (its ~10 worker processes are for GenAI jobs, and slow the start on a small machine)
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri, "--host",
                               "127.0.0.1", "--port", str(port), "--workers", "1"], cwd=root, env=env, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while not _answers(f"{base}/health"):
            assert server.poll() is None, (out / "mlflow-server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "mlflow server did not answer in 240 s"
            time.sleep(0.5)
        yield {"base": base, "client": client, "experiment_id": experiment.experiment_id, "out": out}
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):  # whatever of its group is left (uvicorn workers)
            os.killpg(server.pid, signal.SIGKILL)
        server.wait()
        log.close()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _chromium(ui: dict[str, Any], *args: str, url: str) -> subprocess.CompletedProcess[str]:
    profile = ui["out"] / f"profile-{time.monotonic_ns()}"  # a fresh profile: no view state from an earlier page
    assert CHROMIUM is not None
    # site isolation off: the UI shows an HTML artifact in a sandboxed iframe, which would otherwise render in
    # another process that the virtual-time budget does not wait for (the screenshot would show it blank)
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--disable-site-isolation-trials", "--disable-features=IsolateOrigins,site-per-process",
                           f"--user-data-dir={profile}", f"--window-size={WINDOW}",
                           f"--virtual-time-budget={BUDGET_MS}", *args, url],
                          capture_output=True, text=True, timeout=180)


def _text(ui: dict[str, Any], path: str) -> str:
    """The page's visible text (tags stripped) after it loaded, and its <title>, as one string."""
    html = _chromium(ui, "--dump-dom", url=ui["base"] + path).stdout
    assert "<body" in html, f"no page for {path}"
    body = re.sub(r"(?s)<(script|style)[^>]*>.*?</\1>", " ", html)
    return " ".join(re.sub(r"<[^>]+>", " ", body).split())


def _title(ui: dict[str, Any], path: str) -> str:
    html = _chromium(ui, "--dump-dom", url=ui["base"] + path).stdout
    found = re.findall(r"<title>([^<]*)</title>", html)
    return found[0] if found else ""


def _screenshot(ui: dict[str, Any], path: str, name: str) -> Path:
    """A PNG of the page at ``path``, saved in the test's dir and copied to /tmp/opt-ui-screenshots/."""
    png = ui["out"] / name
    result = _chromium(ui, f"--screenshot={png}", url=ui["base"] + path)
    assert png.is_file(), result.stderr[-2000:]
    from PIL import Image

    pixels = np.asarray(Image.open(png).convert("L"), dtype=np.float64)
    assert pixels.std() > 10 and len(np.unique(pixels)) > 50, f"{name} looks blank"
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(png, SHOTS / name)
    return png


def _trial_with(ui: dict[str, Any], stage: str, artifact: str) -> Any:
    client, found = ui["client"], []
    for run in client.search_runs([ui["experiment_id"]], filter_string=f"tags.`opt.stage` = '{stage}' and "
                                  "tags.`opt.role` = 'trial'", max_results=100):
        if artifact in {a.path for a in client.list_artifacts(run.info.run_id)}:
            found.append(run)
    assert found, f"no stage-{stage} trial run with {artifact}"
    return found[0]


def test_experiment_opens_on_its_runs_not_the_genai_overview(ui: dict[str, Any]) -> None:
    """MLflow 3.17's UI picks the GenAI overview or the runs from its GenAI / Model training switch (the
    ``workflowType`` URL parameter, remembered by the browser); older 3.x read the experiment's
    ``mlflow.experimentKind`` tag. opt sets the tag and links with ``workflowType=machine_learning``."""
    from opt.tracking.ui_view import EXPERIMENT_KIND_TAG, MODEL_TRAINING_KIND

    eid = ui["experiment_id"]
    experiment = ui["client"].get_experiment(eid)
    assert experiment.tags[EXPERIMENT_KIND_TAG] == MODEL_TRAINING_KIND
    assert runs_table_path(eid) in experiment.tags["mlflow.note.content"]  # the link in the description
    plain = _text(ui, f"/#/experiments/{eid}")  # a fresh browser, no switch: the GenAI overview
    path = f"/#/experiments/{eid}?workflowType=machine_learning"
    page = _text(ui, path)
    assert page.startswith("Runs - Experiment"), page[:300]
    assert "Token Usage" not in page and ("Token Usage" in plain or plain.startswith("Runs")), plain[:300]
    assert "stage1-tiny" in page and "stage2-tiny" in page, "the parent runs, with distinct names"
    assert "synthetic-seed7-35d" in page, "the dataset logged as the parents' run input"
    _screenshot(ui, path, "1-experiment.png")


def test_trial_runs_table_shows_the_trial_metrics(ui: dict[str, Any]) -> None:
    path = runs_table_path(ui["experiment_id"])
    page = _text(ui, path)
    for column in ("score", "net_pnl", "sharpe", "n_trades"):
        assert re.search(rf"\b{column}\b", page), f"column {column} missing from the runs table"
    assert "stage2-trial-0000" in page and "stage1-trial-0000" in page
    assert "Error loading shared view state" not in page
    _screenshot(ui, path, "2-trial-runs-table.png")


def test_trial_run_page_and_artifacts(ui: dict[str, Any]) -> None:
    run = _trial_with(ui, "2", "equity_curve.png")
    base = f"/#/experiments/{ui['experiment_id']}/runs/{run.info.run_id}"
    page = _text(ui, base + ML)
    assert run.info.run_name in page and "net_pnl" in page and "sharpe" in page
    _screenshot(ui, base + ML, "3-trial-run.png")
    artifacts = _text(ui, base + "/artifacts/equity_curve.png" + ML)
    for name in ("equity_curve.png", "trades.csv", "per_fold.csv", "config.yaml"):
        assert name in artifacts, f"{name} missing from the artifacts view"
    _screenshot(ui, base + "/artifacts/equity_curve.png" + ML, "4-trial-equity-curve.png")
    _screenshot(ui, base + "/artifacts/trades.csv" + ML, "5-trial-trades-csv.png")


def test_parent_run_plots(ui: dict[str, Any]) -> None:
    client = ui["client"]
    parents = client.search_runs([ui["experiment_id"]], filter_string="tags.`opt.role` = 'parent'", max_results=10)
    assert {p.data.tags["opt.stage"] for p in parents} == {"1", "2"}
    for parent in parents:
        assert {"search.n_trials", "data.source", "split.test_fraction"} <= set(parent.data.params)
        assert parent.inputs.dataset_inputs, "the dataset is a run input"
    plots = {p.info.run_id: {a.path.split("/")[-1] for a in client.list_artifacts(p.info.run_id, "plots")}
             for p in parents}
    # the parent with the most plots (a tiny stage may have one complete trial: its history only)
    run_id, names = max(plots.items(), key=lambda kv: len(kv[1]))
    assert {"optimization_history.png", "study_plots.html"} <= names
    shown = "parallel_coordinate.png" if "parallel_coordinate.png" in names else "optimization_history.png"
    path = f"/#/experiments/{ui['experiment_id']}/runs/{run_id}/artifacts/plots/{shown}{ML}"
    assert "study_plots.html" in _text(ui, path)
    _screenshot(ui, path, "6-parent-study-plot.png")
    # the interactive page, plotly.js embedded: drawn inside the UI without any network
    html = _screenshot(ui, path.replace(shown, "study_plots.html"), "7-parent-study-plots-html.png")
    from PIL import Image

    plot_area = np.asarray(Image.open(html).convert("L"), dtype=np.float64)[330:650, 560:1250]
    assert plot_area.std() > 5, "study_plots.html is blank in the UI (plotly.js not loaded?)"
