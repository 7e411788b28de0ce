"""Shared test helpers, imported as ``from tests.helpers.<module> import ...`` (pytest fixtures stay in conftest.py).

- :mod:`tests.helpers.config`: repository paths, the real ES file's path, opt's composed Hydra config.
- :mod:`tests.helpers.dataset`: the real ES bars, synthetic bars, the default dataset config.
- :mod:`tests.helpers.model_events`: tiny synthetic events with a learnable signal and small model configs.
- :mod:`tests.helpers.brackets_cases`: builders and comparisons for the bracket tests.
- :mod:`tests.helpers.brackets_reference`: the plain-Python reference bracket simulator.
- :mod:`tests.helpers.cli`: run the real CLI in a subprocess, read back its MLflow store.
- :mod:`tests.helpers.workers`: run and watch workers, read the Optuna and MLflow stores, check them.
- :mod:`tests.helpers.tiny_study`: a tiny real stage-1 + stage-2 study built once per session.
"""
