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

import json
import logging
import time
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from .spectra import mae, peak_wavelength, rmse

__all__ = [
    "NNSurrogate",
    "DropoutSurrogate",
    "AESurrogate",
    "RFSurrogate",
    "load_surrogate",
    "load_released",
    "released_name",
    "DESIGN_MODEL",
    "resolve_device",
    "cross_validate",
]

log = logging.getLogger(__name__)


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


class _TorchSurrogate(_Saveable, RegressorMixin, BaseEstimator):
    """Shared machinery of the neural surrogates (not used directly)."""

    state_suffix = ".pt"

    def _build(self, n_in: int, n_out: int):
        raise NotImplementedError

    def _pretrain(self, model, X_t, torch) -> None:
        """Hook run before the regression fit (the autoencoder's pretraining)."""

    def fit(self, X: ArrayLike, y: ArrayLike, eval_set: tuple[ArrayLike, ArrayLike] | None = None):
        """Train on ``(X, y)``; ``eval_set=(X_test, y_test)`` is only scored each epoch (history).

        Early stopping (``patience``) watches a validation split carved from
        the training data (``validation_fraction``), never ``eval_set``.
        """
        import torch

        X = np.asarray(X, dtype=np.float32)
        y = np.asarray(y, dtype=np.float32)
        if X.ndim != 2 or y.ndim != 2 or len(X) != len(y):
            raise ValueError(f"X and y must be 2-D with equal rows, got {X.shape} and {y.shape}")
        rng = np.random.default_rng(self.random_state)
        # The initial weights, dropout masks and batch order draw from torch's default generator
        # (nn.Dropout takes no generator of its own): seeded here inside fork_rng, so that the
        # caller's global random state is the same after the fit as before it.
        with torch.random.fork_rng():
            torch.manual_seed(int(rng.integers(2**31)))
            return self._fit(X, y, eval_set, rng)

    def _fit(self, X, y, eval_set, rng):
        import torch

        self.device_ = resolve_device(self.device)
        self.x_scale_ = _scale(X)
        self.y_scale_ = _scale(y)
        self.n_features_in_ = X.shape[1]
        self.n_outputs_ = y.shape[1]

        idx = rng.permutation(len(X))
        n_val = int(round(self.validation_fraction * len(X))) if self.patience else 0
        val, train = idx[:n_val], idx[n_val:]
        to_t = lambda a: torch.as_tensor(a, device=self.device_)  # noqa: E731
        Xt, yt = to_t(X[train] / self.x_scale_), to_t(y[train] / self.y_scale_)
        Xv, yv = (to_t(X[val] / self.x_scale_), to_t(y[val] / self.y_scale_)) if n_val else (None, None)

        model = self._build(X.shape[1], y.shape[1]).to(self.device_)
        self._pretrain(model, Xt, torch)
        opt = (
            torch.optim.SGD(model.parameters(), lr=self.learning_rate)
            if self.optimizer == "sgd"
            else torch.optim.Adam(model.parameters(), lr=self.learning_rate)
        )
        loss_fn = torch.nn.MSELoss()
        history = {k: [] for k in ("train_rmse", "train_mae", "test_rmse", "test_mae", "val_loss")}
        best, best_state, waited = np.inf, None, 0
        batch = self.batch_size or len(Xt)
        t0 = time.perf_counter()
        for epoch in range(self.max_epochs):
            model.train()
            order = torch.randperm(len(Xt), device=self.device_)
            for start in range(0, len(Xt), batch):
                b = order[start : start + batch]
                opt.zero_grad()
                loss = loss_fn(model(Xt[b]), yt[b])
                loss.backward()
                opt.step()
            model.eval()
            self.model_ = model
            if self.record_every and (epoch % self.record_every == 0 or epoch == self.max_epochs - 1):
                for tag, pair in (("train", (X[train], y[train])), ("test", eval_set)):
                    if pair is None:
                        continue
                    xa, ya = pair
                    pred = self.predict(xa)
                    history[f"{tag}_rmse"].append(rmse(pred, ya, axis=None))
                    history[f"{tag}_mae"].append(mae(pred, ya, axis=None))
                history.setdefault("epoch", []).append(epoch)
            if Xv is not None:
                with torch.no_grad():
                    v = float(loss_fn(model(Xv), yv))
                history["val_loss"].append(v)
                if v < best * (1.0 - 1e-4):  # a relative improvement of at least 0.01 %
                    best, waited = v, 0
                    best_state = {k: t.detach().clone() for k, t in model.state_dict().items()}
                else:
                    waited += 1
                    if waited >= self.patience:
                        log.info("%s: early stop at epoch %d", type(self).__name__, epoch)
                        break
        if best_state is not None:
            model.load_state_dict(best_state)
        model.eval()
        self.model_ = model
        self.history_ = {k: v for k, v in history.items() if v}
        self.n_epochs_ = epoch + 1
        self.fit_time_s_ = time.perf_counter() - t0
        return self

    def predict(self, X: ArrayLike, batch_size: int = 65536, precision: str = "float32") -> NDArray[np.float64]:
        """Spectra of ``X`` (rows of Coulomb matrices), label units, computed in batches.

        Parameters
        ----------
        X : array_like, shape (n_rows, n_features_in_)
        batch_size : int
            Rows per forward pass.
        precision : {"float32", "bfloat16"}
            ``"bfloat16"`` runs the matrix products in bfloat16 (autocast; fast on CPUs with
            AMX/AVX-512 BF16 and on GPUs); an approximation, about 3 significant digits.
        """
        import torch

        check_is_fitted(self, "model_")
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"expected X with {self.n_features_in_} columns, got shape {X.shape}")
        if precision not in ("float32", "bfloat16"):
            raise ValueError(f"precision must be 'float32' or 'bfloat16', got {precision!r}")
        device_type = torch.device(self.device_).type
        out = np.empty((len(X), self.n_outputs_), dtype=np.float64)
        with torch.inference_mode(), torch.autocast(device_type, dtype=torch.bfloat16, enabled=precision == "bfloat16"):
            for s in range(0, len(X), batch_size):
                xb = X[s : s + batch_size]
                used = _occupied_columns(np.flatnonzero(xb.any(axis=0)), X.shape[1])
                if used is not None:  # convert and multiply only the occupied columns
                    xb, used = np.take(xb, used, axis=1), torch.as_tensor(used, device=self.device_)
                xt = torch.as_tensor(np.ascontiguousarray(xb, dtype=np.float32), device=self.device_)
                # one pass from the network's dtype and device into the float64 result
                torch.from_numpy(out[s : s + batch_size]).copy_(self._forward(xt, used))
        return out

    def predict_torch(self, X, columns=None):
        """Spectra of a torch tensor of Coulomb matrices (label units), differentiable, on the model's device.

        Input columns that are zero in every row of the batch (the padding
        slots when the batch holds dots of one size) are skipped in the first
        layer: they contribute nothing, and a 12-atom dot fills 144 of 900.
        A caller that knows them (a design task moves atoms of one dot) passes
        ``X`` with only those ``columns`` (a tensor of feature indices).
        """
        if columns is not None:
            return self._forward(X, columns)
        used = _occupied_columns((X != 0).any(dim=0).nonzero().squeeze(1), X.shape[1])
        return self._forward(X if used is None else X[:, used], used)

    def _forward(self, X, columns):
        """Network output in label units for inputs ``X`` holding only ``columns`` of the features (all if None).

        The input and label scales are folded into the first and last layers' weights (small
        matrices) instead of passing over the batch twice more.
        """
        from torch.nn.functional import linear

        first, last = self.model_[0], self.model_[-1]
        w = first.weight if columns is None else first.weight[:, columns]
        h = self.model_[1:-1](linear(X, w / self.x_scale_, first.bias))
        return linear(h, last.weight * self.y_scale_, last.bias * self.y_scale_)

    # ------------------------------------------------------------------ persistence

    def _meta_extra(self) -> dict:
        return {"n_epochs": self.n_epochs_, "history": self.history_}

    def _save_state(self, path: Path) -> None:
        import torch

        torch.save({k: v.detach().cpu() for k, v in self.model_.state_dict().items()}, path.with_suffix(self.state_suffix))

    @classmethod
    def _from_meta(cls, meta: dict, path: Path, device: str):
        import torch

        est = cls._restore(meta, device=device)
        est.device_ = resolve_device(device)
        est.n_epochs_, est.history_ = meta["n_epochs"], meta["history"]
        model = est._build(est.n_features_in_, est.n_outputs_)
        model.load_state_dict(torch.load(path.with_suffix(cls.state_suffix), map_location=est.device_, weights_only=True))
        est.model_ = model.to(est.device_).eval()
        return est


