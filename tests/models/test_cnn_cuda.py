"""The CNN on CUDA with mixed precision (torch.autocast float16) agrees with the CPU (``cuda`` marker)."""

from __future__ import annotations

import numpy as np
import pytest

from opt.models import ModelData, make_model
from opt.models.cnn import CNNClassifier
from opt.models.gradcam import gradcam_maps

from tests.helpers.model_events import make_events, split, tiny_cnn_cfg

pytestmark = pytest.mark.cuda


@pytest.fixture(scope="module")
def events() -> tuple[ModelData, np.ndarray, ModelData, np.ndarray]:
    data, y = make_events(300, seed=11)
    return split(data, y, 200)


def test_cpu_fitted_net_predicts_the_same_on_cuda_with_autocast(
        events: tuple[ModelData, np.ndarray, ModelData, np.ndarray]) -> None:
    train, y_tr, test, _ = events
    model = make_model(tiny_cnn_cfg(device="cpu"), seed=0).fit(train, y_tr)
    assert isinstance(model, CNNClassifier) and model.net is not None
    cpu = model.predict_proba(test)
    model.net.to("cuda")
    model.device = "cuda"  # predict_proba now runs under torch.autocast(float16)
    gpu = model.predict_proba(test)
    np.testing.assert_allclose(gpu, cpu, atol=5e-3)  # float16 activations: ~1e-3 on probabilities
    assert np.mean(gpu.argmax(axis=1) == cpu.argmax(axis=1)) >= 0.98


def test_cuda_fit_with_mixed_precision_agrees_with_cpu_fit(
        events: tuple[ModelData, np.ndarray, ModelData, np.ndarray]) -> None:
    train, y_tr, test, y_te = events
    cpu = make_model(tiny_cnn_cfg(device="cpu"), seed=0).fit(train, y_tr, valid=test, y_valid=y_te)
    gpu = make_model(tiny_cnn_cfg(device="cuda"), seed=0).fit(train, y_tr, valid=test, y_valid=y_te)
    assert isinstance(gpu, CNNClassifier) and gpu.device == "cuda"
    assert gpu.net is not None and next(gpu.net.parameters()).device.type == "cuda"
    p_cpu, p_gpu = cpu.predict_proba(test), gpu.predict_proba(test)
    np.testing.assert_allclose(p_gpu.sum(axis=1), 1.0, atol=1e-6)
    # dropout and float16 rounding draw differently on the device: the two fits are close, not equal
    acc_cpu, acc_gpu = (p_cpu.argmax(axis=1) == y_te).mean(), (p_gpu.argmax(axis=1) == y_te).mean()
    assert acc_gpu > 0.6 and abs(acc_gpu - acc_cpu) <= 0.1
    assert np.mean(np.abs(p_gpu - p_cpu)) < 0.1
    maps = gradcam_maps(gpu, test, p_gpu, y_te, confidence=0.6)
    assert set(maps) == {"break", "bounce"}
    assert all(np.all(np.isfinite(m.attribution)) for m in maps.values())
