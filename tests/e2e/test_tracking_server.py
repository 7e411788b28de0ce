"""A team's tracking server: a real ``mlflow server`` (PostgreSQL backend store, proxied artifacts under
``--artifacts-destination``) and a PostgreSQL Optuna storage; opt runs 2 workers on one study, and
everything is read back through the server from another directory: artifacts, ``list``, ``show``, ``ui``,
``load_results`` and ``promote``. One PostgreSQL database for both stores is refused, also when opt
only sees it as the server's backend store.

Needs the PostgreSQL server on 127.0.0.1:5432 (user postgres, trust auth); each module creates its own
databases and drops them after, and is skipped with a message when the server is down.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from opt.errors import ConfigError
from opt.stores import check_experiment_location, check_store_owner, experiment_location

from tests.helpers.cli import run_cli
from tests.helpers.config import REPO
from tests.helpers.servers import MlflowServer, mlflow_server, pg_databases
from tests.helpers.workers import assert_no_lock_errors, check_exact_target, check_trial_runs, load_study

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

STUDY = "team"
TRIALS = 4
#: a small quick study (synthetic bars, one model thread); stage 2 and promote need 2 walk-forward folds
COMMON = [f"search.study_name={STUDY}", "data.synthetic.n_days=35", "search.progress=false",
          "model.device=cpu", "model.n_jobs=1"]
NO_GATES = [f"promote.gates.{g}=null" for g in ("min_trades", "min_net_pnl", "min_precision_at_80",
                                                  "min_deflated_sharpe", "min_test_deflated_sharpe", "max_pbo",
                                                  "min_plateau_score")] + [
    "promote.degenerate.min_rounds=null", "promote.degenerate.require_confidence=false",
    "promote.degenerate.require_orders=false", "promote.replay.enabled=false"]


@dataclass
class Team:
    """The server, the Optuna storage URL, the directory stage 1 ran in, and the run's output."""

    server: MlflowServer
    storage: str
    ran_in: Path
    output: str
    seconds: float

    def stores(self) -> list[str]:
        return [f"search.storage={self.storage}", f"tracking.uri={self.server.url}"]


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    """Server up, then ``opt run +stage=1 search.workers=2`` against it; torn down (server, databases) after."""
    with contextlib.ExitStack() as stack:
        db = stack.enter_context(pg_databases("mlflow", "optuna"))
        server = stack.enter_context(mlflow_server(db["mlflow"], tmp_path_factory.mktemp("server")))
        ran_in = tmp_path_factory.mktemp("host-a")
        start = time.perf_counter()
        result = run_cli(["run", "+stage=1", *COMMON, f"search.n_trials={TRIALS}", "search.workers=2",
                          f"search.storage={db['optuna']}", f"tracking.uri={server.url}"], ran_in, timeout=600)
        seconds = time.perf_counter() - start
        out = result.stdout + result.stderr
        assert result.returncode == 0, f"{out[-4000:]}\nserver log:\n{server.log_text()[-3000:]}"
        yield Team(server=server, storage=db["optuna"], ran_in=ran_in, output=out, seconds=seconds)


def _client(team: Team):  # noqa: ANN202 - an MlflowClient
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=team.server.url)


def _trial_runs(team: Team) -> list:
    client = _client(team)
    exp = client.get_experiment_by_name(STUDY)
    assert exp is not None
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    return [r for r in runs if r.data.tags.get("opt.role") == "trial" and r.data.tags.get("opt.stage") == "1"]