class NNSurrogate(_TorchSurrogate):
    """ML-NN: fully connected ReLU network, the authors' 900→700→600→500.

    Parameters
    ----------
    hidden : tuple of int
        Hidden layer widths.
    dropout : float
        Dropout probability after each hidden layer (0: none).
    learning_rate : float
        Step size (the authors: SGD, 0.01).
    optimizer : {"sgd", "adam"}
    max_epochs : int
        Training epochs (the authors: 8000 absorption, 1000 emission, full batch).
    batch_size : int or None
        Mini-batch size; ``None`` is full batch, as the authors trained.
    validation_fraction : float
        Share of the training rows held out for early stopping.
    patience : int or None
        Epochs without a 0.01 % improvement of the validation loss before stopping (the best
        weights are kept); ``None`` trains all epochs.
    record_every : int
        Record train/eval RMSE and MAE every this many epochs (0: never).
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    random_state : int or None

    Examples
    --------
    A one-hidden-layer network on eight of the authors' rows, scored on four held-out rows
    every 10 epochs (``eval_set``), saved and loaded back:

    >>> from qdlib.datasets import fetch_paper_dataset
    >>> ds = fetch_paper_dataset("absorption")
    >>> X, Y = ds.X[:8], ds.Y[:8]  # two structures, four permutation twins each
    >>> nn = NNSurrogate(hidden=(32,), optimizer="adam", learning_rate=1e-3, max_epochs=50, device="cpu",
    ...                  random_state=0).fit(X, Y, eval_set=(ds.X[8:12], ds.Y[8:12]))
    >>> nn.n_epochs_, len(nn.history_["test_rmse"]), nn.predict(ds.X[8:12]).shape
    (50, 6, (4, 500))
    >>> nn.save("models/tiny")
    >>> bool((load_surrogate("models/tiny", device="cpu").predict(X) == nn.predict(X)).all())
    True
    """

    def __init__(
        self,
        hidden=(700, 600),
        dropout: float = 0.0,
        learning_rate: float = 0.01,
        optimizer: str = "sgd",
        max_epochs: int = 8000,
        batch_size: int | None = None,
        validation_fraction: float = 0.1,
        patience: int | None = None,
        record_every: int = 10,
        device: str = "auto",
        random_state: int | None = None,
    ):
        self.hidden = hidden
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.record_every = record_every
        self.device = device
        self.random_state = random_state

    def _build(self, n_in, n_out):
        from .networks import mlp

        return mlp([n_in, *self.hidden, n_out], self.dropout)


