"""The paper's comparison of surrogates (Fig. 3): the four models as estimator factories, and what its panels show.

:func:`paper_models` gives the fresh-estimator factories :func:`~qdlib.surrogates.cross_validate`
takes; :func:`fold_staged_errors`, :func:`held_out_predictions` and :func:`benchmark_fits` turn
its results (and the released models) into the numbers the figures of notebook 02 draw
(:mod:`qdlib.plotting.surrogates`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

from ..spectra import peak_wavelength
from .forest import RFSurrogate
from .neural import AESurrogate, DropoutSurrogate, NNSurrogate

__all__ = [
    "BENCHMARK_DOTS",
    "PAPER_MODELS",
    "benchmark_fits",
    "fold_staged_errors",
    "held_out_predictions",
    "paper_models",
]

#: The paper's four surrogates, in its order (:func:`paper_models` adds the ``"mean spectrum"`` baseline).
PAPER_MODELS = ("ML-NN", "ML-dropout", "ML-AE", "ML-RF")

#: The four benchmark dots of the design notebooks.
BENCHMARK_DOTS = ("Cd4Se4", "Cd5Te5", "Cd5Se1Te4", "Cd6Se6")


def paper_models(
    max_epochs: int = 8000,
    batch_size: int | None = None,
    optimizer: str = "sgd",
    learning_rate: float = 0.01,
    patience: int | None = None,
    record_every: int = 10,
    pretrain_epochs: int = 500,
    rf_trees: int = 100,
    rf_max_features: float = 1.0,
    seed: int = 0,
    device: str = "auto",
) -> dict[str, Callable[[int], object]]:
    """Fresh-estimator factories ``fold -> estimator`` of the paper's four surrogates and the baseline.

    Parameters
    ----------
    max_epochs : int
        Most training epochs of the neural surrogates (the authors: 8000 for absorption, 1000 for emission).
    batch_size : int, optional
        Mini-batch size; None for full batch (the authors').
    optimizer : {"sgd", "adam"}
    learning_rate : float
        Step size (the authors: SGD at 0.01).
    patience : int, optional
        Early-stopping patience in epochs on a validation split; None trains all epochs.
    record_every : int
        Epochs between points of the learning curves.
    pretrain_epochs : int
        Autoencoder pretraining epochs of ML-AE.
    rf_trees : int
        Trees of ML-RF.
    rf_max_features : float
        Share of the features tried per split in ML-RF.
    seed : int
        Seed of fold ``k``'s estimators: ``seed + k``.
    device : str
        Torch device of the neural surrogates (``"auto"``, ``"cpu"``, ``"cuda"``).

    Returns
    -------
    dict of str to callable
        ``"ML-NN"``, ``"ML-dropout"``, ``"ML-AE"``, ``"ML-RF"`` (:data:`PAPER_MODELS`) and
        ``"mean spectrum"``, the baseline that knows nothing of the structure: the training
        rows' mean spectrum (scikit-learn's ``DummyRegressor``).

    Examples
    --------
    >>> models = paper_models(max_epochs=30, optimizer="adam", learning_rate=1e-3, rf_trees=30, seed=0)
    >>> list(models)
    ['ML-NN', 'ML-dropout', 'ML-AE', 'ML-RF', 'mean spectrum']
    >>> dropout = models["ML-dropout"](2)  # fold 2's estimator
    >>> type(dropout).__name__, dropout.max_epochs, dropout.optimizer, dropout.random_state
    ('DropoutSurrogate', 30, 'adam', 2)
    >>> models["ML-RF"](1).get_params()["n_estimators"], models["mean spectrum"](0).strategy
    (30, 'mean')
    """
    from sklearn.dummy import DummyRegressor

    neural = {
        "max_epochs": max_epochs,
        "batch_size": batch_size,
        "optimizer": optimizer,
        "learning_rate": learning_rate,
        "patience": patience,
        "record_every": record_every,
        "device": device,
    }
    return {
        "ML-NN": lambda k: NNSurrogate(**neural, random_state=seed + k),
        "ML-dropout": lambda k: DropoutSurrogate(**neural, random_state=seed + k),
        "ML-AE": lambda k: AESurrogate(**neural, pretrain_epochs=pretrain_epochs, random_state=seed + k),
        "ML-RF": lambda k: RFSurrogate(n_estimators=rf_trees, max_features=rf_max_features, random_state=seed + k),
        "mean spectrum": lambda k: DummyRegressor(strategy="mean"),
    }


def fold_staged_errors(fold: dict, X: ArrayLike, Y: ArrayLike, max_trees: int, n_points: int = 8) -> dict[str, list]:
    """Test error of a cross-validated forest against its number of trees (Fig. 3 ④).

    Parameters
    ----------
    fold : dict
        One fold of :func:`~qdlib.surrogates.cross_validate` with a fitted
        :class:`~qdlib.surrogates.RFSurrogate` (``estimator``, ``test_index``).
    X, Y : array_like
        The rows cross-validated: Coulomb matrices and spectra (L mol⁻¹ cm⁻¹).
    max_trees : int
        Trees of the forest.
    n_points : int
        Forest sizes from 1 to ``max_trees``, evenly spaced (duplicates dropped).

    Returns
    -------
    dict
        :meth:`~qdlib.surrogates.RFSurrogate.staged_errors` on the fold's test rows: ``n_trees``,
        ``rmse``, ``mae`` (L mol⁻¹ cm⁻¹).

    Examples
    --------
    >>> import numpy as np
    >>> X, Y = np.eye(6), np.arange(12.0).reshape(6, 2)
    >>> forest = RFSurrogate(n_estimators=5, random_state=0).fit(X[:4], Y[:4])
    >>> fold_staged_errors({"estimator": forest, "test_index": np.array([4, 5])}, X, Y, 5, n_points=3)["n_trees"]
    [1, 3, 5]
    """
    X, Y = np.asarray(X), np.asarray(Y)
    test = fold["test_index"]
    return fold["estimator"].staged_errors(X[test], Y[test], np.unique(np.linspace(1, max_trees, n_points).astype(int)))


def held_out_predictions(folds: Sequence[dict], dataset, n_examples: int = 3) -> dict:
    """Every held-out row's prediction over the folds, their peaks, and a few held-out spectra (Fig. 3 ⑤ ⑥).

    Parameters
    ----------
    folds : sequence of dict
        :func:`~qdlib.surrogates.cross_validate` results of one model (``test_index``, ``prediction``).
    dataset : PaperDataset
        The rows cross-validated (:func:`qdlib.datasets.fetch_paper_dataset`: ``Y``, ``row_group``,
        ``wavelength_nm``, ``structures``).
    n_examples : int
        Held-out structures whose spectra are returned: the first ones met, one row each.

    Returns
    -------
    dict
        ``index`` (rows, in fold order) and ``prediction`` (L mol⁻¹ cm⁻¹); ``true_peak_nm``,
        ``predicted_peak_nm`` and their mean absolute difference ``peak_mae_nm``; and, for the
        examples, ``wavelength_nm``, ``true`` and ``predicted`` spectra (n_examples, n_bins) and
        ``labels`` (their compositions).

    Examples
    --------
    Two folds over three rows of two structures (a spectrum of two bins):

    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> from ase import Atoms
    >>> structures = [Atoms("CdSe", info={"composition": c}) for c in ("Cd1Se1Te0", "Cd2Se2Te0")]
    >>> ds = SimpleNamespace(Y=np.array([[1.0, 3.0], [2.0, 1.0], [3.0, 1.0]]), row_group=np.array([0, 1, 1]),
    ...                      wavelength_nm=np.array([400.0, 500.0]), structures=structures)
    >>> folds = [{"test_index": np.array([1, 2]), "prediction": np.array([[1.0, 2.0], [2.0, 1.0]])},
    ...          {"test_index": np.array([0]), "prediction": np.array([[2.0, 1.0]])}]
    >>> out = held_out_predictions(folds, ds)
    >>> out["true_peak_nm"], out["predicted_peak_nm"], out["peak_mae_nm"]
    (array([400., 400., 500.]), array([500., 400., 400.]), 66.66666666666667)
    >>> out["labels"], out["true"].tolist()
    (['Cd2Se2Te0', 'Cd1Se1Te0'], [[2.0, 1.0], [1.0, 3.0]])
    """
    grid = dataset.wavelength_nm
    idx = np.concatenate([f["test_index"] for f in folds])
    pred = np.concatenate([f["prediction"] for f in folds])
    true_peak = peak_wavelength(dataset.Y[idx], grid)
    pred_peak = peak_wavelength(pred, grid)
    first = {}
    for k, r in enumerate(idx):  # one row per held-out structure
        first.setdefault(dataset.row_group[r], k)
    examples = list(first.values())[:n_examples]
    return {
        "index": idx,
        "prediction": pred,
        "true_peak_nm": true_peak,
        "predicted_peak_nm": pred_peak,
        "peak_mae_nm": float(np.mean(np.abs(pred_peak - true_peak))),
        "wavelength_nm": grid,
        "true": dataset.Y[idx[examples]],
        "predicted": pred[examples],
        "labels": [dataset.structures[dataset.row_group[idx[k]]].info["composition"] for k in examples],
    }


def benchmark_fits(dataset, models: Mapping[str, object], dots: Sequence[str] = BENCHMARK_DOTS) -> dict[str, dict]:
    """The TD-DFT spectrum of each benchmark dot in ``dataset`` beside the models' predictions of it.

    Parameters
    ----------
    dataset : PaperDataset
        :func:`qdlib.datasets.fetch_paper_dataset` (``structure``, ``X``, ``row_group``, ``spectra``).
    models : mapping of str to fitted surrogate
    dots : sequence of str
        Compositions; those not in ``dataset`` are skipped (not every benchmark dot is in both sets).

    Returns
    -------
    dict
        Per dot present, in ``dots`` order: ``{"tddft": spectrum, <model>: predicted spectrum, …}``
        (L mol⁻¹ cm⁻¹), each model predicting from the dot's first row.

    Examples
    --------
    >>> from qdlib.datasets import fetch_paper_dataset
    >>> ds = fetch_paper_dataset("emission")
    >>> forest = RFSurrogate(n_estimators=2, random_state=0).fit(ds.X[:40], ds.Y[:40])
    >>> fits = benchmark_fits(ds, {"ML-RF": forest})
    >>> list(fits) == [dot for dot in BENCHMARK_DOTS if dot in fits], sorted(fits["Cd6Se6"])
    (True, ['ML-RF', 'tddft'])
    """
    present = {}
    for dot in dots:
        try:
            present[dot] = dataset.structure(dot).info["group"]
        except KeyError:  # not every benchmark dot is in both sets
            pass
    fits = {}
    for dot, g in present.items():
        x = dataset.X[dataset.row_group == g][:1]
        fits[dot] = {"tddft": dataset.spectra[g]} | {name: model.predict(x)[0] for name, model in models.items()}
    return fits
