"""The registered champion is servable (issue #9 point 4): ``mlflow models serve`` answers bars -> signals, the
model carries opt's code (``code_paths``) and PyPI requirements, and ``params={"tz": ...}`` reads naive timestamps.

The slow tests promote the tiny study (``promote.force=true``: its DSR gate is not computable), start the real
scoring server on 127.0.0.1 and load the model in a process where the only ``opt`` is the model's copy.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import opt
from opt.errors import ConfigError, DataError
from opt.models import make_model
from opt.promote import SIGNAL_COLUMNS, SignalPolicy
from opt.promote.pyfunc import SignalModel, _requirements, code_path, signature

from tests.helpers.model_events import make_events, tiny_cnn_cfg, tiny_xgb_cfg
from tests.helpers.tiny_study import STUDY, config, tiny_study

MODEL = f"opt-MES-{STUDY}"
ZONE = "America/Chicago"
#: seconds the server may take to answer /ping (it loads the model first), and one request (numba compiles
#: opt's kernels for the model's copy of the code on the first one)
START_TIMEOUT_S = 180
REQUEST_TIMEOUT_S = 300
_NUMERIC = ("bar", "level_price", "direction", "probability", "entry", "stop", "take_profit", "risk_points",
            "max_hold_bars")
_TEXT = ("level_type", "level_name", "side", "call", "entry_type")


# ---------------------------------------------------------------------------------------------- fast


def test_requirements_resolve_from_pypi_and_name_torch_only_for_a_cnn() -> None:
    data, y = make_events(120, seed=3)
    cfg: dict[str, Any] = {"data": {"tz": None}}
    xgb = _requirements(SignalPolicy(cfg=cfg, model=make_model(tiny_xgb_cfg(n_estimators=5), seed=0).fit(data, y)))
    cnn = _requirements(SignalPolicy(cfg=cfg, model=make_model(tiny_cnn_cfg(epochs=1), seed=0).fit(data, y)))
    names = [r.split("==")[0] for r in xgb]
    assert names == ["mlflow", "cloudpickle", "numpy", "pandas", "pyarrow", "scipy", "scikit-learn", "xgboost",
                     "numba", "omegaconf"]
    assert [r.split("==")[0] for r in cnn] == [*names, "torch"]
    for req in cnn:  # pinned to the installed versions, without local labels such as +cpu (not on PyPI)
        name, _, version = req.partition("==")
        assert version and "+" not in version, req
    assert not any(r.startswith("opt") for r in cnn)  # opt travels as code_paths, it is not on PyPI


def test_the_code_path_is_the_opt_package_and_needs_nothing_outside_it(tmp_path: Path) -> None:
    """A copy of ``code_path()`` (as MLflow copies it: no __pycache__) imports the policy with the checkout
    off sys.path, and no module of it is read from elsewhere (no conf/, no repository file)."""
    import shutil

    assert Path(code_path()) == Path(opt.__file__).resolve().parent
    shutil.copytree(code_path(), tmp_path / "code" / "opt", ignore=shutil.ignore_patterns("__pycache__"))
    script = _without_checkout(f"""
sys.path.insert(0, {str(tmp_path / 'code')!r})
import opt.promote.pyfunc
files = sorted({{m.__file__ for n, m in sys.modules.items() if (n == "opt" or n.startswith("opt.")) and
                 getattr(m, "__file__", None)}})
