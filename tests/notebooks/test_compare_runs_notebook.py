"""notebooks/compare_runs.ipynb executes top to bottom against a tiny real run (so it cannot rot)."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.helpers.tiny_study import STUDY, tiny_study

pytestmark = pytest.mark.slow

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "compare_runs.ipynb"


def test_compare_runs_notebook_executes(tmp_path_factory: pytest.TempPathFactory,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    study = tiny_study(tmp_path_factory)
    monkeypatch.setenv("OPT_TRACKING_URI", f"sqlite:///{study / 'mlruns' / 'mlflow.db'}")
    monkeypatch.delenv("OPT_STUDY", raising=False)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert "parameters" in nb.cells[1].metadata.get("tags", [])
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(study)}}).execute()
    text = "\n".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
                     for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert f"study: {STUDY}" in text and "2 trials, " in text
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert images, "the equity curves are drawn"
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert os.environ["OPT_TRACKING_URI"].endswith("mlflow.db")
