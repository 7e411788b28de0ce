"""Search orchestration: run any stage (:mod:`opt.stages`) as a resumable, exact-target Optuna study.

- :mod:`opt.search.runner`: ``python -m opt run``; the study, sampler and pruner from config, the parent run.
- :mod:`opt.search.loop`: the ask-and-tell trial loop of one process (exact target across processes).
- :mod:`opt.search.trial`: one trial: claim, sample, objective, its MLflow run.
- :mod:`opt.search.workers`, :mod:`opt.search.recovery`, :mod:`opt.search.signals`: K worker processes,
  recovery after kills, graceful stops.
"""