class DropoutSurrogate(NNSurrogate):
    """ML-dropout: :class:`NNSurrogate` with dropout 0.3 (the authors' absorption model).

    >>> model = DropoutSurrogate(hidden=(32,), max_epochs=1, random_state=0)
    >>> model.fit([[1.0, 0.0], [0.0, 1.0]], [[1.0], [2.0]]).model_
    Sequential(
      (0): Linear(in_features=2, out_features=32, bias=True)
      (1): ReLU()
      (2): Dropout(p=0.3, inplace=False)
      (3): Linear(in_features=32, out_features=1, bias=True)
    )
    """

    def __init__(self, hidden=(700, 600), dropout: float = 0.3, learning_rate: float = 0.01, optimizer: str = "sgd",
                 max_epochs: int = 8000, batch_size: int | None = None, validation_fraction: float = 0.1,
                 patience: int | None = None, record_every: int = 10, device: str = "auto",
                 random_state: int | None = None):  # fmt: skip
        super().__init__(hidden, dropout, learning_rate, optimizer, max_epochs, batch_size, validation_fraction,
                         patience, record_every, device, random_state)  # fmt: skip


class AESurrogate(NNSurrogate):
    """ML-AE: encoder pretrained as an autoencoder of the inputs, then fine-tuned with a head.

    Extra parameters
    ----------------
    pretrain_epochs : int
        Autoencoder epochs (reconstruction MSE of the scaled Coulomb matrices).
    pretrain_learning_rate : float
        Adam step size of the pretraining.

    Examples
    --------
    Five autoencoder epochs (the reconstruction error falls), then five of regression:

    >>> from qdlib.datasets import fetch_paper_dataset
    >>> ds = fetch_paper_dataset("absorption")
    >>> X, Y = ds.X[:8], ds.Y[:8]  # two structures, four permutation twins each
    >>> ae = AESurrogate(hidden=(32,), max_epochs=5, pretrain_epochs=5, random_state=0).fit(X, Y)
    >>> len(ae.pretrain_history_), ae.pretrain_history_[-1] < ae.pretrain_history_[0], ae.predict(X).shape
    (5, True, (8, 500))
    """

    def __init__(self, hidden=(700, 600), dropout: float = 0.0, learning_rate: float = 0.01, optimizer: str = "sgd",
                 max_epochs: int = 8000, batch_size: int | None = None, validation_fraction: float = 0.1,
                 patience: int | None = None, record_every: int = 10, device: str = "auto",
                 random_state: int | None = None, pretrain_epochs: int = 500,
                 pretrain_learning_rate: float = 1e-3):  # fmt: skip
        super().__init__(hidden, dropout, learning_rate, optimizer, max_epochs, batch_size, validation_fraction,
                         patience, record_every, device, random_state)  # fmt: skip
        self.pretrain_epochs = pretrain_epochs
        self.pretrain_learning_rate = pretrain_learning_rate

    def _pretrain(self, model, X_t, torch) -> None:
        encoder = model[:-1]  # every layer but the regression head
        sizes = [X_t.shape[1], *self.hidden]
        from .networks import mlp

        decoder = mlp(list(reversed(sizes))).to(X_t.device)
        params = list(encoder.parameters()) + list(decoder.parameters())
        opt = torch.optim.Adam(params, lr=self.pretrain_learning_rate)
        loss_fn = torch.nn.MSELoss()
        self.pretrain_history_ = []
        for _ in range(self.pretrain_epochs):
            opt.zero_grad()
            loss = loss_fn(decoder(encoder(X_t)), X_t)
            loss.backward()
            opt.step()
            self.pretrain_history_.append(float(loss.detach()))


