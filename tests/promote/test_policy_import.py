"""The registered policy loads without the study machinery: no optuna, no opt.search, no opt.stages."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

FORBIDDEN = ("optuna", "opt.search", "opt.stages", "opt.studies")


@pytest.mark.parametrize("module", ["opt.promote.policy", "opt.promote.pyfunc", "opt.backtest"])
def test_policy_modules_import_no_study_machinery(module: str) -> None:
    code = (f"import importlib, json, sys; importlib.import_module({module!r}); "
            "print(json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    loaded = json.loads(out.stdout)
    offending = [m for m in loaded if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]
    assert not offending, f"importing {module} loaded {offending[:10]}"
