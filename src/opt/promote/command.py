"""``python -m opt promote``: validate the best stage-2 trial once on the held-out part and register it.

Steps (DESIGN §9):

1. pick the stage-2 trial (``promote.trial``, default the best) and read its exact config from its run;
2. retrain it on the whole search part and evaluate it once on the test part
   (:mod:`opt.promote.retrain`): the DESIGN §7 test metrics;
3. overfitting guards (:mod:`opt.promote.guards`): the deflated Sharpe ratio given the trials the
   studies ran, PBO by CSCV over the top-K stage-2 trials' walk-forward daily PnL;
4. sensitivity of the test ``net_pnl`` to one-step bracket moves (:mod:`opt.promote.sensitivity`);
5. the gates (``promote.gates``, :mod:`opt.promote.gates`); only if they pass (or ``promote.force``) the
   model is registered (:mod:`opt.promote.pyfunc`) and the alias moved to the new version.

Everything is recorded in a promote run (tag ``opt.role=promote``) of the study's MLflow experiment:
metrics, tags ``opt.failed_gates`` / ``opt.forced`` / ``opt.model_version``, and artifacts (config,
test trades, test equity curve with drawdown, test confusion matrix and CNN Grad-CAM images
(:mod:`opt.promote.insight`), sensitivity table, top-K daily PnL, report). Failed
gates without ``force`` exit with :data:`GATES_FAILED_EXIT_CODE` and register nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import sys
import tempfile
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from opt.backtest.account import FAILED_ON_TAG, account_report
from opt.backtest.filters import filter_analysis
from opt.backtest.report import plot_equity
from opt.config_rules import cfg_value
from opt.errors import ConfigError
from opt.playback.artifacts import write_promote_playback
from opt.promote import study as st
from opt.promote.degenerate import degenerate_gates, degenerate_metrics
from opt.promote.evidence import Evidence, promotion_evidence
from opt.promote.gates import Gate, check_gates, describe_failures, metric_notes
from opt.promote.guards import dsr, pbo, trial_daily_pnl
from opt.promote.insight import write_test_insight
from opt.promote.ledger import complete_read, describe_ledger, holdout_ledger, record_read
from opt.promote.policy import SignalPolicy
from opt.promote.replay import ReplayResult, replay_test_part
from opt.promote.retrain import Retrained, retrain, walk_forward_days
from opt.promote.sensitivity import bracket_sensitivity, plateau_score
from opt.promote.stress import cost_stress
from opt.schema import RunTag, TrialAttr
from opt.secrets import mask_url
from opt.studies import ranked_trials
from opt.tracking import Tracker
from opt.tracking.artifacts import write_config
from opt.tracking.lineage import git_commit

__all__ = ["GATES_FAILED_EXIT_CODE", "promote_command", "model_name"]

log = logging.getLogger(__name__)

GATES_FAILED_EXIT_CODE = 3
"""Exit status of ``promote`` when a gate fails and ``promote.force`` is false."""

#: config sections the registered policy needs at prediction time (plus ``data.tz``)
POLICY_SECTIONS = ("levels", "events", "outcome", "features", "bracket", "instrument", "filters")


def _mapping(node: Any) -> dict[str, Any]:
    """A config node as a plain, resolved dict."""
    out = OmegaConf.to_container(node, resolve=True)
    assert isinstance(out, dict)
    return {str(k): v for k, v in out.items()}


def model_name(cfg: DictConfig) -> str:
    """``promote.model_name``; by default the study name when it already starts with ``opt-<instrument>``
    (the default study name ``opt-${instrument.symbol}-${data.source}``: ``opt-ES-csv``, not
    ``opt-ES-opt-ES-csv``), else ``opt-<instrument>-<study>``."""
    if cfg.promote.model_name:
        return str(cfg.promote.model_name)
    prefix, study = f"opt-{cfg.instrument.symbol}", str(cfg.search.study_name)
    return study if study == prefix or study.startswith(f"{prefix}-") else f"{prefix}-{study}"


def _guards(cfg: DictConfig, r: Retrained, studies: st.Studies, trial: Any, client: Any) -> tuple[
        dict[str, float], pd.DataFrame, dict[str, str]]:
    """DSR (walk-forward and test) and PBO metrics; the top-K daily PnL matrix (days x trials); why each
    DSR/PSR metric that is NaN is not computable."""
    pc = cfg.promote
    min_days = cfg_value(pc.dsr, "min_days", where="promote.dsr")
    if isinstance(min_days, bool) or not isinstance(min_days, int) or min_days < 2:
        raise ConfigError(f"promote.dsr.min_days={min_days!r} breaks the rule: an integer >= 2 (daily observations "
                          "for DSR and PSR)")
    day_of_bar = r.ctx.calendar.trading_day
    days = walk_forward_days(r)
    n_trials = st.n_trials_run(studies, count_stage1=bool(pc.dsr.count_stage1))
    sharpes = st.stage2_sharpes(studies.stage2)
    columns: dict[str, np.ndarray] = {}
    for t in ranked_trials(studies.stage2)[: int(pc.pbo.top_k)]:
        trades = st.trial_trades(client, t.user_attrs[TrialAttr.MLFLOW_RUN_ID])
        if trades is not None:
            columns[f"trial_{t.number}"] = trial_daily_pnl(trades, day_of_bar, days)
    selected = columns.get(f"trial_{trial.number}")
    if selected is None:
        trades = st.trial_trades(client, trial.user_attrs[TrialAttr.MLFLOW_RUN_ID])
        selected = trial_daily_pnl(trades, day_of_bar, days) if trades is not None else np.zeros(0)
    wf_dsr = dsr(selected, n_trials=n_trials, trial_sharpes=sharpes, min_days=min_days)
    test_daily = trial_daily_pnl(r.result.trades, day_of_bar, r.test_days)
    test_dsr = dsr(test_daily, n_trials=n_trials, trial_sharpes=sharpes, min_days=min_days)
    wf, test = wf_dsr.values, test_dsr.values
    reasons = {**wf_dsr.reasons, **{f"test_{k}": why for k, why in test_dsr.reasons.items()}}
    matrix = pd.DataFrame(columns, index=pd.Index(days, name="trading_day"))
    metrics = {
        "deflated_sharpe": wf["deflated_sharpe"], "psr": wf["psr"], "dsr_sharpe_per_day": wf["sharpe"],
        "dsr_sr0_per_day": wf["sr0"], "dsr_days": wf["n_obs"], "dsr_skew": wf["skew"],
        "dsr_kurtosis": wf["kurtosis"], "n_trials": wf["n_trials"], "var_trial_sharpe": wf["var_trial_sharpe"],
        "test_deflated_sharpe": test["deflated_sharpe"], "test_psr": test["psr"],
        "test_sharpe_per_day": test["sharpe"], "test_days": test["n_obs"],
        **pbo(matrix.to_numpy(), max_splits=int(pc.pbo.n_splits)),
    }
    return metrics, matrix, reasons


def _lineage(cfg: DictConfig, r: Retrained, studies: st.Studies, trial: Any, client: Any) -> dict[str, str]:
    run2 = str(trial.user_attrs[TrialAttr.MLFLOW_RUN_ID])
    run1 = client.get_run(run2).data.tags.get(RunTag.STAGE1_RUN)
    stage1_trial = st.stage1_trial_of(studies, run1)
    return {
        "opt.study": str(cfg.search.study_name), "opt.stage2_study": studies.stage2.study_name,
        "opt.stage1_study": studies.stage1.study_name if studies.stage1 is not None else "",
        "opt.stage1_run": str(run1 or ""), "opt.stage2_run": run2,
        "opt.stage1_trial": "" if stage1_trial is None else str(stage1_trial),
        "opt.stage2_trial": str(trial.number), "opt.config_hash": st.config_hash(r.cfg),
        "opt.data_fingerprint": r.fingerprint, "opt.git_commit": git_commit(),
    }


def _write_artifacts(folder: Path, r: Retrained, sensitivity: pd.DataFrame, matrix: pd.DataFrame,
                     report: dict[str, Any]) -> None:
    write_config(r.cfg, folder)
    r.result.trades.to_parquet(folder / "test_trades.parquet", index=False)
    plot_equity(r.result.trades, folder / "test_equity_curve.png", title="test part: equity and drawdown (net)")
    write_test_insight(folder, r)  # test_confusion_matrix.csv, gradcam/test_<class>.png (CNN)
    sensitivity.to_csv(folder / "sensitivity.csv", index=False)
    matrix.reset_index().to_parquet(folder / "topk_daily_pnl.parquet", index=False)
    (folder / "promote_report.json").write_text(json.dumps(report, indent=1, default=str))


def _print_report(metrics: dict[str, float], gates: list[Gate], sensitivity: pd.DataFrame) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="promote: test part and overfitting guards")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, v in metrics.items():
        table.add_row(k, "nan" if math.isnan(v) else f"{v:.4g}")
    console = Console()
    console.print(table)
    if not sensitivity.empty:
        console.print(sensitivity.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    for note in metric_notes(metrics):
        console.print(note, markup=False, soft_wrap=True)
    for g in gates:
        console.print(f"{'PASS' if g.passed else 'FAIL'}  {g.describe()}")


def promote_command(cfg: DictConfig) -> int:
    """Entry of ``python -m opt promote`` (module docstring); returns the exit status.

    Raises:
        StageError: no stage-2 study, trial, run artifacts, or data that differ from the search's.
        ConfigError: bad ``promote`` settings or instrument.
    """
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    pc = cfg.promote
    studies = st.load_studies(cfg)
    trial = st.select_trial(studies.stage2, pc.trial)
    print(f"promote: {studies.stage2.study_name} trial {trial.number} "
          f"({'promote.trial' if pc.trial is not None else 'the best'}; score {trial.values[0]:.4g})", flush=True)
    tracker = Tracker(cfg)
    run2 = str(trial.user_attrs[TrialAttr.MLFLOW_RUN_ID])
    pcfg = st.trial_config(cfg, tracker.client, run2)
    r = retrain(pcfg, expected_fingerprint=st.data_fingerprint_of(tracker.client, run2))
    metrics: dict[str, float] = {k: float(v) for k, v in r.result.metrics.items()}
    metrics.update({"n_train_events": float(len(r.train)), "n_test_events": float(len(r.test))})
    # the test part has now been read: record it before anything can fail (opt.promote.ledger)
    read_key, ledger = record_read(studies.stage2, trial=trial.number, metrics=metrics, fingerprint=r.fingerprint,
                                   test_start=str(pd.Timestamp(r.ctx.timestamps[r.test_start], tz="UTC")))
    metrics["holdout_reads"] = float(len(ledger))
    print(describe_ledger(ledger), flush=True)
    guards, matrix, not_computable = _guards(pcfg, r, studies, trial, tracker.client)
    metrics.update(guards)
    sensitivity = bracket_sensitivity(pcfg, r.ds, r.ctx, r.result.proba, r.test, r.test_start, trial.distributions,
                                      float_step=float(pc.sensitivity.float_step))
    metrics.update(plateau_score(sensitivity, metrics["net_pnl"], keep_share=float(pc.sensitivity.keep_share)))
    metrics.update(degenerate_metrics(r))
    stress, stress_table = cost_stress(r, commission_factor=float(pc.cost_stress.commission_factor),
                                       slippage_ticks_added=float(pc.cost_stress.slippage_ticks_added))
    metrics.update(stress)
    account, account_table, account_failed_on = account_report(cfg.get("account"), r.result.trades,
                                                                r.ctx.calendar.trading_day)  # conf/account
    metrics.update(account)  # account_passed, ... of the test part: gates promote.gates.min_account_passed
    wf_trades = st.trial_trades(tracker.client, run2)
    evidence = promotion_evidence(pcfg, r, wf_trades)
    metrics.update(evidence.metrics)
    for flag in evidence.flags:
        print(f"regimes: {flag}", flush=True)
    policy = SignalPolicy(cfg={**_mapping(OmegaConf.masked_copy(pcfg, list(POLICY_SECTIONS))),
                               "data": {"tz": pcfg.data.tz}}, model=r.model)
    replay = _replay(pc, policy, r)
    if replay is not None:
        metrics.update({"replay_bars": float(replay.n_bars), "replay_calls": float(replay.n_calls),
                        "replay_signals_live": float(replay.n_signals_live),
                        "replay_signals_batch": float(replay.n_signals_batch)})
    gates = check_gates(_mapping(pc.gates), metrics, reasons=not_computable) + degenerate_gates(pcfg, r, metrics)
    if replay is not None:
        gates.append(_replay_gate(replay))
    failed = [g.name for g in gates if not g.passed]
    lineage = _lineage(pcfg, r, studies, trial, tracker.client)
    name, forced = model_name(cfg), bool(pc.force) and bool(failed)
    run_id = tracker.start_run(name=f"promote-{cfg.search.study_name}-trial{trial.number}",
                               tags={RunTag.ROLE: "promote", **lineage})
    status = "FAILED"
    try:
        tracker.log(run_id, params={**trial.user_attrs.get(TrialAttr.CONFIG_PARAMS, {}), "promote.retrain": r.mode,
                                    "promote.fold_capacities": ",".join(map(str, r.fold_capacities)),
                                    **{f"promote.gates.{g.name}": g.threshold for g in gates}},
                    metrics={k: v for k, v in metrics.items() if math.isfinite(v)},
                    tags={"opt.failed_gates": ",".join(failed), "opt.forced": str(forced).lower(),
                          "opt.gates": "; ".join(g.describe() for g in gates),
                          **({FAILED_ON_TAG: account_failed_on} if account_failed_on else {})})
        report = {"metrics": metrics, "gates": [asdict(g) for g in gates], "not_computable": not_computable,
                  "lineage": lineage, "model_name": name, "regime_flags": evidence.flags}
        decision = partial(_decision_report, pcfg, trial.number, r, gates, metrics, not_computable, lineage, evidence,
                           stress_table, sensitivity, replay, tracker, run2, studies.stage2)
        with tempfile.TemporaryDirectory(prefix="opt-promote-") as tmp:
            _write_artifacts(Path(tmp), r, sensitivity, matrix, report)
            stress_table.to_csv(Path(tmp) / "cost_stress.csv", index=False)
            write_promote_playback(pcfg, r, Path(tmp), trial=trial.number)  # playback_test.html (opt.playback)
            filter_analysis(r.result.trades, r.ctx, pcfg).to_csv(Path(tmp) / "test_filter_analysis.csv",
                                                                 index=False)  # trades by market context
            evidence.regimes.to_csv(Path(tmp) / "regimes.csv", index=False)
            evidence.bands.to_csv(Path(tmp) / "mc_bands.csv", index=False)
            if len(account_table):
                account_table.to_csv(Path(tmp) / "account.csv", index=False)
            tracker.log_artifacts(run_id, tmp)
        _print_report(metrics, gates, sensitivity)
        if failed and not pc.force:
            complete_read(studies.stage2, read_key, run_id=run_id, passed=False, forced=False, registered=None,
                          outcome="refused")
            path = decision(f"refused: {len(failed)} gate(s) failed; nothing registered", run_id)
            print(f"opt: promote refused, gate(s) failed: {describe_failures(gates)}. Nothing registered "
                  f"(promote.force=true registers anyway); MLflow run {run_id}{_where(path)}", file=sys.stderr)
            status = "FINISHED"
            return GATES_FAILED_EXIT_CODE
        verdict = (f"forced: registering {name} as @{pc.alias} despite {len(failed)} failed gate(s)" if forced
                   else f"passed: registering {name} as @{pc.alias}")
        with tempfile.TemporaryDirectory(prefix="opt-report-") as tmp:  # the copy that travels with the model
            attached = decision(verdict, None, Path(tmp))
            version = _register(policy, run_id, name, str(pc.alias), lineage, forced, failed, gates, attached)
        tracker.log(run_id, tags={"opt.registered_model": name, "opt.model_version": version})
        complete_read(studies.stage2, read_key, run_id=run_id, passed=not failed, forced=forced,
                      registered=f"{name} version {version}", outcome="forced" if forced else "registered")
        verdict = verdict.replace("registering", "registered").replace(f"{name} as", f"{name} version {version} as")
        path = decision(verdict, run_id)
        if forced:
            print(f"opt: promote.force=true: registered despite failed gate(s): {describe_failures(gates)}",
                  file=sys.stderr)
        print(f"registered {name} version {version} as @{pc.alias}: "
              f"mlflow.pyfunc.load_model('models:/{name}@{pc.alias}') (tracking URI {mask_url(tracker.uri)})"
              f"{_where(path)}")
        status = "FINISHED"
        return 0
    finally:
        tracker.end_run(run_id, status)


def _where(path: Path | None) -> str:
    return f"; decision report: {path}" if path is not None else ""


def _decision_report(cfg: DictConfig, trial: int, r: Retrained, gates: list[Gate], metrics: dict[str, float],
                     not_computable: dict[str, str], lineage: dict[str, str], evidence: Evidence,
                     stress: pd.DataFrame, sensitivity: pd.DataFrame, replay: ReplayResult | None, tracker: Tracker,
                     run2: str, study: Any, verdict: str, run_id: str | None, folder: Path | None = None
                     ) -> Path | None:
    """Write ``decision_report.html`` (:mod:`opt.promote.decision_report`) and log it on the promote run
    ``run_id`` (None: only write it, for the model version); return where it was written, or None when
    ``promote.report`` is off. It is written into ``folder``, by default ``experiments/<study>/`` beside
    the study's results (the last promotion's report)."""
    if not cfg.promote.report:
        return None
    from opt.promote.decision_report import DecisionReport, write_decision_report

    per_fold = st.trial_table(tracker.client, run2, "per_fold.csv")
    keys = ("deflated_sharpe", "psr", "n_trials", "var_trial_sharpe", "dsr_days", "test_deflated_sharpe", "pbo",
            "pbo_trials", "pbo_splits", "pbo_days", "plateau_score")
    report = DecisionReport(
        title=f"{cfg.search.study_name}: promote of stage-2 trial {trial}",
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), verdict=verdict, lineage=lineage,
        gates=gates, metrics=metrics, per_fold=per_fold if per_fold is not None else pd.DataFrame(),
        regimes=evidence.regimes, regime_flags=evidence.flags,
        mc_metrics={k: v for k, v in metrics.items() if k.startswith("mc_")}, mc_bands=evidence.bands,
        cost_stress=stress, overfitting={k: metrics[k] for k in keys if k in metrics}, not_computable=not_computable,
        ledger=holdout_ledger(study), replay=None if replay is None else _replay_record(replay),
        trades=r.result.trades, sensitivity=sensitivity)
    folder = folder or Path(str(cfg.paths.experiments)) / str(cfg.search.study_name)
    path = write_decision_report(report, folder / "decision_report.html")
    if run_id is not None:
        tracker.log_artifact(run_id, path)
    return path


def _replay_record(replay: ReplayResult) -> dict[str, Any]:
    d = replay.first_difference
    return {"bars": replay.n_bars, "calls": replay.n_calls, "signals_live": replay.n_signals_live,
            "signals_batch": replay.n_signals_batch, "differences": 0 if d is None else 1,
            "first_difference": "" if d is None else _replay_gate(replay).reason}


def _replay(pc: DictConfig, policy: SignalPolicy, r: Retrained) -> ReplayResult | None:
    """Replay the test part bar by bar through the policy to register (``promote.replay``), or None when off."""
    if not pc.replay.enabled:
        return None
    result = replay_test_part(policy, r.ctx.bars, r.test_start, r.result, chunk_bars=int(pc.replay.chunk_bars))
    log.info("promote: %s", result.describe())
    return result


def _replay_gate(replay: ReplayResult) -> Gate:
    """The live-equals-backtest check as a gate: passes when the replay found no difference."""
    d = replay.first_difference
    reason = "" if d is None else (f"live differs from the backtest first at bar {d.get('bar')} ({d.get('timestamp')}): "
                                   f"{d.get('check', '')} {d.get('what', '')}".strip())
    return Gate(name="replay.live_equals_backtest", metric="replay_differences", op="<=", threshold=0.0,
                value=0.0 if d is None else 1.0, passed=d is None, reason=reason)


def _register(policy: SignalPolicy, run_id: str, name: str, alias: str, lineage: dict[str, str], forced: bool,
              failed: list[str], gates: list[Gate], report: Path | None) -> str:
    from opt.promote.pyfunc import log_and_register

    tags = {**lineage, "opt.promote_run": run_id, "opt.forced": str(forced).lower(), "opt.failed_gates": ",".join(failed)}
    if report is not None:
        tags["opt.decision_report"] = f"runs:/{run_id}/decision_report.html (and the model's artifacts/{report.name})"
    description = "gates: " + ("; ".join(g.describe() for g in gates) or "none") + (" (forced)" if forced else "")
    return log_and_register(policy, run_id=run_id, name=name, alias=alias, tags=tags, description=description,
                            artifacts={report.name: str(report)} if report is not None else None)