#: The only type a forest's skops file needs beyond what skops trusts by default.
_FOREST_TYPES = {"sklearn.tree._tree.Tree"}


class RFSurrogate(_Saveable, RegressorMixin, BaseEstimator):
    """ML-RF: scikit-learn random forest on scaled inputs and labels.

    Parameters
    ----------
    n_estimators : int
    max_features : float, int, str or None
        Features considered per split (scikit-learn semantics).
    min_samples_leaf : int
    n_jobs : int or None
    random_state : int or None

    Examples
    --------
    Ten trees on eight of the authors' rows, the errors on four other rows of the first tree
    and of all ten (L mol⁻¹ cm⁻¹), then saved (skops) and loaded back:

    >>> from qdlib.datasets import fetch_paper_dataset
    >>> ds = fetch_paper_dataset("absorption")
    >>> X, Y = ds.X[:8], ds.Y[:8]  # two structures, four permutation twins each
    >>> rf = RFSurrogate(n_estimators=10, random_state=0).fit(X, Y)
    >>> errors = rf.staged_errors(ds.X[8:12], ds.Y[8:12], n_trees=[1, 10])
    >>> errors["n_trees"], [round(e) for e in errors["rmse"]]
    ([1, 10], [1933, 1766])
    >>> rf.save("models/rf")
    >>> bool((load_surrogate("models/rf").predict(X) == rf.predict(X)).all())
    True
    """

    def __init__(self, n_estimators: int = 100, max_features=1.0, min_samples_leaf: int = 1,
                 n_jobs: int | None = None, random_state: int | None = None):  # fmt: skip
        self.n_estimators = n_estimators
        self.max_features = max_features
        self.min_samples_leaf = min_samples_leaf
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, X: ArrayLike, y: ArrayLike):
        from sklearn.ensemble import RandomForestRegressor

        X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
        t0 = time.perf_counter()
        self.x_scale_, self.y_scale_ = _scale(X), _scale(y)
        self.n_features_in_, self.n_outputs_ = X.shape[1], y.shape[1]
        self.forest_ = RandomForestRegressor(
            n_estimators=self.n_estimators,
            max_features=self.max_features,
            min_samples_leaf=self.min_samples_leaf,
            n_jobs=self.n_jobs,
            random_state=self.random_state,
        ).fit(X / self.x_scale_, y / self.y_scale_)
        self.fit_time_s_ = time.perf_counter() - t0
        return self

    def predict(self, X: ArrayLike) -> NDArray[np.float64]:
        check_is_fitted(self, "forest_")
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"expected X with {self.n_features_in_} columns, got shape {X.shape}")
        return self.forest_.predict(X / self.x_scale_) * self.y_scale_

    state_suffix = ".skops"

    def _meta_extra(self) -> dict:
        return {}

    def _save_state(self, path: Path) -> None:
        import skops.io as sio

        sio.dump(self.forest_, path.with_suffix(self.state_suffix))

    @classmethod
    def _from_meta(cls, meta: dict, path: Path, device: str = "cpu"):
        import skops.io as sio

        file = path.with_suffix(cls.state_suffix)
        untrusted = sio.get_untrusted_types(file=file)
        foreign = sorted(set(untrusted) - _FOREST_TYPES)
        if foreign:
            raise ValueError(f"{file}: refusing to load types other than scikit-learn trees: {foreign}")
        from sklearn.ensemble import RandomForestRegressor

        forest = sio.load(file, trusted=untrusted)
        if not isinstance(forest, RandomForestRegressor):
            raise ValueError(f"{file}: holds a {type(forest).__name__}, not a random forest")
        est = cls._restore(meta)
        est.forest_ = forest
        return est

    def staged_errors(self, X: ArrayLike, y: ArrayLike, n_trees: ArrayLike) -> dict[str, list[float]]:
        """RMSE and MAE of the forest truncated to its first ``n`` trees, for each ``n`` (Fig. 3 ②)."""
        check_is_fitted(self, "forest_")
        Xs = np.asarray(X, dtype=float) / self.x_scale_
        per_tree = np.stack([t.predict(Xs) for t in self.forest_.estimators_]) * self.y_scale_
        csum = np.cumsum(per_tree, axis=0)
        out = {"n_trees": [], "rmse": [], "mae": []}
        for n in n_trees:
            pred = csum[int(n) - 1] / int(n)
            out["n_trees"].append(int(n))
            out["rmse"].append(rmse(pred, y, axis=None))
            out["mae"].append(mae(pred, y, axis=None))
        return out


