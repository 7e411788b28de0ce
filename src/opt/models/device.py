"""Where a model trains: ``model.device`` = ``auto`` | ``cpu`` | ``cuda``."""

from __future__ import annotations

from opt.errors import ConfigError

__all__ = ["DEVICES", "cuda_available", "resolve_device"]

DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")


def cuda_available() -> bool:
    """Whether torch sees a CUDA device (``False`` when torch is not importable)."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency, but keep XGBoost usable without it
        return False
    return bool(torch.cuda.is_available())


def resolve_device(requested: str) -> str:
    """Turn ``model.device`` into the device to use.

    Args:
        requested: ``auto`` (``cuda`` when a CUDA device is visible, else ``cpu``), ``cpu`` or ``cuda``.

    Returns:
        ``"cpu"`` or ``"cuda"``.

    Raises:
        ConfigError: if ``requested`` is not one of :data:`DEVICES`, or is ``cuda`` with no CUDA device
            visible (names ``model.device``).
    """
    if requested not in DEVICES:
        raise ConfigError(f"model.device must be one of {list(DEVICES)}; got {requested!r}")
    if requested == "cpu":
        return "cpu"
    available = cuda_available()
    if requested == "cuda" and not available:
        raise ConfigError("model.device=cuda but no CUDA device is visible; use model.device=auto or cpu")
    return "cuda" if available else "cpu"
