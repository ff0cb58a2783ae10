"""Notebook 02's panels: descriptors, learning curves, forest sizes, parity and cross-validation errors.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from .core import _axes

__all__ = ["plot_coulomb_matrix", "plot_cv_errors", "plot_learning_curves", "plot_peak_parity", "plot_rf_trees"]


def plot_coulomb_matrix(matrix: ArrayLike, ax=None, title: str | None = None):
    """The Coulomb matrix as an image (paper Fig. 2a), logarithmic colour scale.

    >>> from ase import Atoms
    >>> from qdlib.features import CoulombMatrix
    >>> matrix = CoulombMatrix(n_max=4).matrix(Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]]))
    >>> ax = plot_coulomb_matrix(matrix, title="CdSe")
    >>> ax.images[0].get_array().shape, len(ax.figure.axes)  # the image and its colour bar
    ((4, 4), 2)
    """
    from matplotlib.colors import LogNorm

    ax = _axes(ax)
    m = np.asarray(matrix, dtype=float)
    img = ax.imshow(np.where(m > 0, m, np.nan), norm=LogNorm(), cmap="viridis")
    ax.figure.colorbar(img, ax=ax, label="$C_{ij}$")
    ax.set_xlabel("atom j")
    ax.set_ylabel("atom i")
    if title:
        ax.set_title(title)
    return ax


def plot_learning_curves(histories: dict, metric: str = "rmse", ax=None):
    """Train (dashed) and test (solid) error against epoch per model (paper Fig. 3 ①).

    ``histories``: per model, a surrogate's ``history_`` fitted with an ``eval_set``
    (:class:`qdlib.surrogates.NNSurrogate`).

    >>> history = {"epoch": [0, 10, 20], "train_rmse": [3000, 2000, 1000], "test_rmse": [3100, 2500, 2000]}
    >>> ax = plot_learning_curves({"ML-NN": history})
    >>> len(ax.lines), ax.get_yscale()
    (2, 'log')
    """
    ax = _axes(ax)
    for k, (name, h) in enumerate(histories.items()):
        ax.plot(h["epoch"], h[f"train_{metric}"], ls="--", color=f"C{k}", lw=1)
        ax.plot(h["epoch"], h[f"test_{metric}"], color=f"C{k}", label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{metric.upper()} " + r"(L mol$^{-1}$ cm$^{-1}$)")
    ax.set_yscale("log")
    ax.legend(fontsize=8, title="solid: test, dashed: train", title_fontsize=7)
    return ax


def plot_rf_trees(staged: dict, ax=None):
    """Random-forest test RMSE and MAE against the number of trees (paper Fig. 3 ②).

    ``staged``: :meth:`qdlib.surrogates.RFSurrogate.staged_errors`.

    >>> ax = plot_rf_trees({"n_trees": [1, 10], "rmse": [1933, 1766], "mae": [724, 773]})
    >>> [line.get_label() for line in ax.lines]
    ['RMSE', 'MAE']
    """
    ax = _axes(ax)
    ax.plot(staged["n_trees"], staged["rmse"], "o-", label="RMSE")
    ax.plot(staged["n_trees"], staged["mae"], "s-", label="MAE")
    ax.set_xlabel("number of trees")
    ax.set_ylabel(r"error (L mol$^{-1}$ cm$^{-1}$)")
    ax.legend(fontsize=8)
    return ax


def plot_peak_parity(true_nm: ArrayLike, predicted_nm: ArrayLike, ax=None, label: str | None = None):
    """Predicted against TD-DFT peak wavelength, with the diagonal (paper Fig. 3 ③).

    >>> ax = plot_peak_parity([400.0, 420.0, 450.0], [402.0, 418.0, 455.0])
    >>> ax.lines[0].get_xdata()  # the diagonal spans all peaks
    array([400., 455.])
    """
    ax = _axes(ax)
    t, p = np.asarray(true_nm), np.asarray(predicted_nm)
    ax.scatter(t, p, s=12, alpha=0.7, label=label)
    lo, hi = float(min(t.min(), p.min())), float(max(t.max(), p.max()))
    ax.plot([lo, hi], [lo, hi], "k--", lw=1)
    ax.set_xlabel("TD-DFT peak (nm)")
    ax.set_ylabel("predicted peak (nm)")
    return ax


def plot_cv_errors(folds: dict, metric: str = "rmse", ax=None, protocols: Sequence[str] = ("row", "group")):
    """Cross-validated error of each model under each split protocol, with its spread over folds.

    Parameters
    ----------
    folds : dict
        ``folds[model][protocol]``: the per-fold results of
        :func:`qdlib.surrogates.cross_validate` (dicts with ``metric``).
    metric : str
        ``"rmse"`` or ``"mae"`` (label units), or ``"peak_mae_nm"``.
    protocols : sequence of str
        Bars side by side per model (mean over folds; whiskers: fold minimum to maximum; dots: the folds).

    Examples
    --------
    >>> folds = {"ML-RF": {"row": [{"rmse": 500.0}, {"rmse": 700.0}], "group": [{"rmse": 1500.0}, {"rmse": 2100.0}]}}
    >>> ax = plot_cv_errors(folds)
    >>> [float(bar.get_height()) for bar in ax.patches], [t.get_text() for t in ax.get_legend().get_texts()]
    ([600.0, 1800.0], ['row split', 'group split'])
    """
    ax = _axes(ax)
    models = list(folds)
    width = 0.8 / len(protocols)
    for j, protocol in enumerate(protocols):
        x = np.arange(len(models)) + (j - (len(protocols) - 1) / 2) * width
        values = [np.array([f[metric] for f in folds[m][protocol]]) for m in models]
        means = np.array([v.mean() for v in values])
        lo = means - np.array([v.min() for v in values])
        hi = np.array([v.max() for v in values]) - means
        ax.bar(x, means, width * 0.9, color=f"C{j}", alpha=0.75, label=f"{protocol} split", yerr=[lo, hi], capsize=3,
               error_kw={"lw": 1})  # fmt: skip
        for xi, v in zip(x, values):
            ax.scatter(np.full(v.size, xi), v, s=8, color="k", zorder=3)
    ax.set_xticks(np.arange(len(models)), models, rotation=20, ha="right")
    ax.set_ylabel({"rmse": "RMSE (L mol⁻¹ cm⁻¹)", "mae": "MAE (L mol⁻¹ cm⁻¹)"}.get(metric, metric))
    ax.legend(fontsize=8)
    return ax


