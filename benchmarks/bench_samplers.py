"""Sampler benchmarks: search quality on the real ES file, and the cost of ``study.ask()`` as studies grow.

- Quality: best stage-1 ``score`` after ``n_trials`` trials, median over ``seeds``, per sampler config
  (``conf/search/sampler/<name>.yaml``, built with :func:`opt.search.runner.make_sampler` as a study
  would). Each trial is the real stage-1 objective (:meth:`opt.stages.stage1.DatasetStage.objective`:
  dataset build, quick classifier, DESIGN §7 metrics) on the search part of the ES file, run in-process
  on an in-memory Optuna study without MLflow (MLflow logging costs the same for every sampler). A
  pruned trial (events-per-day guard, too few events) tells Optuna PRUNED, as in a real study.
  ``data_end`` shortens the date range when the trial cost is too high (the key names it).
- ask() cost: milliseconds of ``study.ask()`` + sampling the stage-1 space once the study holds N
  finished trials (median of ``repeats``), for a sampler config. The N trials are random points of the
  stage-1 space (conditions respected) with a smooth synthetic score, added with ``study.add_trials``.

``python -m benchmarks.bench_samplers [--trials 500] [--seeds 3] [--end 2025-10-15]`` prints the
bench.json keys; :func:`bench_samplers` returns them (``sampler_best_score_<name>_<n>``,
``sampler_seconds_<name>_<n>``, ``ask_ms_<name>_<N>``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
import warnings
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

REPO = Path(__file__).resolve().parents[1]
ES_CSV = REPO.parent / "shared" / "data" / "ES_1min.csv"

DEFAULT = "tpe"
"""The default sampler config (conf/search/default.yaml)."""
QUALITY_SAMPLERS = ("tpe", "tpe@max_history=100", "tpe_independent", "random", "qmc", "cmaes")
"""Samplers compared on search quality (gp separately, with fewer trials: its ask() is O(n^2) or worse)."""


def _sampler_overrides(sampler: str) -> list[str]:
    """``NAME`` or ``NAME@key=value@key=value`` (e.g. ``tpe@max_history=100``): the sampler config and
    overrides of its keys."""
    name, *keys = sampler.split("@")
    return [f"search.sampler={name}", *(f"search.sampler.{kv}" for kv in keys)]


def _key(sampler: str) -> str:
    """A bench.json-safe name for a sampler spec: ``tpe@max_history=100`` -> ``tpe_max_history_100``."""
    return sampler.replace("@", "_").replace("=", "_")


def _config(sampler: str, seed: int, data_end: str | None) -> Any:
    from tests.helpers.config import compose_config

    over = ["+stage=1", *_sampler_overrides(sampler), f"search.seed={seed}", "search.progress=false",
            "model.device=cpu", "model.n_jobs=1"]
    if ES_CSV.exists():
        over += ["data=csv", f"data.path={ES_CSV}", "instrument=es"]
        if data_end:
            over.append(f"data.end={data_end}")
    return compose_config(over)


def search_quality(sampler: str, *, n_trials: int, seed: int, data_end: str | None = None,
                   market: Any = None) -> tuple[float, float]:
    """Best stage-1 score after ``n_trials`` trials of ``sampler`` (seeded ``seed``), and wall seconds.

    Returns:
        ``(best score or nan when no trial completed, seconds)``.
    """
    from opt.search.runner import make_sampler
    from opt.stages import TrialContext, prepare_market
    from opt.stages.base import TrialPrunedWithReason
    from opt.stages.stage1 import DatasetStage

    cfg = _config(sampler, seed, data_end)
    stage = DatasetStage()
    plan = stage.plan(cfg)
    market = market if market is not None else prepare_market(plan.cfg)
    study = optuna.create_study(direction="maximize", sampler=make_sampler(plan.cfg))
    cache: dict[str, Any] = {}
    t0 = time.perf_counter()
    for _ in range(n_trials):
        trial = study.ask()
        try:
            _, tcfg = stage.sample(trial, plan.cfg)
            result = stage.objective(TrialContext(market=market, number=trial.number, cache=cache), tcfg)
            score = float(result.metrics["score"])
            study.tell(trial, score) if math.isfinite(score) else study.tell(trial, state=TrialState.FAIL)
        except TrialPrunedWithReason:
            study.tell(trial, state=TrialState.PRUNED)
        except Exception:  # noqa: BLE001 - a failing point is a FAIL trial, as in a study
            study.tell(trial, state=TrialState.FAIL)
    seconds = time.perf_counter() - t0
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return (max(float(t.value) for t in done if t.value is not None) if done else math.nan), seconds


def _history(n: int, seed: int) -> list[optuna.trial.FrozenTrial]:
    """``n`` finished trials at random points of the stage-1 space with a smooth synthetic score."""
    from opt.stages.space import suggest

    cfg = _config("random", seed, None)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=seed))
    for _ in range(n):
        trial = study.ask()
        params = suggest(trial, cfg.stage.space)
        value = -sum((float(v) - 0.5) ** 2 for v in params.values() if not isinstance(v, bool))
        study.tell(trial, value)
    return study.get_trials(deepcopy=False)


def ask_ms(sampler: str, history: list[optuna.trial.FrozenTrial], repeats: int = 5) -> float:
    """Median milliseconds of ``study.ask()`` + sampling the stage-1 space with ``history`` finished."""
    from opt.search.runner import make_sampler
    from opt.stages.space import suggest

    cfg = _config(sampler, 0, None)
    study = optuna.create_study(direction="maximize", sampler=make_sampler(cfg))
    study.add_trials(history)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        trial = study.ask()
        suggest(trial, cfg.stage.space)
        times.append((time.perf_counter() - t0) * 1000)
        study.tell(trial, state=TrialState.FAIL)  # FAIL trials are not modelled: the history stays n
    return statistics.median(times)


def bench_ask(samplers: tuple[str, ...] = (DEFAULT, "tpe@max_history=null", "tpe_independent"),
              sizes: tuple[int, ...] = (1000, 10000),
              repeats: int = 5) -> dict[str, float]:
    """``ask_ms_<sampler>_<n>``: ask() + sampling cost with n finished trials (see :func:`ask_ms`)."""
    out: dict[str, float] = {}
    for n in sizes:
        history = _history(n, seed=n)
        for name in samplers:
            key = f"ask_ms_{_key(name)}_{n}"
            out[key] = round(ask_ms(name, history, repeats), 1)
            print(f"# {key} = {out[key]}", flush=True)
    return out


def bench_quality(samplers: tuple[str, ...] = QUALITY_SAMPLERS, n_trials: int = 500, seeds: int = 3,
                  data_end: str | None = None, gp_trials: int | None = 100,
                  seed_values: list[int] | None = None) -> dict[str, float]:
    """``sampler_best_score_<name>_<n>`` (median of ``seeds``) and ``sampler_seconds_<name>_<n>`` (median).

    ``gp_trials`` adds GPSampler with that many trials (None: left out). ``seed_values`` runs those
    seeds instead of ``0 .. seeds - 1`` (one process per seed; combine the printed scores).
    """
    from opt.stages import prepare_market

    market = prepare_market(_config(DEFAULT, 0, data_end))
    out: dict[str, float] = {}
    runs = [(name, n_trials) for name in samplers] + ([("gp", gp_trials)] if gp_trials else [])
    for name, n in runs:
        scores, secs = [], []
        for seed in seed_values if seed_values is not None else range(seeds):
            score, s = search_quality(name, n_trials=n, seed=seed, data_end=data_end, market=market)
            scores.append(score)
            secs.append(s)
        out[f"sampler_best_score_{_key(name)}_{n}"] = round(statistics.median(scores), 5)
        out[f"sampler_seconds_{_key(name)}_{n}"] = round(statistics.median(secs), 1)
        print(f"# {name} {n} trials: best scores {scores} (seeds), seconds {secs}", flush=True)
    return out


def bench_samplers(n_trials: int = 500, seeds: int = 3, data_end: str | None = None,
                   gp_trials: int | None = 100) -> dict[str, float]:
    """All sampler keys for bench.json: quality (:func:`bench_quality`) and ask() cost (:func:`bench_ask`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        optuna.logging.set_verbosity(optuna.logging.ERROR)
        out = bench_ask()
        out.update(bench_quality(n_trials=n_trials, seeds=seeds, data_end=data_end, gp_trials=gp_trials))
    out["sampler_bench_load_1min"] = round(os.getloadavg()[0], 2)
    return out


def main() -> None:
    """Command line: print the bench.json keys as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=500)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--end", default=None, help="data.end: shorten the ES date range (e.g. 2025-10-15)")
    parser.add_argument("--gp-trials", type=int, default=100, help="GPSampler trials (0: left out)")
    parser.add_argument("--only", choices=("ask", "quality"), default=None)
    parser.add_argument("--seed", type=int, action="append", help="run only these seeds (repeatable)")
    parser.add_argument("--samplers", default=",".join(QUALITY_SAMPLERS), help="comma-separated sampler configs")
    args = parser.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        optuna.logging.set_verbosity(optuna.logging.ERROR)
        if args.only == "ask":
            out = bench_ask()
        elif args.only == "quality":
            out = bench_quality(tuple(args.samplers.split(",")) if args.samplers else (), n_trials=args.trials,
                                seeds=args.seeds, data_end=args.end, gp_trials=args.gp_trials or None,
                                seed_values=args.seed)
        else:
            out = bench_samplers(args.trials, args.seeds, args.end, args.gp_trials or None)
    out["sampler_bench_load_1min"] = round(os.getloadavg()[0], 2)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
