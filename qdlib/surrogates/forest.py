"""ML-RF: scikit-learn's random forest behind the surrogates' interface, saved as a skops file."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from ..spectra import mae, rmse
from .base import _Saveable, _scale

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
    >>> from qdlib.surrogates import load_surrogate
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
