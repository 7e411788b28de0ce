"""Issue #9 D: the registered model's default name does not repeat ``opt-<instrument>``."""

from __future__ import annotations

from opt.promote.command import model_name

from tests.helpers.config import compose_config


def test_default_study_name_is_not_repeated() -> None:
    cfg = compose_config()
    symbol, study = cfg.instrument.symbol, cfg.search.study_name
    assert study.startswith(f"opt-{symbol}-")  # the default study name opt-${instrument.symbol}-${data.source}
    assert model_name(cfg) == study  # e.g. opt-ES-csv, not opt-ES-opt-ES-csv
    assert model_name(compose_config(["search.study_name=opt-MES-csv", "instrument=mes"])) == "opt-MES-csv"


def test_other_study_names_get_the_instrument_prefix() -> None:
    cfg = compose_config(["search.study_name=tiny", "instrument=mes"])
    assert model_name(cfg) == "opt-MES-tiny"
    # a study named for another instrument, or only sharing the prefix's letters, is not taken as the prefix
    assert model_name(compose_config(["search.study_name=opt-MESX", "instrument=mes"])) == "opt-MES-opt-MESX"
    assert model_name(compose_config(["search.study_name=opt-NQ-csv", "instrument=mes"])) == "opt-MES-opt-NQ-csv"


def test_configured_name_wins() -> None:
    cfg = compose_config(["search.study_name=opt-MES-csv", "instrument=mes", "promote.model_name=my-model"])
    assert model_name(cfg) == "my-model"
