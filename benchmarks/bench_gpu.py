"""``make bench-gpu``: one default-config CNN trial on CUDA with mixed precision against the same trial on CPU.

Usage: ``python -m benchmarks.bench_gpu [--events 5000] [--repeats 1] [--out bench_gpu.json]``. Events are
random bars of the real ES sample (``../shared/data/ES_1min.csv``) with random labels, as in
:mod:`benchmarks.bench_models`: the numbers measure cost, not skill. Each device runs
``conf/model/cnn.yaml`` with early stopping disabled (patience = epochs, so every epoch runs): fit on
80% of the events with the other 20% as validation, then predict those. On CUDA the CNN trains and
predicts under ``torch.autocast`` (float16 with a gradient scaler, :mod:`opt.models.cnn`); on CPU in
float32 with ``model.num_threads`` threads. Also timed: the Grad-CAM of 2 x 3 confident calls
(:func:`opt.models.gradcam.gradcam_maps`), what a CNN fold adds to a stage-2 trial.

Figures (seconds, best of ``--repeats``): ``<device>_trial_s`` (fit + predict), ``<device>_epoch_s`` (fit
time / epochs run), ``<device>_predict_s``, ``<device>_gradcam_s`` and ``speedup_trial`` = cpu / cuda.
Without a CUDA device it prints ``no CUDA device: skipped`` and exits 0.

Raises:
    SystemExit: the ES sample is missing (with a device to measure on).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import OmegaConf

from benchmarks.bench_models import CONF_MODEL, ES_CSV, _events, _load_ohlcv
from opt.models import ModelData, make_model
from opt.models.device import cuda_available
from opt.models.gradcam import gradcam_maps


def _time_device(device: str, data: ModelData, y: np.ndarray, repeats: int) -> dict[str, float]:
    """Best-of-``repeats`` fit, predict and Grad-CAM seconds of the default CNN on ``device``."""
    import torch

    cfg = OmegaConf.load(CONF_MODEL / "cnn.yaml")
    cfg.device = device
    cfg.early_stopping_patience = cfg.epochs
    cut = int(0.8 * len(data))
    train, valid = data.subset(slice(0, cut)), data.subset(slice(cut, None))
    best: dict[str, float] = {}
    for r in range(repeats):
        model: Any = make_model(cfg, seed=r)
        sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
        start = time.perf_counter()
        model.fit(train, y[:cut], valid=valid, y_valid=y[cut:])
        sync()
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        proba = model.predict_proba(valid)
        sync()
        predict_s = time.perf_counter() - start
        gradcam_maps(model, valid, proba, y[cut:], confidence=0.4)  # warm-up: captum import, kernels
        start = time.perf_counter()
        gradcam_maps(model, valid, proba, y[cut:], confidence=0.4)
        sync()
        gradcam_s = time.perf_counter() - start
        figures = {"trial_s": fit_s + predict_s, "epoch_s": fit_s / max(1, len(model.history)),
                   "predict_s": predict_s, "gradcam_s": gradcam_s}
        best = {k: min(v, best.get(k, float("inf"))) for k, v in figures.items()}
    return {f"{device}_{k}": round(v, 4) for k, v in best.items()}


def bench_gpu(n_events: int = 5000, repeats: int = 1) -> dict[str, Any]:
    """CUDA (mixed precision) and CPU figures of one default CNN trial (module docstring); ``{}`` without CUDA.

    Raises:
        SystemExit: the ES sample is missing.
    """
    if not cuda_available():
        return {}
    if not ES_CSV.is_file():
        raise SystemExit(f"bench-gpu: ES sample not found at {ES_CSV}")
    import torch

    data, y = _events(_load_ohlcv(), n_events, seed=0)
    out: dict[str, Any] = {"device_name": torch.cuda.get_device_name(0), "n_events": n_events}
    _time_device("cuda", data.subset(slice(0, 200)), y[:200], 1)  # warm-up: CUDA context, cuDNN autotune
    out.update(_time_device("cuda", data, y, repeats))
    out.update(_time_device("cpu", data, y, repeats))
    out["speedup_trial"] = round(out["cpu_trial_s"] / out["cuda_trial_s"], 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000, help="random ES events (80%% fit, 20%% validation)")
    parser.add_argument("--repeats", type=int, default=1, help="best of this many runs per device")
    parser.add_argument("--out", default="bench_gpu.json", help="where to write the figures")
    args = parser.parse_args()
    figures = bench_gpu(args.events, args.repeats)
    if not figures:
        print("bench-gpu: no CUDA device: skipped")
        return
    for k, v in figures.items():
        print(f"  {k:<20} {v}")
    Path(args.out).write_text(json.dumps(figures, indent=1))
    print(f"bench-gpu: wrote {args.out}")


if __name__ == "__main__":
    main()
