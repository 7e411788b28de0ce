"""Looking at studies: ``python -m opt list``, ``show`` and ``ui`` (settings in ``conf/inspect``).

- ``list``: the best trials of a stage as a table (stage, trial, score, key metrics, key params), with
  filters ``inspect.min_trades``, ``inspect.top``, ``inspect.states`` and ``inspect.format=json|csv``
  for programs.
- ``show``: one trial in full (``inspect.trial=N``, default the best): params, metrics, the per-fold
  breakdown from the run's ``per_fold.csv``, its MLflow tags and artifact locations.
- ``ui``: the MLflow UI on 127.0.0.1 against the project's store (``inspect.dry_run=true`` prints the
  command only), and how to open optuna-dashboard on the study storage. With a tracking server
  (``tracking.uri=http(s)://...``) the server is the UI: ``ui`` prints its URL and starts no MLflow UI.
"""

from __future__ import annotations

import logging
import os
import shlex
import sys

import optuna
from omegaconf import DictConfig

from opt.errors import StageError
from opt.inspect._mlflow import open_client, run_detail, store_uri
from opt.inspect._render import check_format, print_detail, print_rows
from opt.inspect._servers import check_port, run_servers
from opt.inspect._trials import select_rows, stage_of, trial_row
from opt.secrets import has_secret, mask_url
from opt.stores import is_server
from opt.studies import describe_storage, is_journal, journal_path, make_storage, open_study, pick_trial

log = logging.getLogger(__name__)

__all__ = ["find_study", "list_command", "show_command", "ui_command", "ui_commands", "ui_environment"]


def find_study(cfg: DictConfig, stage: int) -> optuna.Study:
    """The study ``list``/``show`` look at: ``<search.study_name>-stage<N>``, or the only stage-N study there is.

    After ``python -m opt run +stage=1 data=csv data.path=ES.csv instrument=es`` the study is
    ``opt-ES-csv-stage1``, while a bare ``python -m opt list`` composes the default name
    (``opt-MES-synthetic``): with one stage-N study in the storage that one is used, with a note.

    Raises:
        StageError: no such study and not exactly one stage-N study; the message lists those that exist.
    """
    try:
        return open_study(cfg, stage)
    except StageError as missing:
        storage = make_storage(cfg)
        names = sorted(n for n in optuna.get_all_study_names(storage) if n.endswith(f"-stage{stage}"))
        if len(names) == 1:
            print(f"opt: no study '{cfg.search.study_name}-stage{stage}'; showing the only stage-{stage} study, "
                  f"{names[0]} (search.study_name={names[0].removesuffix(f'-stage{stage}')})", file=sys.stderr)
            return optuna.load_study(study_name=names[0], storage=storage)
        found = ", ".join(n.removesuffix(f"-stage{stage}") for n in names) or "none"
        raise StageError(f"{missing}. Stage-{stage} studies in {describe_storage(cfg)}: {found}; pass "
                         "search.study_name=NAME") from None


def list_command(cfg: DictConfig) -> int:
    """``python -m opt list [+stage=N] [inspect.top=N inspect.min_trades=N inspect.sort=METRIC inspect.format=json]``."""
    ic = cfg.inspect
    fmt_name = check_format(str(ic.format))
    stage = stage_of(cfg)
    study = find_study(cfg, stage)
    sort = None if ic.sort is None else str(ic.sort)
    rows = select_rows(study, stage, states=[str(s) for s in ic.states],
                       min_trades=ic.min_trades, top=ic.top, sort=sort)
    cols = ic.columns[f"stage{stage}"]
    metrics = list(cols.metrics)
    ranked = "best first"
    if sort is not None and sort != "score":
        shown = [sort, "dsr_n_trials"] if sort == "deflated_sharpe" else [sort]  # DSR with its N beside it
        metrics = [m for m in metrics if m == "score"] + shown + [m for m in metrics if m not in shown + ["score"]]
        ranked = f"ranked by {sort}" + (" (N = dsr_n_trials: configurations the family had tried)"
                                        if sort == "deflated_sharpe" else "")
    title = f"{study.study_name}: {len(rows)} of {len(study.get_trials(deepcopy=False))} trials, {ranked}"
    print_rows(rows, title=title, fmt_name=fmt_name, metrics=metrics, params=list(cols.params))
    return 0


def show_command(cfg: DictConfig) -> int:
    """``python -m opt show [+stage=N] [inspect.trial=N] [inspect.format=json]``."""
    fmt_name = check_format(str(cfg.inspect.format))
    stage = stage_of(cfg)
    study = find_study(cfg, stage)
    row = trial_row(pick_trial(study, cfg.inspect.trial), stage, study.user_attrs)
    detail = {"study": study.study_name, **{k: v for k, v in row.items() if k not in ("metrics", "params")}}
    detail.update(params=row["params"], metrics=row["metrics"])
    if row["run_id"]:
        found = run_detail(open_client(cfg), row["run_id"])
        detail["metrics"] = {**row["metrics"], **found.pop("metrics", {})}
        detail.update(found)
    print_detail(detail, fmt_name=fmt_name)
    return 0


