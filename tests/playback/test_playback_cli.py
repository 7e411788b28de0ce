"""``python -m opt playback`` on the tiny real study (tests/helpers/tiny_study.py; a copy, with a stage-2 study of
its own whose low confidence makes trades): a stage-2 trial's best fold and the registered champion, each one offline page whose data match the trades; the pages logged by stage 2
and promote; and the page rendered in headless Chromium (skipped without it), screenshots kept in
``/tmp/opt-playback-screenshots/``."""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.config import compose_config
from tests.helpers.playback import assert_offline, page_json
from tests.helpers.tiny_study import STUDY as TINY
from tests.helpers.tiny_study import copy_study, run_cli, tiny_study

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
SHOTS = Path("/tmp/opt-playback-screenshots")
STUDY = "tiny-pb"
COMMON = [f"search.study_name={STUDY}", "data.synthetic.n_days=35", "search.progress=false"]
#: stage 2 of the copy: a confidence so low that every call trades, both directions
STAGE2 = ["split.n_folds=2", "search.n_trials=2", "stage.space.bracket.confidence.low=0.34",
          "stage.space.bracket.confidence.high=0.36", "stage.space.bracket.confidence.grid=[0.35]",
          "stage.space.bracket.direction.choices=[both]",
          f"stage.from_stage1=experiments/{TINY}/best_stage1.yaml"]
MODEL = f"opt-MES-{STUDY}"
NO_GATES = [f"promote.gates.{g}=null" for g in ("min_trades", "min_net_pnl", "min_precision_at_80",
                                                  "min_deflated_sharpe", "min_test_deflated_sharpe", "max_pbo",
                                                  "min_plateau_score")] + [
    "promote.degenerate.min_rounds=null", "promote.degenerate.require_confidence=false",
    "promote.degenerate.require_orders=false", "promote.replay.enabled=false"]


def config(*overrides: str):  # noqa: ANN201 - a DictConfig
    return compose_config([*COMMON, *overrides])


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the tiny study with the stage-2 study ``tiny-pb`` (2 trials that trade)."""
    from opt.search.runner import run_command

    root = tmp_path_factory.mktemp("playback") / "study"
    copy_study(tiny_study(tmp_path_factory), root)  # not copytree: the tiny study's SQLite stays sound
    with contextlib.chdir(root):
        assert run_command(config("+stage=2", *STAGE2)) == 0
    return root


def _client(study: Path):  # noqa: ANN202
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{study / 'mlruns' / 'mlflow.db'}")


@pytest.fixture(scope="module")
def champion(study: Path) -> str:
    """The champion's version; registered here (gates off) when no earlier test did."""
    try:
        return str(_client(study).get_model_version_by_alias(MODEL, "champion").version)
    except Exception:  # noqa: BLE001 - no registered model or alias yet
        from opt.promote.command import promote_command

        with contextlib.chdir(study):
            assert promote_command(config(*NO_GATES, "promote.replay.enabled=false")) == 0
        return str(_client(study).get_model_version_by_alias(MODEL, "champion").version)


@pytest.fixture(scope="module")
def trial_page(study: Path) -> tuple[Path, str]:
    """``python -m opt playback +stage=2`` on the tiny study (the best trial): the page and stdout."""
    result = run_cli(["playback", "+stage=2", *COMMON], study)
    assert result.returncode == 0, result.stderr[-3000:]
    match = re.search(r"playback written to (\S+)", result.stdout)
    assert match, result.stdout
    return study / match.group(1), result.stdout


def _best_trial(study: Path):  # noqa: ANN202
    from opt.studies import open_study, pick_trial

    with contextlib.chdir(study):
        return pick_trial(open_study(config(), 2), None, complete=True)


def test_a_trial_playback_shows_its_best_fold_and_its_trades(study: Path, trial_page: tuple[Path, str]) -> None:
    from opt.promote.study import trial_trades

    path, stdout = trial_page
    trial = _best_trial(study)
    assert path.name.startswith(f"playback_trial{trial.number}_fold") and path.parent == study / "experiments" / STUDY
    page = path.read_text()
    assert_offline(page)
    assert 4e6 < path.stat().st_size < 9e6, path.stat().st_size  # plotly.js (~4.8 MB) + at most 3000 bars
    fig, meta = page_json(page, "playback-figure"), page_json(page, "playback-data")
    trades = trial_trades(_client(study), trial.user_attrs["mlflow_run_id"])
    fold = int(path.stem.rsplit("fold", 1)[1])
    net = trades.groupby("fold")["pnl"].sum()
    assert fold == int(net.idxmax())  # the fold with the best net PnL
    mine = trades[trades["fold"] == fold]
    # the fold (~10,000 bars) is cut to playback.max_bars=3000: the page holds the fold's trades inside them
    w0, w1 = meta["first_bar"], meta["first_bar"] + meta["n_bars"]
    inside = mine[(mine["signal_bar"] >= w0) & (mine["exit_bar"] < w1)]
    assert meta["n_bars"] == len(fig["data"][0]["x"]) == 3000 and "playback.max_bars" in stdout
    assert len(meta["trades"]) == len(inside) > 0
    assert sorted(t["entry"] + w0 for t in meta["trades"]) == sorted(inside["entry_bar"].tolist())
    assert np.allclose(sorted(t["pnl"] for t in meta["trades"]), sorted(inside["pnl"].round(2)))
    assert meta["n_events"] > 0 and meta["levels"]
    assert f"{len(mine):,} trades" in stdout