print(json.dumps(files))
""")
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300, env=_env())
    assert result.returncode == 0, result.stderr[-3000:]
    files = json.loads(result.stdout.strip().splitlines()[-1])
    assert files and all(f.startswith(str(tmp_path / "code" / "opt")) for f in files), files[:5]


class _Recorder:
    """Stands in for a SignalPolicy: records the zone it is given."""

    cfg: dict[str, Any] = {"data": {"tz": None}}

    def __init__(self) -> None:
        self.tz: list[str | None] = []

    def signals(self, bars: pd.DataFrame, tz: str | None = None) -> pd.DataFrame:
        self.tz.append(tz)
        return pd.DataFrame(columns=list(SIGNAL_COLUMNS))


def test_predict_passes_the_tz_param_and_checks_it() -> None:
    rec = _Recorder()
    model = SignalModel(rec)  # duck-typed policy
    bars = pd.DataFrame({"timestamp": ["2025-06-02 08:30:00"], "open": [1.0], "high": [1.0], "low": [1.0],
                         "close": [1.0], "volume": [1]})
    model.predict(None, bars, params={"tz": ZONE})
    model.predict(None, bars, params={"tz": None})
    model.predict(None, bars)
    assert rec.tz == [ZONE, None, None]
    with pytest.raises(ConfigError, match=r"predict params \{'tz': 'Mars/Olympus'\}: not a known IANA time zone"):
        model.predict(None, bars, params={"tz": "Mars/Olympus"})


def test_naive_timestamps_without_a_zone_say_to_pass_the_tz_param() -> None:
    model = SignalModel(SignalPolicy(cfg={"data": {"tz": None}}, model=None))  # validate_bars refuses first
    bars = pd.DataFrame({"timestamp": ["2025-06-02 08:30:00"], "open": [1.0], "high": [1.0], "low": [1.0],
                         "close": [1.0], "volume": [1]})
    with pytest.raises(DataError, match=r"no source timezone.*params=\{'tz': 'America/Chicago'\}.*\"params\""):
        model.predict(None, bars)


def test_the_signature_declares_the_tz_param_with_the_policy_zone_as_default() -> None:
    params = signature(ZONE).params
    assert params is not None
    assert params.to_dict() == [{"name": "tz", "type": "string", "default": ZONE, "shape": None}]
    none = signature().params
    assert none is not None and none.params[0].default is None


# ---------------------------------------------------------------------------------------------- slow


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_study(tmp_path_factory)


@pytest.fixture(scope="module")
def champion(study: Path) -> Path:
    """A fresh forced promotion of the tiny study (so the model is this code's): the local model folder."""
    from opt.promote.command import promote_command

    with contextlib.chdir(study):
        # the live replay of the test part is checked elsewhere (tests/promote/test_replay.py, test_promote_es.py)
        assert promote_command(config("promote.force=true", "promote.replay.enabled=false")) == 0
    client = _client(study)
    version = client.get_model_version_by_alias(MODEL, "champion")
    uri = client.get_model_version_download_uri(MODEL, version.version)
    assert uri.startswith("file://"), uri
    return Path(uri.removeprefix("file://"))


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    """Ten synthetic days (tz-aware UTC timestamps), as the fresh-process test of test_promote_cli reads (the
    first events.warmup_bars = 6,900 bars, five days, give no signal)."""
    from opt.data import generate_synthetic_bars

    return generate_synthetic_bars(seed=1, first_day="2025-06-02", n_days=10, start_price=6000.0, annual_vol=0.2,
                                   tick_size=0.25)


@pytest.fixture(scope="module")
def expected(champion: Path, bars: pd.DataFrame) -> pd.DataFrame:
    """The champion's signals, in this process."""
    import mlflow

    out = mlflow.pyfunc.load_model(str(champion)).predict(bars)
    assert list(out.columns) == list(SIGNAL_COLUMNS) and len(out) > 0
    return out


@pytest.mark.slow
def test_the_model_carries_opt_without_caches_and_declares_the_tz_param(champion: Path) -> None:
    import yaml

    code = champion / "code" / "opt"
    assert (code / "__init__.py").is_file() and (code / "promote" / "policy.py").is_file()
    assert not list(code.rglob("__pycache__")), "MLflow copies code_paths without __pycache__ (numba caches)"
    requirements = (champion / "requirements.txt").read_text().split()
    assert not any(r.startswith("opt") for r in requirements) and "xgboost" in str(requirements)
    flavor = yaml.safe_load((champion / "MLmodel").read_text())
    assert flavor["flavors"]["python_function"]["code"] == "code"
    assert json.loads(flavor["signature"]["params"]) == [{"name": "tz", "default": None, "shape": None,
                                                          "type": "string"}]


@pytest.mark.slow
def test_mlflow_models_serve_answers_bars_with_signals(study: Path, champion: Path, bars: pd.DataFrame,
                                                       expected: pd.DataFrame, tmp_path: Path) -> None:
    """``mlflow models serve -m models:/<name>@champion --env-manager local`` on 127.0.0.1, a real subprocess."""
    with _server(study, tmp_path / "serve.log") as url:
        local = bars["timestamp"].dt.tz_convert(ZONE)
        aware = bars.assign(timestamp=local.map(pd.Timestamp.isoformat))  # "2025-06-01T17:00:00-05:00"
        status, body = _post(url, aware)
        assert status == 200, body
        _assert_same_signals(pd.DataFrame(body["predictions"]), expected)
        # naive local times, their zone as a param
        naive = bars.assign(timestamp=local.dt.tz_localize(None).map(pd.Timestamp.isoformat))
        status, body = _post(url, naive, params={"tz": ZONE})
        assert status == 200, body
        _assert_same_signals(pd.DataFrame(body["predictions"]), expected)
        # naive without the param: refused, and the message says which param to set
        status, body = _post(url, naive)
        assert status == 400
        assert "no source timezone" in body["stack_trace"] and '"params": {"tz": ' in body["stack_trace"]
        # the server ran the model's copy of opt (code_paths), not the checkout
        assert f"{os.sep}code{os.sep}opt{os.sep}promote{os.sep}pyfunc.py" in body["stack_trace"]
        assert code_path() not in body["stack_trace"]


@pytest.mark.slow
def test_the_champion_loads_and_predicts_where_the_only_opt_is_the_models_copy(
        study: Path, champion: Path, bars: pd.DataFrame, expected: pd.DataFrame, tmp_path: Path) -> None:
    """A fresh interpreter with the checkout's ``src`` (the editable install's path) taken off ``sys.path``
    before anything imports opt: like a virtual environment with MLflow and the model's requirements only.
    (site-packages/opt here holds just the wheel's conf/ folder, a namespace portion without code.) Every
    ``opt`` module it runs is then read from the downloaded model's ``code/`` folder."""
    bars.to_parquet(tmp_path / "bars.parquet")
    script = _without_checkout(f"""
import importlib.util
spec = importlib.util.find_spec("opt")
assert spec is None or spec.origin in (None, "namespace"), spec  # no importable opt code before the model
import mlflow, pandas as pd
mlflow.set_tracking_uri({_uri(study)!r})
model = mlflow.pyfunc.load_model("models:/{MODEL}@champion")
out = model.predict(pd.read_parquet("bars.parquet"))
files = sorted({{m.__file__ for n, m in sys.modules.items() if (n == "opt" or n.startswith("opt.")) and
                 getattr(m, "__file__", None)}})
print(json.dumps({{"files": files, "signals": out.to_json(orient="split", date_format="iso", double_precision=15)}}))
""")
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300, env=_env(MLFLOW_TRACKING_URI=_uri(study)))
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    files = report["files"]
    assert files and len({_code_root(f) for f in files}) == 1, files[:5]  # all from one model's code/ folder
    assert not any(f.startswith(code_path()) for f in files)
    got = pd.read_json(io.StringIO(report["signals"]), orient="split", convert_dates=False)
    _assert_same_signals(got, expected)