def test_two_workers_log_through_the_server_and_artifacts_download_from_elsewhere(
        team: Team, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert_no_lock_errors(team.output)
    study = load_study(team.storage, f"{STUDY}-stage1")
    finished = check_exact_target(study, TRIALS)
    assert len({t.user_attrs["worker"] for t in finished}) == 2, "both workers ran trials"

    monkeypatch.chdir(tmp_path)  # another machine: nothing of the run's directory here
    client = _client(team)
    exp = client.get_experiment_by_name(STUDY)
    assert exp is not None
    assert exp.artifact_location.startswith("mlflow-artifacts:"), exp.artifact_location
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    by_number = check_trial_runs(runs, study)
    assert len(by_number) == TRIALS

    # no artifact of any run on the machine that ran the trials: they all went to the server
    assert not (team.ran_in / "mlruns").exists(), sorted(p.name for p in (team.ran_in / "mlruns").rglob("*"))
    trial = finished[0]
    run = by_number[trial.number]
    assert run.info.artifact_uri.startswith("mlflow-artifacts:"), run.info.artifact_uri
    got = Path(client.download_artifacts(run.info.run_id, "", str(tmp_path / "download")))
    assert got.is_relative_to(tmp_path)
    names = {p.name for p in got.rglob("*") if p.is_file()}
    assert "config.yaml" in names, names
    config = yaml.safe_load((got / "config.yaml").read_text())
    assert config["search"]["study_name"] == STUDY
    assert config["tracking"]["uri"] == team.server.url
    # the trial's own parameters, e.g. the outcome threshold it was scored with
    for name, value in trial.params.items():
        node = config
        for part in name.split("."):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        if isinstance(node, int | float) and not isinstance(node, bool):
            assert node == pytest.approx(value), name
    stored = list(team.server.artifacts.rglob("config.yaml"))  # where the server keeps them
    assert len(stored) >= TRIALS, stored
    print(f"stage 1, {TRIALS} trials with 2 workers through the server: {team.seconds:.1f} s")


def test_list_show_and_load_results_read_the_server_from_another_directory(team: Team, tmp_path: Path) -> None:
    listed = run_cli(["list", "+stage=1", *COMMON, *team.stores(), "inspect.format=json",
                      "inspect.states=[COMPLETE,PRUNED]"], tmp_path, timeout=180)
    assert listed.returncode == 0, listed.stdout[-2000:] + listed.stderr[-3000:]
    import json

    rows = json.loads(listed.stdout)
    assert len(rows) == TRIALS and all(r["run_id"] for r in rows)

    shown = run_cli(["show", "+stage=1", *COMMON, *team.stores(), "inspect.format=json"], tmp_path, timeout=180)
    assert shown.returncode == 0, shown.stdout[-2000:] + shown.stderr[-3000:]
    detail = json.loads(shown.stdout)
    assert detail["run_status"] == "FINISHED"
    assert detail["artifact_uri"].startswith("mlflow-artifacts:"), detail["artifact_uri"]
    assert any(a.endswith("/config.yaml") for a in detail["artifacts"]), detail["artifacts"]

    from opt.studies import load_results

    with contextlib.chdir(tmp_path):
        study, runs = load_results(STUDY, stage=1, tracking_uri=team.server.url, storage=team.storage)
    # a trial that lost the race for the last place is recorded as FAIL with `abandoned` and no run
    kept = [t for t in study.trials if "abandoned" not in t.user_attrs]
    assert len(kept) == TRIALS and len(runs) == TRIALS
    assert runs["artifact_uri"].str.startswith("mlflow-artifacts:").all()
    assert not (tmp_path / "mlruns").exists() and not (tmp_path / "experiments").exists()


def test_ui_prints_the_servers_url_and_starts_no_local_ui(team: Team, tmp_path: Path) -> None:
    port = team.server.url.rsplit(":", 1)[1]
    secret_url = f"http://opt:hunter2@127.0.0.1:{port}"  # the server has no auth: the password is ignored
    start = time.monotonic()
    result = run_cli(["ui", f"tracking.uri={secret_url}", f"search.storage={team.storage}"], tmp_path, timeout=90)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert time.monotonic() - start < 60
    assert f"MLflow UI: http://opt:***@127.0.0.1:{port}" in result.stdout, result.stdout
    assert "hunter2" not in result.stdout + result.stderr
    assert "mlflow ui" not in result.stdout  # no local UI on a copy of the store
    assert not (tmp_path / "mlruns").exists()


@pytest.fixture(scope="module")
def stage2(team: Team) -> Team:
    """Stage 2 (2 trials, 2 folds) of the team's study, run once in the directory of stage 1."""
    result = run_cli(["run", "+stage=2", *COMMON, *team.stores(), "split.n_folds=2", "search.n_trials=2"],
                     team.ran_in, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return team


def test_the_notebook_runs_against_the_server_from_another_directory(stage2: Team, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("OPT_TRACKING_URI", stage2.server.url)
    monkeypatch.setenv("OPT_STUDY", STUDY)
    nb = nbformat.read(REPO / "notebooks" / "compare_runs.ipynb", as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    text = "\n".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
                     for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert f"study: {STUDY}" in text and "2 trials, " in text
    best = load_study(stage2.storage, f"{STUDY}-stage2").best_trial.user_attrs["mlflow_run_id"]
    assert f"run {best}: no trades.parquet" not in text, text[-3000:]  # its artifacts came through the server
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert images, "the plots are drawn"
    assert not (tmp_path / "mlruns").exists()


def test_stage2_and_promote_register_the_model_on_the_server(stage2: Team, tmp_path: Path) -> None:
    team = stage2
    start = time.perf_counter()
    promoted = run_cli(["promote", *COMMON, *team.stores(), *NO_GATES], team.ran_in, timeout=600)
    seconds = time.perf_counter() - start
    assert promoted.returncode == 0, promoted.stdout[-2000:] + promoted.stderr[-4000:]
    assert not (team.ran_in / "mlruns").exists(), "the model went to the server, not to a local folder"

    client = _client(team)
    model = f"opt-MES-{STUDY}"
    version = client.get_model_version_by_alias(model, "champion")
    assert version.source.startswith(("models:/", "mlflow-artifacts:")), version.source
    with contextlib.chdir(tmp_path):  # another machine loads the champion through the server
        import mlflow

        mlflow.set_tracking_uri(team.server.url)
        local = Path(mlflow.artifacts.download_artifacts(f"models:/{model}@champion", dst_path=str(tmp_path / "m")))
    assert (local / "MLmodel").is_file(), sorted(p.name for p in local.iterdir())
    assert list(team.server.artifacts.rglob("MLmodel")), "the server holds the model's files"
    print(f"promote through the server: {seconds:.1f} s")


def test_the_servers_database_as_the_optuna_storage_is_refused(team: Team, tmp_path: Path) -> None:
    """opt sees the server only as http://...; its backend database named as search.storage is refused."""
    result = run_cli(["run", "+stage=1", *COMMON, "search.study_name=shared", "search.n_trials=1",
                      f"search.storage={team.server.backend}", f"tracking.uri={team.server.url}"],
                     tmp_path, timeout=180)
    out = result.stdout + result.stderr
    assert result.returncode == 2, out[-3000:]
    assert "Traceback" not in out
    assert f"search.storage='{team.server.backend}' is a database that holds MLflow's tables" in result.stderr
    assert "alembic_version" in result.stderr and "CREATE DATABASE optuna" in result.stderr
    import psycopg2

    con = psycopg2.connect(team.server.backend)
    try:
        with con.cursor() as cur:
            cur.execute("SELECT count(*) FROM information_schema.tables WHERE table_name IN "
                        "('studies', 'trials', 'version_info')")
            row = cur.fetchone()
    finally:
        con.close()
    assert row is not None and row[0] == 0, "no Optuna table was created in MLflow's database"
    assert _client(team).get_experiment_by_name("shared") is None, "nothing was tracked"


def test_an_old_experiment_with_local_artifacts_on_the_server_is_refused(team: Team, tmp_path: Path) -> None:
    old = tmp_path / "mlruns" / "artifacts" / "old"
    _client(team).create_experiment("old", artifact_location=old.as_uri())  # as an older opt made it
    result = run_cli(["run", "+stage=1", *COMMON, "search.study_name=old", "search.n_trials=1",
                      f"search.storage={team.storage}", f"tracking.uri={team.server.url}"], tmp_path, timeout=180)
    assert result.returncode == 2, (result.stdout + result.stderr)[-3000:]
    assert f"tracking.experiment='old' on the tracking server {team.server.url} keeps its artifacts in the local " \
           f"folder {old.as_uri()}" in result.stderr
    assert "search.study_name=old-2" in result.stderr
    assert not old.exists()


def test_one_postgresql_url_for_both_stores_is_refused_before_anything_is_created(tmp_path: Path) -> None:
    with pg_databases("both") as db:
        url = db["both"]
        result = run_cli(["run", "+stage=1", *COMMON, "search.n_trials=1", f"search.storage={url}",
                          f"tracking.uri={url}"], tmp_path, timeout=180)
        out = result.stdout + result.stderr
        assert result.returncode == 2, out[-3000:]
        assert "Traceback" not in out
        assert f"search.storage={url!r} and tracking.uri={url!r} name the same database" in result.stderr
        assert "Use two databases" in result.stderr
        import psycopg2

        con = psycopg2.connect(url)
        try:
            with con.cursor() as cur:
                cur.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")
                row = cur.fetchone()
        finally:
            con.close()
        assert row is not None and row[0] == 0, "nothing was created in the database"


def test_a_database_holding_optunas_tables_is_refused_as_the_mlflow_store(tmp_path: Path) -> None:
    """The same database under another name (``check_separate`` compares URLs; this looks inside)."""
    import optuna

    from opt.stores import sqlalchemy_url

    with pg_databases("optuna") as db:
        storage = optuna.storages.RDBStorage(sqlalchemy_url(db["optuna"]))
        optuna.create_study(study_name="x", storage=storage)
        storage.engine.dispose()
        with pytest.raises(ConfigError) as raised:
            check_store_owner(db["optuna"], "tracking.uri", "MLflow")
        message = str(raised.value)
        assert message.startswith(f"tracking.uri={db['optuna']!r} is a database that holds Optuna's tables")
        assert "search.storage=postgresql://USER@HOST:PORT/optuna" in message
        check_store_owner(db["optuna"], "search.storage", "Optuna")  # its own store passes
    with pg_databases("empty") as db:
        check_store_owner(db["empty"], "tracking.uri", "MLflow")
        check_store_owner(db["empty"], "search.storage", "Optuna")


def test_experiment_location_leaves_a_servers_experiments_to_the_server(tmp_path: Path) -> None:
    assert experiment_location("http://127.0.0.1:5000", "s", "mlruns/artifacts") is None
    assert experiment_location("https://mlflow.example", "s", "/abs/artifacts") is None
    assert experiment_location("http://h:5000", "s", "s3://bucket/x") == "s3://bucket/x"
    with contextlib.chdir(tmp_path):
        assert experiment_location("sqlite:///mlruns/mlflow.db", "s", "mlruns/artifacts") == \
            (tmp_path.resolve() / "mlruns" / "artifacts" / "s").as_uri()
    server = "http://u:pw@h:5000"
    for location, root in (("mlflow-artifacts:/1", "mlruns/artifacts"),  # the server's proxied root
                           ("/srv/mlruns/7", "mlruns/artifacts"),  # the server's own --default-artifact-root
                           ("file:///nfs/team/s", "file:///nfs/team/s")):  # a folder every machine mounts
        check_experiment_location(server, "s", location, root)
    check_experiment_location("sqlite:///mlruns/mlflow.db", "s", "file:///a/mlruns/artifacts/s", "mlruns/artifacts")
    with pytest.raises(ConfigError, match=r"tracking.experiment='s' on the tracking server http://u:\*\*\*@h:5000 "
                       r"keeps its artifacts in the local folder file:///a/mlruns/artifacts/s"):
        check_experiment_location(server, "s", "file:///a/mlruns/artifacts/s", "mlruns/artifacts")
