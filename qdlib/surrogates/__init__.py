"""Surrogate models: Coulomb matrix (900 features) → spectrum (500 bins).

Four estimators with the scikit-learn API, as compared in the paper (Fig. 3):

:class:`NNSurrogate`
    ML-NN, the authors' MLP 900→700→600→500 with ReLU.
:class:`DropoutSurrogate`
    ML-dropout, the same with dropout 0.3 after each hidden layer.
:class:`AESurrogate`
    ML-AE, an encoder 900→700→600 first trained as an autoencoder of the
    Coulomb matrices, then fine-tuned with a 600→500 regression head.
:class:`RFSurrogate`
    ML-RF, scikit-learn's random forest.

All scale inputs and labels by a fitted constant (the largest training
value; the authors divided by 1000 or 100), keep a per-epoch training
history (RMSE and MAE in label units, on the training data and on an
optional evaluation set) and predict in batches. Neural surrogates save as a
PyTorch state dict plus a JSON file of hyperparameters and fitted scales.

A small network fitted for a few epochs to eight of the authors' rows (notebook 02 fits and
compares the paper's models on all of them):

>>> from qdlib.datasets import fetch_paper_dataset
>>> ds = fetch_paper_dataset("absorption")
>>> X, Y = ds.X[:8], ds.Y[:8]
>>> nn = NNSurrogate(hidden=(32,), optimizer="adam", learning_rate=1e-3, max_epochs=50, random_state=0).fit(X, Y)
>>> nn.predict(X[:3]).shape
(3, 500)
>>> nn.history_["train_rmse"][-1] < nn.history_["train_rmse"][0]
True
"""

from __future__ import annotations

from .base import resolve_device
from .comparison import (
    BENCHMARK_DOTS,
    PAPER_MODELS,
    benchmark_fits,
    fold_staged_errors,
    held_out_predictions,
    paper_models,
)
from .forest import RFSurrogate
from .model_selection import cross_validate
from .neural import AESurrogate, DropoutSurrogate, NNSurrogate
from .persistence import DESIGN_MODEL, load_released, load_surrogate, release_surrogate, released_name

__all__ = [
    "BENCHMARK_DOTS",
    "DESIGN_MODEL",
    "PAPER_MODELS",
    "AESurrogate",
    "DropoutSurrogate",
    "NNSurrogate",
    "RFSurrogate",
    "benchmark_fits",
    "cross_validate",
    "fold_staged_errors",
    "held_out_predictions",
    "load_released",
    "load_surrogate",
    "paper_models",
    "release_surrogate",
    "released_name",
    "resolve_device",
]
