"""What every surrogate shares: the device, the fitted scales, and saving without pickled code."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from sklearn.utils.validation import check_is_fitted


def resolve_device(device: str = "auto") -> str:
    """``"auto"`` → ``"cuda"`` when PyTorch sees a GPU, else ``"cpu"``.

    >>> resolve_device("cpu"), resolve_device("auto") in ("cpu", "cuda")
    ('cpu', True)
    """
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _occupied_columns(used, n_features: int):
    """``used`` (indices of the columns nonzero somewhere in a batch) if skipping the rest pays, else ``None``."""
    return used if len(used) < 0.75 * n_features else None


def _scale(values: NDArray[np.float64]) -> float:
    m = float(np.max(np.abs(values)))
    return m if m > 0 else 1.0


class _Saveable:
    """Save and load without pickled code: ``<path>.json`` (class, hyperparameters, fitted scales)
    beside the learned state in a data-only format (``<path>.pt`` state dict, ``<path>.skops``)."""

    state_suffix: str
    """Extension of the learned-state file."""

    def save(self, path: str | Path) -> None:
        """Write ``<path>.json`` and the learned state next to it; load with :func:`load_surrogate`."""
        check_is_fitted(self)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "class": type(self).__name__,
            "params": self.get_params(),
            "x_scale": self.x_scale_,
            "y_scale": self.y_scale_,
            "n_features_in": self.n_features_in_,
            "n_outputs": self.n_outputs_,
            **self._meta_extra(),
        }
        path.with_suffix(".json").write_text(json.dumps(meta, indent=1))
        self._save_state(path)

    @classmethod
    def _restore(cls, meta: dict, **overrides):
        """An estimator with the saved hyperparameters and fitted scales (no learned state yet)."""
        est = cls(**{**meta["params"], **overrides})
        est.x_scale_, est.y_scale_ = meta["x_scale"], meta["y_scale"]
        est.n_features_in_, est.n_outputs_ = meta["n_features_in"], meta["n_outputs"]
        return est