def test_the_best_trial_logged_its_playback_page_and_others_did_not_all(study: Path) -> None:
    client = _client(study)
    trial = _best_trial(study)
    names = {a.path for a in client.list_artifacts(trial.user_attrs["mlflow_run_id"])}
    assert "playback.html" in names and "trades.parquet" in names


def test_a_champion_playback_on_the_bars_given(study: Path, champion: str, tmp_path: Path) -> None:
    out = tmp_path / "champion.html"
    result = run_cli(["playback", *COMMON, "playback.champion=true", f"playback.out={out}", "playback.max_bars=2000"],
                     study)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"{MODEL}@champion version {champion}" in result.stdout and str(out) in result.stdout
    page = out.read_text()
    assert_offline(page)
    fig, meta = page_json(page, "playback-figure"), page_json(page, "playback-data")
    assert meta["n_bars"] == len(fig["data"][0]["x"]) == 2000  # 35 days cut to playback.max_bars
    assert meta["n_events"] > 0 and meta["n_calls"] >= len(meta["trades"])
    event_traces = [t for t in fig["data"] if str(t.get("name", "")).startswith("event ")]
    assert any("model P(BREAK)=" in h for t in event_traces for h in t["hovertext"])  # every event scored


def test_promote_logged_the_test_part_playback(study: Path, champion: str) -> None:
    client = _client(study)
    exp = client.get_experiment_by_name(STUDY)
    run = client.search_runs([exp.experiment_id], "tags.`opt.role` = 'promote'", order_by=["start_time DESC"])[0]
    assert "playback_test.html" in {a.path for a in client.list_artifacts(run.info.run_id)}


def test_no_trial_or_champion_says_what_to_run(study: Path, tmp_path: Path) -> None:
    result = run_cli(["playback", "+stage=2", *COMMON, "playback.trial=99"], study)
    assert result.returncode == 2 and "99" in result.stderr and "Traceback" not in result.stderr
    result = run_cli(["playback", *COMMON, "playback.champion=true", "promote.model_name=nobody"], study)
    assert result.returncode == 2 and "no registered model nobody@champion" in result.stderr
    result = run_cli(["playback", "+stage=2", *COMMON, "playback.start=yesterday-ish"], study)
    assert result.returncode == 2 and "playback.start" in result.stderr


def _chromium(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args],
                          capture_output=True, text=True, timeout=timeout)


def test_the_page_renders_in_chromium(trial_page: tuple[Path, str], tmp_path: Path) -> None:
    if CHROMIUM is None:
        pytest.skip("chromium not found on PATH: install it (e.g. apt-get install -y chromium) to render the page")
    path, _ = trial_page
    url = path.resolve().as_uri()
    dom = _chromium(["--virtual-time-budget=8000", "--dump-dom", url]).stdout
    assert "main-svg" in dom and 'class="candlestick"' in dom or "trace boxes" in dom  # plotly drew the candles
    assert re.search(r'id="pb-trade">trade 1/\d+ · (LONG|SHORT)', dom), dom[-2000:]  # the player opened trade 1
    shot = tmp_path / "playback.png"
    _chromium([f"--screenshot={shot}", "--window-size=1400,900", "--virtual-time-budget=8000", url])
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, SHOTS / "playback_trial.png")
    from matplotlib.image import imread

    rgb = (imread(shot)[:, :, :3] * 255).round()
    assert rgb.std() > 20  # not blank
    chart = rgb[130:700]

    def share(color: tuple[int, int, int], tol: int = 12) -> float:
        return float((np.abs(chart - np.array(color)).max(axis=2) <= tol).mean())

    assert share((36, 41, 47)) > 0.001  # dark candle bodies
    assert share((218, 236, 223)) > 0.0005 or share((26, 127, 55), 40) > 0.0005  # the take-profit box
    assert share((247, 222, 224)) > 0.0005 or share((207, 34, 46), 40) > 0.0005  # the stop box
