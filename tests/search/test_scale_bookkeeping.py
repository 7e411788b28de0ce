"""Per-trial bookkeeping that stays cheap at scale (issue #10): artifact policy, no torch for XGBoost,
cheap reads for list/show, the trial table on the parent run."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from opt.search.runner import run_command

from tests.helpers.config import compose_config

COMMON = ["+stage=1", "data.synthetic.n_days=30", "search.progress=false", "search.n_startup_trials=2"]


def _runs(workdir: Path, study: str) -> tuple[MlflowClient, list]:
    client = MlflowClient(tracking_uri=f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}")
    exp = client.get_experiment_by_name(study)
    assert exp is not None
    return client, client.search_runs([exp.experiment_id], max_results=1000)


def _study(workdir: Path, name: str):  # noqa: ANN202 - an optuna.Study
    import optuna

    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(workdir / "experiments" / "optuna-journal.log")))
    return optuna.load_study(study_name=f"{name}-stage1", storage=storage)


def test_top_k_policy_keeps_heavy_artifacts_only_for_the_best_so_far(workdir: Path) -> None:
    """With trial_artifacts=top and K=1 a COMPLETE trial logs its events sample and label plot only when it
    is the best so far; every trial still gets config.yaml, params and metrics."""
    assert run_command(compose_config([*COMMON, "search.study_name=topk", "search.n_trials=6",
                                       "tracking.trial_artifacts_top_k=1", "promote.pbo.top_k=1"])) == 0
    study = _study(workdir, "topk")
    client, runs = _runs(workdir, "topk")
    trials = {r.data.tags["opt.trial_number"]: r for r in runs if r.data.tags.get("opt.role") == "trial"}
    assert len(trials) == 6
    best_so_far = float("-inf")
    kept = 0
    for t in sorted(study.trials, key=lambda t: t.number):
        run = trials[str(t.number)]
        names = {Path(a.path).name for a in client.list_artifacts(run.info.run_id)}
        assert "config.yaml" in names and run.data.params and run.data.metrics
        heavy = {"events_sample.parquet", "label_distribution.png"} & names
        should = t.state.name == "COMPLETE" and t.value >= best_so_far
        assert bool(heavy) == should, (t.number, t.state, t.value, best_so_far, names)
        kept += should
        if t.state.name == "COMPLETE":
            best_so_far = max(best_so_far, t.value)
    assert kept >= 1
    best = trials[str(study.best_trial.number)]
    assert "label_distribution.png" in {Path(a.path).name for a in client.list_artifacts(best.info.run_id)}


def test_policy_none_writes_no_heavy_artifacts(workdir: Path) -> None:
    assert run_command(compose_config([*COMMON, "search.study_name=none", "search.n_trials=2",
                                       "tracking.trial_artifacts=none"])) == 0
    client, runs = _runs(workdir, "none")
    for run in (r for r in runs if r.data.tags.get("opt.role") == "trial"):
        assert {Path(a.path).name for a in client.list_artifacts(run.info.run_id)} == {"config.yaml"}


def test_parent_run_carries_a_parquet_table_of_all_trials(workdir: Path) -> None:
    assert run_command(compose_config([*COMMON, "search.study_name=table", "search.n_trials=4"])) == 0
    study = _study(workdir, "table")
    client, runs = _runs(workdir, "table")
    parent = next(r for r in runs if r.data.tags.get("opt.role") == "parent")
    table = pd.read_parquet(client.download_artifacts(parent.info.run_id, "trials.parquet", str(workdir)))
    assert sorted(table["number"]) == [t.number for t in study.trials]
    assert set(table["state"]) <= {"COMPLETE", "PRUNED", "FAIL"}
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    row = table.set_index("number").loc[complete[0].number]
    assert row["value"] == pytest.approx(complete[0].value)
    assert row["mlflow_run_id"] == complete[0].user_attrs["mlflow_run_id"]
    assert any(c.startswith("params.") for c in table.columns) and "metrics.score" in table.columns


def test_an_xgboost_study_never_imports_torch(workdir: Path) -> None:
    """A stage-1 XGBoost study (model.device=auto) runs its trials without importing torch."""
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
        from opt.search.runner import run_command
        from tests.helpers.config import compose_config
        assert run_command(compose_config({[*COMMON, "search.study_name=notorch", "search.n_trials=2"]!r})) == 0
        print("TORCH" if "torch" in sys.modules else "NO-TORCH")
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=workdir, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "NO-TORCH"


def test_trial_config_yaml_is_the_resolved_masked_config(tmp_path: Path) -> None:
    """The fast per-trial config.yaml holds what write_config writes: resolved values, no password."""
    import yaml
    from omegaconf import OmegaConf

    from opt.search.trial import write_trial_config
    from opt.secrets import masked_config

    cfg = compose_config(["+stage=1", "search.storage=postgresql://opt:s3cret@db:5432/optuna"])
    text = write_trial_config(cfg, tmp_path).read_text()
    assert "s3cret" not in text
    assert yaml.safe_load(text) == yaml.safe_load(OmegaConf.to_yaml(masked_config(cfg)))


def test_list_and_show_never_copy_the_whole_study(workdir: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """list and show read trials without deep copies (``Study.trials`` copies all of them: 8 s at 20,000)."""
    import json

    import optuna
    from optuna.distributions import FloatDistribution

    from opt.inspect import list_command, show_command
    from opt.studies import make_storage

    cfg = compose_config(["+stage=1", "search.study_name=big", "inspect.format=json", "inspect.top=3"])
    study = optuna.create_study(study_name="big-stage1", storage=make_storage(cfg), direction="maximize")
    dist = {"events.k_atr": FloatDistribution(0.0, 1.0)}
    study.add_trials([optuna.trial.create_trial(
        value=i / 500, params={"events.k_atr": i / 500}, distributions=dist,
        user_attrs={"metrics": {"score": i / 500}, "config_params": {"events.k_atr": i / 500}}) for i in range(500)])

    def no_copies(self: optuna.Study) -> list:
        raise AssertionError("Study.trials deep-copies every trial")

    monkeypatch.setattr(optuna.Study, "trials", property(no_copies))
    assert list_command(cfg) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["trial"] for r in rows] == [499, 498, 497]
    assert show_command(cfg) == 0
    assert json.loads(capsys.readouterr().out)["trial"] == 499