_CLASSES = {c.__name__: c for c in (NNSurrogate, DropoutSurrogate, AESurrogate, RFSurrogate)}


def load_surrogate(path: str | Path, device: str = "auto"):
    """Load a surrogate written by ``save(path)``; no pickled code is read.

    Neural surrogates come back on ``device``; forests from a skops file
    that may hold nothing but scikit-learn trees and NumPy arrays.

    >>> model = RFSurrogate(n_estimators=2, random_state=0).fit([[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [2.0, 1.0]])
    >>> model.save("models/rf")
    >>> load_surrogate("models/rf")
    RFSurrogate(n_estimators=2, random_state=0)
    >>> load_surrogate("models/none")
    Traceback (most recent call last):
        ...
    FileNotFoundError: no surrogate at models/none (none.json is missing)
    """
    path = Path(path)
    meta_file = path.with_suffix(".json")
    if not meta_file.exists():
        raise FileNotFoundError(f"no surrogate at {path} ({meta_file.name} is missing)")
    meta = json.loads(meta_file.read_text())
    try:
        cls = _CLASSES[meta["class"]]
    except KeyError:
        raise ValueError(f"{meta_file}: unknown surrogate class {meta.get('class')!r}") from None
    return cls._from_meta(meta, path, device)


#: Name of the released design-region surrogates (:mod:`qdlib.forward`): the designers' forward model.
DESIGN_MODEL = "ML-NN-design"


def released_name(kind: str, model: str = "ML-NN") -> str:
    """Stem of a released surrogate under ``data/``, e.g. ``models/absorption_ml-nn``.

    >>> released_name("emission", "ML-RF")
    'models/emission_ml-rf'
    """
    return f"models/{kind}_{model.lower()}"


def load_released(kind: str, model: str = "ML-NN", device: str = "auto"):
    """A surrogate trained by notebook 02's paper profile on all of the authors' data, hash-checked.

    Parameters
    ----------
    kind : {"absorption", "emission"}
    model : {"ML-NN", "ML-dropout", "ML-AE", "ML-RF", "ML-NN-design"}
    device : str

    Examples
    --------
    >>> model = load_released("absorption", device="cpu")
    >>> type(model).__name__, model.n_features_in_, model.n_outputs_
    ('NNSurrogate', 900, 500)
    """
    from .paths import data_dir
    from .release import verified_path

    stem = released_name(kind, model)
    meta = json.loads(verified_path(stem + ".json").read_text())
    verified_path(stem + _CLASSES[meta["class"]].state_suffix)
    return load_surrogate(data_dir() / stem, device=device)


