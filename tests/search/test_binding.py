"""A study is bound to its data, split, model families and space (#11.1): a mismatch is refused."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import optuna
import pytest

from opt.errors import ConfigError
from opt.search.binding import BINDING_ATTR, bind_study, check_handoff, study_binding
from opt.search.runner import run_study
from opt.stages import BracketStage, DatasetStage, TrialContext, TrialResult

from tests.helpers.config import compose_config
from tests.helpers.workers import FAST

MARKET = SimpleNamespace(fingerprint="aaaa", test_start=1000, n_bars_total=1200)


def test_the_first_run_records_and_a_mismatch_is_refused_with_the_way_out() -> None:
    study = optuna.create_study(study_name="es-stage1")
    bind_study(study, {"data_fingerprint": "aaaa", "test_start": 1000}, resume_mismatch=False)
    bind_study(study, {"data_fingerprint": "aaaa", "test_start": 1000}, resume_mismatch=False)  # same: fine
    with pytest.raises(ConfigError, match=r"was run on something else: the data \(fingerprint\): study 'aaaa', "
                                          r"now 'bbbb'.*search.study_name=es-2.*search.resume_mismatch=true"):
        bind_study(study, {"data_fingerprint": "bbbb", "test_start": 1000}, resume_mismatch=False)
    bind_study(study, {"data_fingerprint": "bbbb", "test_start": 1000}, resume_mismatch=True)  # on purpose
    assert study.user_attrs[BINDING_ATTR]["data_fingerprint"] == "bbbb"


def test_stage2_model_family_and_space_are_part_of_the_binding() -> None:
    xgb = study_binding(compose_config(["+stage=2"]), BracketStage(), MARKET)  # type: ignore[arg-type]
    cnn = study_binding(compose_config(["+stage=2", "model=cnn"]), BracketStage(), MARKET)  # type: ignore[arg-type]
    wider = study_binding(compose_config(["+stage=2", "stage.space.bracket.tp_r.high=4"]), BracketStage(),
                          MARKET)  # type: ignore[arg-type]
    assert xgb["model_families"] == ["xgboost"] and cnn["model_families"] == ["cnn"]
    assert xgb["space_hash"] != cnn["space_hash"] and xgb["space_hash"] != wider["space_hash"]
    study = optuna.create_study(study_name="es-stage2")
    bind_study(study, xgb, resume_mismatch=False)
    with pytest.raises(ConfigError, match=r"the model families: study \['xgboost'\], now \['cnn'\]"):
        bind_study(study, cnn, resume_mismatch=False)


def test_a_stage1_result_from_other_data_is_refused() -> None:
    check_handoff("aaaa", "aaaa", resume_mismatch=False)
    check_handoff(None, "aaaa", resume_mismatch=False)  # an old best_stage1.yaml without a fingerprint
    with pytest.raises(ConfigError, match=r"stage-1 result .* other data .*aaaa.*bbbb"):
        check_handoff("aaaa", "bbbb", resume_mismatch=False)


class _Quick(DatasetStage):
    def objective(self, ctx: TrialContext, cfg) -> TrialResult:  # noqa: ANN001
        return TrialResult(metrics={"score": float(ctx.number)})


def test_rerunning_a_study_on_other_bars_is_refused(workdir: Path) -> None:
    base = [*FAST, "search.study_name=bound", "search.n_trials=1"]
    run_study(compose_config([*base, "data.synthetic.n_days=12"]), _Quick())
    with pytest.raises(ConfigError, match=r"study 'bound-stage1' was run on something else: the data"):
        run_study(compose_config([*base, "data.synthetic.n_days=14", "search.n_trials=2"]), _Quick())
    study = run_study(compose_config([*base, "data.synthetic.n_days=14", "search.n_trials=2",
                                      "search.resume_mismatch=true"]), _Quick())
    assert len(study.trials) == 2
