"""How the MLflow UI opens opt's experiments: on the runs table, with the trial metrics as columns.

MLflow 3 opens an experiment on its GenAI overview (traces, token usage) unless the experiment is
tagged as model training (``mlflow.experimentKind``). The runs table's columns are chosen in the
browser; an experiment can carry a *shared view* (tag ``mlflow.sharedViewState.<key>``, the JSON of
the table's state) that the URL ``#/experiments/<id>/runs?viewStateShareKey=<key>`` opens. opt stores
one, :data:`VIEW_KEY`: the trial runs, best score first, with :data:`TRIAL_METRICS` as columns; the
experiment's description links to it (:func:`runs_table_path`).
"""

from __future__ import annotations

import json

__all__ = ["EXPERIMENT_KIND_TAG", "MODEL_TRAINING_KIND", "VIEW_KEY", "TRIAL_METRICS", "DESCRIPTION_TAG",
           "experiment_ui_tags", "runs_table_path"]

EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
MODEL_TRAINING_KIND = "custom_model_development"
DESCRIPTION_TAG = "mlflow.note.content"
VIEW_TAG_PREFIX = "mlflow.sharedViewState."
VIEW_KEY = "opt-trials"
#: the runs-table columns of the shared view: stage 2's summary, then stage 1's
TRIAL_METRICS = ("score", "net_pnl", "sharpe", "n_trades", "max_drawdown", "n_events")
TRIAL_TAGS = ("opt.stage", "opt.trial_state")


def _view_state() -> str:
    columns = [*(f"metrics.`{m}`" for m in TRIAL_METRICS), *(f"tags.`{t}`" for t in TRIAL_TAGS)]
    # the table orders metric columns by name unless told: these first, in this order; the (empty for
    # trials) dataset column narrow
    return json.dumps({"searchFilter": "tags.`opt.role` = 'trial'", "orderByKey": "metrics.`score`",
                       "orderByAsc": False, "selectedColumns": columns, "columnOrder": columns,
                       "columnWidths": {"attributes.`Dataset`": 90}})


def runs_table_path(experiment_id: str) -> str:
    """The UI path (after the server's address) of the trial runs table: ``/#/experiments/<id>/runs?...``."""
    return f"/#/experiments/{experiment_id}/runs?workflowType=machine_learning&viewStateShareKey={VIEW_KEY}"


def experiment_ui_tags(experiment_id: str, existing: dict[str, str]) -> dict[str, str]:
    """The experiment tags to set so the UI opens on the work; ``existing``: the experiment's tags.

    Returns the model-training kind (unless a kind is set), opt's shared view (when absent or
    outdated) and a description linking to it (unless the experiment has one).
    """
    wanted = {EXPERIMENT_KIND_TAG: MODEL_TRAINING_KIND, VIEW_TAG_PREFIX + VIEW_KEY: _view_state(),
              DESCRIPTION_TAG: (f"opt study. [Trial runs, best score first, with score, net_pnl, sharpe and n_trades]"
                                f"({runs_table_path(experiment_id)}); each stage's parent run holds the study's "
                                "settings, its dataset and `plots/`.")}
    keep_if_set = (EXPERIMENT_KIND_TAG, DESCRIPTION_TAG)
    return {k: v for k, v in wanted.items() if not (k in keep_if_set and existing.get(k)) and existing.get(k) != v}