def cross_validate(
    make_estimator,
    X: ArrayLike,
    Y: ArrayLike,
    groups: ArrayLike,
    grid_nm: ArrayLike,
    protocol: str = "group",
    n_splits: int = 5,
    random_state: int = 0,
    record_test: bool = False,
    augment: int = 0,
) -> list[dict]:
    """K-fold evaluation of a surrogate, by rows (the paper's protocol) or by structure groups.

    Parameters
    ----------
    make_estimator : callable
        ``make_estimator(fold) -> estimator`` (a fresh, unfitted surrogate).
    X, Y : array_like
        Coulomb matrices (n_rows, 900) and spectra (n_rows, 500).
    groups : array_like of int, shape (n_rows,)
        Structure id of each row (permutation twins share one).
    grid_nm : array_like, shape (500,)
        Wavelength grid for peak positions, nm.
    protocol : {"group", "row"}
        ``"group"``: no structure in both train and test (leak-free);
        ``"row"``: shuffled rows as in the paper (twins leak across the split).
    n_splits : int
        Folds (5: an 80:20 split each time).
    random_state : int
        Seed of the row shuffle (``"row"``) and of the group assignment (``"group"``).
    record_test : bool
        Give neural surrogates the test fold as ``eval_set``, so their
        history holds test-error curves (scored only, never trained on).
    augment : int
        Within-element renumbered copies added per training row
        (:func:`qdlib.features.augment_permutations`, the authors' trick);
        inside the training fold only, never to the test fold.

    Returns
    -------
    list of dict
        Per fold: ``rmse``, ``mae`` (label units), ``peak_mae_nm``, ``peak_max_nm``,
        ``fit_time_s``, ``predict_time_s``, ``n_train``, ``n_test``, the fitted
        ``estimator`` and the ``test_index``.

    Examples
    --------
    Five forests of five trees on the authors' first 24 rows (five structures, 4–8
    permutation twins each), three folds: split by structure no test structure is trained
    on; split by row, twins of test rows are:

    >>> from qdlib.datasets import fetch_paper_dataset
    >>> from qdlib.spectra import wavelength_grid
    >>> ds = fetch_paper_dataset("absorption")
    >>> X, Y, groups = ds.X[:24], ds.Y[:24], ds.row_group[:24]
    >>> def forest(fold):
    ...     return RFSurrogate(n_estimators=5, random_state=fold)
    >>> [f["shared_groups"] for f in cross_validate(forest, X, Y, groups, wavelength_grid(), "group", n_splits=3)]
    [0, 0, 0]
    >>> [f["shared_groups"] for f in cross_validate(forest, X, Y, groups, wavelength_grid(), "row", n_splits=3)]
    [4, 4, 5]
    """
    from sklearn.model_selection import GroupKFold, KFold

    from .features import augment_permutations

    X, Y, groups = np.asarray(X), np.asarray(Y), np.asarray(groups)
    if protocol == "group":
        # GroupKFold is deterministic; shuffle group labels for a seeded assignment
        relabel = np.random.default_rng(random_state).permutation(groups.max() + 1)
        splits = GroupKFold(n_splits=n_splits).split(X, Y, relabel[groups])
    elif protocol == "row":
        splits = KFold(n_splits=n_splits, shuffle=True, random_state=random_state).split(X)
    else:
        raise ValueError(f"protocol must be 'group' or 'row', got {protocol!r}")
    folds = []
    for k, (train, test) in enumerate(splits):
        est = make_estimator(k)
        X_train, Y_train, _ = augment_permutations(X[train], Y[train], augment, random_state + k)
        t0 = time.perf_counter()
        if record_test and isinstance(est, _TorchSurrogate):
            est.fit(X_train, Y_train, eval_set=(X[test], Y[test]))
        else:
            est.fit(X_train, Y_train)
        t1 = time.perf_counter()
        pred = est.predict(X[test])
        t2 = time.perf_counter()
        dpeak = np.abs(peak_wavelength(pred, grid_nm) - peak_wavelength(Y[test], grid_nm))
        folds.append(
            {
                "fold": k,
                "rmse": rmse(pred, Y[test], axis=None),
                "mae": mae(pred, Y[test], axis=None),
                "peak_mae_nm": float(np.mean(dpeak)),
                "peak_max_nm": float(np.max(dpeak)),
                "fit_time_s": t1 - t0,
                "predict_time_s": t2 - t1,
                "n_train": int(len(X_train)),
                "n_test": int(len(test)),
                "shared_groups": int(len(np.intersect1d(groups[train], groups[test]))),
                "estimator": est,
                "test_index": test,
                "prediction": pred,
            }
        )
    return folds