# ---------------------------------------------------------------------------------------------- helpers


def _uri(study: Path) -> str:
    return f"sqlite:///{study / 'mlruns' / 'mlflow.db'}"


def _client(study: Path):  # noqa: ANN202
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=_uri(study), registry_uri=_uri(study))


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MLFLOW_TRACKING_URI")}
    return {**env, "MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONUNBUFFERED": "1", **extra}


def _without_checkout(body: str) -> str:
    """A ``python -c`` script that first takes the checkout's src (the editable opt) off ``sys.path``."""
    src = str(Path(code_path()).parent)
    return ("import json, os, sys\n"
            f"sys.path[:] = [p for p in sys.path if os.path.realpath(p or '.') != {src!r}]\n"
            "assert 'opt' not in sys.modules\n" + body)


def _code_root(file: str) -> Path:
    """The ``code`` folder above an ``opt`` module file of a model."""
    path = Path(file)
    for parent in path.parents:
        if parent.name == "code" and (parent / "opt" / "__init__.py").is_file():
            return parent
    raise AssertionError(f"{file} is not in a model's code/ folder")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _server(study: Path, log: Path) -> Iterator[str]:
    """Run ``mlflow models serve`` (its own process group, ended in any case); yield its URL once /ping answers."""
    port = _free_port()
    bindir = str(Path(sys.executable).parent)  # `uvicorn` (the server MLflow execs) of this interpreter
    env = _env(MLFLOW_TRACKING_URI=_uri(study), PATH=bindir + os.pathsep + os.environ.get("PATH", ""))
    cmd = [sys.executable, "-m", "mlflow", "models", "serve", "-m", f"models:/{MODEL}@champion",
           "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=study, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while not _pings(url):
                assert proc.poll() is None, f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}"
                assert time.monotonic() < deadline, f"no answer on {url}/ping:\n{log.read_text()[-3000:]}"
                time.sleep(0.5)
            yield url
        finally:
            _stop(proc)


def _pings(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/ping", timeout=5) as r:
            return bool(r.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group (the CLI and the uvicorn it execs), SIGKILL it if it lingers."""
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue


def _post(url: str, bars: pd.DataFrame, params: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    """POST ``bars`` as a JSON ``dataframe_split`` (plus ``params``) to /invocations: (status, JSON body)."""
    body: dict[str, Any] = {"dataframe_split": json.loads(bars.to_json(orient="split", index=False))}
    if params is not None:
        body["params"] = params
    request = urllib.request.Request(f"{url}/invocations", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as r:
            return int(r.status), json.loads(r.read())
    except urllib.error.HTTPError as e:
        return int(e.code), json.loads(e.read())


def _assert_same_signals(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(got.columns) == list(SIGNAL_COLUMNS) and len(got) == len(expected)
    for col in ("timestamp", "expiry"):
        np.testing.assert_array_equal(pd.to_datetime(got[col], utc=True).astype("datetime64[ns, UTC]").to_numpy(),
                                      expected[col].astype("datetime64[ns, UTC]").to_numpy(), err_msg=col)
    for col in _NUMERIC:
        np.testing.assert_allclose(got[col].to_numpy(np.float64), expected[col].to_numpy(np.float64),
                                   rtol=1e-12, err_msg=col)
    for col in _TEXT:
        assert got[col].astype(str).tolist() == expected[col].astype(str).tolist(), col
