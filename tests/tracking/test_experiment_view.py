"""The MLflow side of #11.4 on a real SQLite store: experiments marked as model training (the UI opens on
their runs, not the GenAI overview), opt's shared runs-table view, distinct parent names with the
study's settings as params, and the dataset as a run input."""

from __future__ import annotations

import json
from pathlib import Path

from mlflow.tracking import MlflowClient

from opt.tracking import Tracker
from opt.tracking.run_info import parent_run_name, study_params
from opt.tracking.ui_view import EXPERIMENT_KIND_TAG, MODEL_TRAINING_KIND, VIEW_KEY, runs_table_path

from tests.helpers.config import compose_config


def _client(workdir: Path) -> MlflowClient:
    return MlflowClient(tracking_uri=f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}")


def test_new_experiment_is_model_training_with_opt_view(workdir: Path) -> None:
    tracker = Tracker(compose_config(["search.study_name=view"]))
    exp = _client(workdir).get_experiment(tracker.experiment_id)
    assert exp.tags[EXPERIMENT_KIND_TAG] == MODEL_TRAINING_KIND
    view = json.loads(exp.tags[f"mlflow.sharedViewState.{VIEW_KEY}"])
    assert view["selectedColumns"][:4] == ["metrics.`score`", "metrics.`net_pnl`", "metrics.`sharpe`",
                                           "metrics.`n_trades`"]
    assert view["orderByKey"] == "metrics.`score`" and view["orderByAsc"] is False
    assert runs_table_path(tracker.experiment_id) in exp.tags["mlflow.note.content"]


def test_an_older_experiment_is_tagged_and_its_description_kept(workdir: Path) -> None:
    Tracker(compose_config())  # creates and migrates the store
    client = _client(workdir)
    old = client.create_experiment("older", artifact_location=(workdir / "art").as_uri(),
                                   tags={"mlflow.note.content": "mine"})
    assert EXPERIMENT_KIND_TAG not in client.get_experiment(old).tags  # what opt made before: GenAI overview
    Tracker(compose_config(["search.study_name=older", f"tracking.artifact_root={workdir / 'art'}"]))
    tags = client.get_experiment(old).tags
    assert tags[EXPERIMENT_KIND_TAG] == MODEL_TRAINING_KIND and tags["mlflow.note.content"] == "mine"
    assert f"mlflow.sharedViewState.{VIEW_KEY}" in tags


def test_log_input_records_the_fingerprint_and_masks_passwords(workdir: Path) -> None:
    tracker = Tracker(compose_config())
    run = tracker.start_run(name="p", tags={})
    tracker.log_input(run, name="ES_1min.csv", digest="ab" * 32, source="s3://user:secret@host/ES_1min.csv",
                      profile={"bars": 10, "fingerprint": "ab" * 32})
    (given,) = _client(workdir).get_run(run).inputs.dataset_inputs
    assert given.dataset.name == "ES_1min.csv" and given.dataset.digest == ("ab" * 32)[:36]
    assert json.loads(given.dataset.profile)["fingerprint"] == "ab" * 32
    assert "secret" not in given.dataset.source and given.dataset.source_type == "s3"
    assert {t.key: t.value for t in given.tags}["mlflow.data.context"] == "search"


def test_parent_names_are_distinct_and_settings_masked() -> None:
    first, later = parent_run_name(1, "es", 0, now=0.0), parent_run_name(1, "es", 40, now=3600.0)
    assert first == "stage1-es 01-01 00:00:00Z from #0" and first != later
    params = study_params(compose_config(["+stage=1", "search.storage=postgresql://u:pw@db:5432/optuna"]))
    assert params["search.n_trials"] is not None and "stage.weights.auc" in params
    assert not [k for k in params if ".space." in f"{k}."], "the search space is the trials' params"
    assert "pw" not in str(params["search.storage"]) and "db:5432" in str(params["search.storage"])