def ui_commands(cfg: DictConfig) -> tuple[list[str], list[str]]:
    """The MLflow UI command and the optuna-dashboard command for this project's stores.

    A store URL with a password is not on the MLflow UI's command line (``ps`` would show it): the UI
    reads it from ``MLFLOW_BACKEND_STORE_URI`` (:func:`ui_environment`). The dashboard command is a
    hint to print, with the password masked.
    """
    uri = store_uri(cfg)
    store = [] if has_secret(uri) else ["--backend-store-uri", uri]
    mlflow_ui = [sys.executable, "-m", "mlflow", "ui", *store, "--host", "127.0.0.1",
                 "--port", str(int(cfg.inspect.port)), "--workers", str(int(cfg.inspect.workers))]
    if is_journal(cfg):
        dashboard = ["optuna-dashboard", "--storage-class", "JournalFileStorage", str(journal_path(cfg))]
    else:
        dashboard = ["optuna-dashboard", mask_url(str(cfg.search.storage))]
    return mlflow_ui, [*dashboard, "--host", "127.0.0.1", "--port", str(int(cfg.inspect.dashboard_port))]


def ui_command(cfg: DictConfig) -> int:
    """``python -m opt ui [inspect.port=N] [inspect.dashboard=true] [inspect.dry_run=true]`` (blocks).

    Starts the MLflow UI (and optuna-dashboard on the study storage with ``inspect.dashboard=true``) on
    127.0.0.1; stopping ``opt ui`` (Ctrl-C, SIGTERM) stops them (:mod:`opt.inspect._servers`).

    With an ``http(s)://`` ``tracking.uri`` the tracking server is the MLflow UI: its URL is printed
    (password masked) and no local UI starts; ``inspect.dashboard=true`` still starts optuna-dashboard.

    Returns:
        The first server's exit status, or 130/143 after Ctrl-C/SIGTERM (0 on a dry run, and with a
        tracking server and no dashboard to start).

    Raises:
        ConfigError: a port is in use (naming it and the setting to change).
    """
    if is_server(str(cfg.tracking.uri)):
        return _server_ui(cfg)
    mlflow_ui, dashboard = ui_commands(cfg)
    print(f"MLflow UI: http://127.0.0.1:{cfg.inspect.port}  ({shlex.join(mlflow_ui)})")
    _print_study_links(cfg, f"http://127.0.0.1:{cfg.inspect.port}")
    started = "started" if cfg.inspect.dashboard else "with inspect.dashboard=true, or by hand"
    print(f"Optuna studies ({started}): http://127.0.0.1:{cfg.inspect.dashboard_port}  ({shlex.join(dashboard)})")
    if cfg.inspect.dry_run:
        return 0
    check_port(int(cfg.inspect.port), "inspect.port")
    servers = [(mlflow_ui, ui_environment(cfg))]
    if cfg.inspect.dashboard:
        check_port(int(cfg.inspect.dashboard_port), "inspect.dashboard_port")
        servers.append(_dashboard_server(cfg))
    sys.stdout.flush()
    return run_servers(servers)


def _print_study_links(cfg: DictConfig, base: str) -> None:
    """One line per opt experiment in the store: the link to its trial runs table (MLflow 3 opens an
    experiment on its GenAI overview; the link selects "Model training" and opt's saved view)."""
    from opt.tracking.ui_view import VIEW_KEY, VIEW_TAG_PREFIX, runs_table_path

    try:
        experiments = open_client(cfg).search_experiments(max_results=1000)
    except Exception as exc:  # noqa: BLE001 - the links are a convenience; the UI starts without them
        log.debug("no study links: %s", exc)
        return
    for exp in experiments:
        if VIEW_TAG_PREFIX + VIEW_KEY in exp.tags:
            print(f"  trial runs of {exp.name}: {base}{runs_table_path(exp.experiment_id)}")


def _server_ui(cfg: DictConfig) -> int:
    """``opt ui`` against a tracking server: print its URL (its own UI), start optuna-dashboard if asked."""
    server = mask_url(str(cfg.tracking.uri)).rstrip("/")
    print(f"MLflow UI: {server}  (the tracking server of tracking.uri serves it; nothing to start here)")
    _print_study_links(cfg, server)
    _, dashboard = ui_commands(cfg)
    started = "started" if cfg.inspect.dashboard else "with inspect.dashboard=true, or by hand"
    print(f"Optuna studies ({started}): http://127.0.0.1:{cfg.inspect.dashboard_port}  ({shlex.join(dashboard)})")
    if cfg.inspect.dry_run or not cfg.inspect.dashboard:
        return 0
    check_port(int(cfg.inspect.dashboard_port), "inspect.dashboard_port")
    sys.stdout.flush()
    return run_servers([_dashboard_server(cfg)])


def _dashboard_server(cfg: DictConfig) -> tuple[list[str], dict[str, str]]:
    """optuna-dashboard on the study storage, which it reads from its environment (never its command line)."""
    env = {**os.environ, "OPT_DASHBOARD_JOURNAL": "1" if is_journal(cfg) else "0",
           "OPT_DASHBOARD_STORAGE": str(journal_path(cfg)) if is_journal(cfg) else str(cfg.search.storage)}
    return [sys.executable, "-m", "opt.inspect._dashboard", "127.0.0.1", str(int(cfg.inspect.dashboard_port))], env


def ui_environment(cfg: DictConfig) -> dict[str, str]:
    """The MLflow UI's environment: telemetry per ``tracking.telemetry``, a secret store URL passed here.

    MLflow 3's server also starts a job runner with a pool of huey consumer processes for its GenAI jobs
    (prompt optimization, scorers); opt has none, so it is off (``MLFLOW_SERVER_ENABLE_JOB_EXECUTION``,
    unless set already): the UI starts ~6 processes fewer and answers sooner on 2 cores.
    """
    env = dict(os.environ)
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    if not cfg.tracking.telemetry:
        env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    uri = store_uri(cfg)
    if has_secret(uri):
        env["MLFLOW_BACKEND_STORE_URI"] = uri
    return env

