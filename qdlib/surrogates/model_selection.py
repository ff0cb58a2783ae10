"""K-fold evaluation of surrogates: by rows (the paper's protocol) or by structure groups."""

from __future__ import annotations

import time

import numpy as np
from numpy.typing import ArrayLike

from ..spectra import mae, peak_wavelength, rmse
from .neural import _TorchSurrogate


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
    >>> from qdlib.surrogates import RFSurrogate
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

    from ..features import augment_permutations

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
