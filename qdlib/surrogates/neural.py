"""The neural surrogates (ML-NN, ML-dropout, ML-AE): PyTorch networks behind the scikit-learn API."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from ..spectra import mae, rmse
from .base import _occupied_columns, _Saveable, _scale, resolve_device

log = logging.getLogger(__name__)


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
    >>> from qdlib.surrogates import load_surrogate
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
        from ..networks import mlp

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
        from ..networks import mlp

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
