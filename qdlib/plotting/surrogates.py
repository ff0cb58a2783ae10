"""Notebook 02's panels: descriptors, learning curves, forest sizes, parity, cross-validation errors and fits.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from .core import _axes, plot_spectrum

__all__ = ["plot_coulomb_matrix", "plot_cv_errors", "plot_fig3", "plot_held_out_spectra", "plot_learning_curves",
           "plot_peak_parity", "plot_released_fits", "plot_rf_trees"]  # fmt: skip


def _xlim_nm(kind: str) -> tuple[float, float]:
    """The wavelength range notebook 02 shows spectra of ``kind`` in, nm."""
    return (250, 700) if kind == "absorption" else (300, 2500)


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


def plot_held_out_spectra(grid_nm: ArrayLike, true: Sequence[ArrayLike], predicted: Sequence[ArrayLike],
                          labels: Sequence[str], ax=None):  # fmt: skip
    """TD-DFT (solid, pale) against predicted (dashed) spectra of a few held-out structures (paper Fig. 3 ⑥).

    Parameters
    ----------
    grid_nm : array_like, shape (n_bins,)
        Wavelengths, nm.
    true, predicted : sequence of array_like, shape (n_bins,)
        Per structure, its TD-DFT and predicted spectrum, L mol⁻¹ cm⁻¹.
    labels : sequence of str
        Per structure, the legend entry (on the prediction).

    Examples
    --------
    >>> grid = [390.0, 400.0, 410.0]
    >>> ax = plot_held_out_spectra(grid, [[1.0, 3.0, 1.0]], [[1.0, 2.0, 2.0]], ["Cd6Se6Te0"])
    >>> [(line.get_linestyle(), line.get_label()) for line in ax.lines]
    [('-', '_child0'), ('--', 'Cd6Se6Te0')]
    """
    ax = _axes(ax)
    for j, (t, p, label) in enumerate(zip(true, predicted, labels)):
        plot_spectrum(grid_nm, t, ax=ax, color=f"C{j}", lw=2.5, alpha=0.45)
        plot_spectrum(grid_nm, p, ax=ax, color=f"C{j}", ls="--", label=label)
    return ax


def plot_fig3(folds: dict, histories: dict, staged: dict, held_out: dict, kind: str, axes=None, letter: str = "a"):
    """One spectrum kind's two rows of paper Fig. 3: errors, learning curves, forest size, peak parity, profiles.

    Top row: ① RMSE and ② MAE of every model under both split protocols (:func:`plot_cv_errors`),
    ③ train/test RMSE of the neural models (:func:`plot_learning_curves`); bottom row: ④ forest
    test error against its trees (:func:`plot_rf_trees`), ⑤ predicted against TD-DFT peak of every
    held-out structure (:func:`plot_peak_parity`), ⑥ TD-DFT against predicted spectra of three of
    them (:func:`plot_held_out_spectra`).

    Parameters
    ----------
    folds : dict
        ``folds[model][protocol]``: per-fold results of :func:`qdlib.surrogates.cross_validate`
        (the number of folds is read from them).
    histories : dict
        Per neural model, the ``history_`` of its first group-split fold.
    staged : dict
        :func:`qdlib.surrogates.fold_staged_errors` of the forest's first group-split fold.
    held_out : dict
        :func:`qdlib.surrogates.held_out_predictions` of ML-NN under the group split.
    kind : {"absorption", "emission"}
    axes : array of matplotlib axes, shape (2, 3), optional
    letter : str
        The kind's panel letter in the titles.

    Returns
    -------
    array of matplotlib axes, shape (2, 3)

    Examples
    --------
    >>> import numpy as np
    >>> folds = {m: {p: [{"rmse": 1.0, "mae": 0.5}] * 2 for p in ("row", "group")} for m in ("ML-NN", "ML-RF")}
    >>> history = {"epoch": [0, 10], "train_rmse": [3.0, 2.0], "test_rmse": [3.5, 2.5]}
    >>> staged = {"n_trees": [1, 10], "rmse": [2.0, 1.5], "mae": [1.0, 0.8]}
    >>> grid = np.array([300.0, 400.0, 500.0])
    >>> held_out = {"true_peak_nm": np.array([400.0, 500.0]), "predicted_peak_nm": np.array([400.0, 300.0]),
    ...             "peak_mae_nm": 100.0, "wavelength_nm": grid, "true": np.eye(3)[1:], "predicted": np.eye(3)[:2],
    ...             "labels": ["Cd4Se4Te0", "Cd6Se6Te0"]}
    >>> axes = plot_fig3(folds, {"ML-NN": history}, staged, held_out, "absorption")
    >>> [ax.get_title() for ax in axes[:, 0]]
    ['(a) absorption: ① RMSE, 2 folds', '④ ML-RF test error vs trees']
    >>> axes[1, 1].get_title()
    '⑤ ML-NN peaks, held out (MAE 100 nm)'
    """
    if axes is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(2, 3, figsize=(16, 8.6))
    top, bottom = axes
    n_folds = len(next(iter(folds.values()))["row"])
    for ax, metric, mark in ((top[0], "rmse", "①"), (top[1], "mae", "②")):
        plot_cv_errors(folds, metric, ax=ax)
        ax.set_title(f"({letter}) {kind}: {mark} {metric.upper()}, {n_folds} folds")
    plot_learning_curves(histories, "rmse", ax=top[2])
    top[2].set_title("③ learning curves (group split, fold 0)")
    plot_rf_trees(staged, ax=bottom[0])
    bottom[0].set_title("④ ML-RF test error vs trees")
    plot_peak_parity(held_out["true_peak_nm"], held_out["predicted_peak_nm"], ax=bottom[1])
    bottom[1].set_title(f"⑤ ML-NN peaks, held out (MAE {held_out['peak_mae_nm']:.0f} nm)")
    plot_held_out_spectra(held_out["wavelength_nm"], held_out["true"], held_out["predicted"], held_out["labels"],
                          ax=bottom[2])  # fmt: skip
    bottom[2].set_title("⑥ TD-DFT (solid) vs ML-NN (dashed), held out")
    bottom[2].legend(fontsize=8)
    bottom[2].set_xlim(_xlim_nm(kind))
    return axes


def plot_released_fits(grid_nm: ArrayLike, fits: dict, models: Sequence[str], kind: str, ax=None):
    """TD-DFT spectra of the benchmark dots (solid, pale) beside the released surrogates' (one line style each).

    Parameters
    ----------
    grid_nm : array_like, shape (n_bins,)
        Wavelengths, nm.
    fits : dict
        :func:`qdlib.surrogates.benchmark_fits`: per dot, ``"tddft"`` and one spectrum per model, L mol⁻¹ cm⁻¹.
    models : sequence of str
        The models drawn, at most three (dashed, dotted, dash-dot).
    kind : {"absorption", "emission"}

    Examples
    --------
    >>> fits = {"Cd6Se6": {"tddft": [1.0, 3.0, 1.0], "ML-NN": [1.0, 2.5, 1.5]}}
    >>> ax = plot_released_fits([390.0, 400.0, 410.0], fits, ["ML-NN"], "absorption")
    >>> ax.get_title(), [line.get_linestyle() for line in ax.lines]
    ('absorption: TD-DFT (solid), released ML-NN dashed', ['-', '--'])
    """
    ax = _axes(ax)
    for j, (dot, spectra) in enumerate(fits.items()):
        plot_spectrum(grid_nm, spectra["tddft"], ax=ax, color=f"C{j}", lw=2.5, alpha=0.45, label=dot)
        for name, ls in zip(models, ("--", ":", "-.")):
            plot_spectrum(grid_nm, spectra[name], ax=ax, color=f"C{j}", ls=ls)
    styles = ", ".join(f"{n} {s}" for n, s in zip(models, ("dashed", "dotted", "dash-dot")))
    ax.set_title(f"{kind}: TD-DFT (solid), released {styles}")
    ax.set_xlim(_xlim_nm(kind))
    ax.legend(fontsize=8)
    return ax
