"""Plots of the paper's figures: one function per panel, no computation.

Every function takes the data it draws and an optional matplotlib ``ax``
and returns the axes, so notebooks compose panels freely.

>>> from qdlib import spectra
>>> grid = spectra.wavelength_grid("absorption")
>>> ax = plot_spectrum(grid, spectra.broaden([400.0, 350.0], [0.1, 0.05], grid), label="two sticks")
>>> twin = plot_sticks([400.0, 350.0], [0.1, 0.05], ax=ax)
>>> ax.get_xlabel(), twin.get_ylabel()
('wavelength (nm)', 'oscillator strength')
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms
from numpy.typing import ArrayLike

__all__ = [
    "plot_library_energies",
    "plot_library_peaks",
    "plot_spectrum",
    "plot_sticks",
    "plot_coulomb_matrix",
    "plot_structure",
    "plot_learning_curves",
    "plot_rf_trees",
    "plot_peak_parity",
    "plot_design_peaks",
    "plot_cv_errors",
    "plot_fig6",
    "plot_sensitivity",
    "METHOD_COLOURS",
    "plot_fig8a_survival",
    "plot_fig8b_peak_vs_strain",
    "plot_fig8c_forward_model",
    "view3d",
    "save_figure",
    "show_inline",
]

#: Colours of the elements (CPK-like, as in the paper's structure views).
ELEMENT_COLOURS = {"Cd": "#d4a373", "Se": "#e9c46a", "Te": "#8d5fd3"}


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(5, 3.2))
    return ax


def plot_spectrum(grid_nm: ArrayLike, spectrum: ArrayLike, ax=None, label: str | None = None, **kwargs):
    """A broadened spectrum, ε (L mol⁻¹ cm⁻¹) against wavelength (nm).

    >>> ax = plot_spectrum([390.0, 400.0, 410.0], [8705.0, 13509.0, 9077.0], label="3 bins")
    >>> len(ax.lines), ax.lines[0].get_label()
    (1, '3 bins')
    """
    ax = _axes(ax)
    ax.plot(grid_nm, spectrum, label=label, **kwargs)
    ax.set_xlabel("wavelength (nm)")
    ax.set_ylabel(r"$\varepsilon$ (L mol$^{-1}$ cm$^{-1}$)")
    return ax


def plot_sticks(wavelengths_nm: ArrayLike, osc_strengths: ArrayLike, ax=None, label: str | None = None, color="k"):
    """Oscillator-strength sticks on a secondary axis (dimensionless f).

    >>> twin = plot_sticks([400.0, 350.0], [0.1, 0.05])
    >>> twin.get_ylabel(), round(float(twin.get_ylim()[1]), 3)  # 15 % above the strongest stick
    ('oscillator strength', 0.115)
    """
    ax = _axes(ax)
    twin = ax.twinx()
    twin.vlines(wavelengths_nm, 0.0, osc_strengths, colors=color, lw=1.5, label=label)
    twin.set_ylim(0.0, 1.15 * max(float(np.max(osc_strengths)), 1e-6))
    twin.set_ylabel("oscillator strength")
    return twin


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


def plot_design_peaks(labels: Sequence[str], target_nm: ArrayLike, surrogate_nm: Sequence[ArrayLike],
                      tddft_nm: Sequence[ArrayLike] | None = None, ax=None, linthresh_nm: float = 10.0):  # fmt: skip
    """Central peaks of designed structures relative to the target's, case by case (paper Fig. 6a,b).

    Per case (x position): the surrogate peaks of all designs minus the target peak (box over the
    starts, outliers as points) and, where computed, their TD-DFT peaks minus the target (red dots);
    the target is the zero line. The axis is linear within ±``linthresh_nm`` and logarithmic beyond,
    so a few far-off designs do not hide the rest.

    >>> ax = plot_design_peaks(["1 atom", "2 atoms"], [374.4, 374.4], [[370.0, 380.0, 376.0], [360.0, 390.0]],
    ...                        tddft_nm=[[373.0], []])
    >>> [label.get_text() for label in ax.get_xticklabels()], ax.get_yscale()
    (['1 atom', '2 atoms'], 'symlog')
    """
    ax = _axes(ax)
    x = np.arange(len(labels))
    target = np.asarray(target_nm, dtype=float)
    data = [np.asarray(p, dtype=float)[np.isfinite(p)] - t for p, t in zip(surrogate_nm, target)]
    ax.boxplot(data, positions=x, widths=0.5, showfliers=True, flierprops=dict(markersize=2, alpha=0.4),
               medianprops=dict(color="tab:blue"), manage_ticks=False)  # fmt: skip
    ax.axhline(0.0, color="k", lw=1.5, label="target", zorder=1)
    if tddft_nm is not None:
        for xi, p, t in zip(x, tddft_nm, target):
            p = np.asarray(p, dtype=float)
            p = p[np.isfinite(p)] - t
            ax.scatter(np.full(p.size, xi + 0.3), p, s=12, color="tab:red", zorder=4,
                       label="TD-DFT of designs" if xi == 0 else None)  # fmt: skip
    ax.plot([], [], color="tab:blue", label="surrogate (box over starts)")
    ax.set_yscale("symlog", linthresh=linthresh_nm)
    ax.set_xticks(x, labels, rotation=45, ha="right")
    ax.set_ylabel("central peak − target (nm)")
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
               error_kw=dict(lw=1))  # fmt: skip
        for xi, v in zip(x, values):
            ax.scatter(np.full(v.size, xi), v, s=8, color="k", zorder=3)
    ax.set_xticks(np.arange(len(models)), models, rotation=20, ha="right")
    ax.set_ylabel({"rmse": "RMSE (L mol⁻¹ cm⁻¹)", "mae": "MAE (L mol⁻¹ cm⁻¹)"}.get(metric, metric))
    ax.legend(fontsize=8)
    return ax


def plot_fig6(cases: Sequence, target_nm: ArrayLike, surrogate_nm: Sequence[ArrayLike], tddft_nm: Sequence[ArrayLike],
              ax=None, jitter_nm: float = 5.0):  # fmt: skip
    """Designed against target central peak, case by case, in the paper's form (Fig. 6a,b).

    Per case (a benchmark dot, colour; its number of movable atoms, marker): at the target's
    central peak (x, shifted by ``jitter_nm`` per atom count so the cases of one dot stand apart),
    the surrogate's designed peaks (open marker at the median, bar from the 5th to the 95th
    percentile over the designs) and the TD-DFT peaks of the rechecked designs (filled markers,
    each design; bar over their range). A case with no TD-DFT verdict says so in the plot.
    The diagonal is a perfect design.

    Parameters
    ----------
    cases : sequence
        Objects with ``dot`` and ``n_movable`` (e.g. :class:`qdlib.agents.Case`).
    target_nm : array_like, shape (n_cases,)
    surrogate_nm, tddft_nm : sequence of array_like
        Per case, the designs' central peaks (NaN entries ignored).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> cases = [SimpleNamespace(dot="Cd6Se6", n_movable=1), SimpleNamespace(dot="Cd6Se6", n_movable=2)]
    >>> ax = plot_fig6(cases, [374.4, 374.4], [[370.0, 380.0, 376.0], [360.0, 390.0]], [[373.0], []])
    >>> [note.get_text().splitlines() for note in ax.texts]
    [['no TD-DFT verdict:', '2 atom(s)']]
    """
    ax = _axes(ax)
    dots = list(dict.fromkeys(c.dot for c in cases))
    markers = {1: "o", 2: "s", 3: "^"}
    t_all = np.asarray(target_nm, dtype=float)
    missing: dict[str, list] = {}
    for c, t, sur, td in zip(cases, t_all, surrogate_nm, tddft_nm):
        colour = f"C{dots.index(c.dot)}"
        x = t + jitter_nm * (c.n_movable - 2)
        sur = np.asarray(sur, dtype=float)
        sur = sur[np.isfinite(sur)]
        if sur.size:
            lo, med, hi = np.percentile(sur, [5, 50, 95])
            ax.errorbar(x - 1.2, med, yerr=[[med - lo], [hi - med]], fmt=markers[c.n_movable], mfc="white", mec=colour,
                        ecolor=colour, elinewidth=0.8, capsize=2, ms=5)  # fmt: skip
        td = np.asarray(td, dtype=float)
        td = td[np.isfinite(td)]
        if td.size:
            ax.errorbar(x + 1.2, np.median(td), yerr=[[np.median(td) - td.min()], [td.max() - np.median(td)]],
                        fmt="none", ecolor=colour, elinewidth=1.5, capsize=3)  # fmt: skip
            ax.scatter(np.full(td.size, x + 1.2), td, marker=markers[c.n_movable], color=colour, s=22, zorder=4,
                       edgecolors="k", linewidths=0.4)  # fmt: skip
        else:
            missing.setdefault(c.dot, [t, []])[1].append(c.n_movable)
    for dot, (t, atoms) in missing.items():  # one note per dot, below its cases
        ax.annotate(f"no TD-DFT verdict:\n{', '.join(map(str, atoms))} atom(s)", (t, t), fontsize=7,
                    color=f"C{dots.index(dot)}", ha="left", va="top", xytext=(8, -14), textcoords="offset points")  # fmt: skip
    lim = [np.nanmin(t_all) - 40, np.nanmax(t_all) + 40]
    ax.plot(lim, lim, color="0.3", lw=1, zorder=0)
    for k, d in enumerate(dots):
        ax.plot([], [], "s", color=f"C{k}", label=d)
    for n, m in markers.items():
        if any(c.n_movable == n for c in cases):
            ax.plot([], [], m, mfc="white", mec="0.3", label=f"{n} atom(s): surrogate (median, 5–95 %)")
            ax.plot([], [], m, color="0.3", label=f"{n} atom(s): TD-DFT (each design)")
    ax.set_xlabel("target central peak (nm)")
    ax.set_ylabel("designed central peak (nm)")
    return ax


def plot_sensitivity(distance_angstrom: ArrayLike, deviation_nm: ArrayLike, curve, ax=None, groups: ArrayLike | None = None,
                     claim: Sequence[tuple[float, float, float]] = ()):  # fmt: skip
    """|Central-peak deviation| of displaced geometries against the displacement (paper Fig. 6c).

    ``curve``: a :class:`~qdlib.validation.SensitivityCurve` (its mean drawn as a line);
    ``groups``: per-point labels (e.g. atoms moved) for colours; ``claim``: ``(d_from, d_to, nm)``
    bands drawn as dashed boxes, e.g. a published statement to compare with.

    >>> from types import SimpleNamespace
    >>> curve = SimpleNamespace(distance_angstrom=[0.1, 1.0], mean_nm=[1.0, 12.0])  # as SensitivityCurve
    >>> ax = plot_sensitivity([0.1, 0.1, 1.0, 1.0], [0.5, -1.5, 10.0, -14.0], curve, groups=[1, 2, 1, 2],
    ...                       claim=[(0.0, 0.5, 5.0)])
    >>> [text.get_text() for text in ax.legend().get_texts()]
    ['1 atom(s) moved', '2 atom(s) moved', 'mean', "paper's statement"]
    """
    from matplotlib.patches import Rectangle

    ax = _axes(ax)
    d, dev = np.asarray(distance_angstrom, dtype=float), np.abs(np.asarray(deviation_nm, dtype=float))
    groups = np.zeros(d.size, int) if groups is None else np.asarray(groups)
    for g in np.unique(groups):
        m = groups == g
        ax.scatter(d[m], dev[m], s=14, alpha=0.7, label=f"{g} atom(s) moved" if groups.any() else None)
    ax.plot(curve.distance_angstrom, curve.mean_nm, "k-o", ms=4, label="mean")
    for lo, hi, nm in claim:
        ax.add_patch(Rectangle((lo, 0), hi - lo, nm, fill=False, ls="--", ec="tab:gray"))
    if claim:
        ax.plot([], [], ls="--", color="tab:gray", label="paper's statement")
    ax.set_xlabel("displacement of each moved atom (Å)")
    ax.set_ylabel("|central-peak deviation| (nm)")
    return ax


#: One colour per design method of the campaigns (notebook 07).
METHOD_COLOURS = {"random": "0.45", "unmoved": "k", "stable-first": "tab:orange", "surrogate": "tab:red", "bo": "tab:blue",
                  "al": "tab:green"}  # fmt: skip


def plot_fig8a_survival(curves: dict, ax=None, title: str | None = None):
    """Fraction of seeds with a confirmed design against TD-DFT calls, one step curve per method (Fig. 8a).

    ``curves``: method → :func:`qdlib.campaign.survival`'s entry (``calls``, ``found``, ``n_seeds``).

    >>> c = {"al": {"calls": np.arange(4), "found": np.array([0, 0.5, 0.5, 1.0]), "n_seeds": 2}}
    >>> ax = plot_fig8a_survival(c, title="toy")
    >>> ax.get_ylabel(), [t.get_text() for t in ax.legend().get_texts()]
    ('seeds with a confirmed design', ['al (2 seeds)'])
    """
    ax = _axes(ax)
    for method, c in curves.items():
        ax.step(c["calls"], c["found"], where="post", color=METHOD_COLOURS.get(method), lw=1.8,
                label=f"{method} ({c['n_seeds']} seeds)")  # fmt: skip
    ax.set(xlabel="TD-DFT calls", ylabel="seeds with a confirmed design", ylim=(-0.03, 1.03))
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def plot_fig8b_peak_vs_strain(points: dict, peak_tolerance_nm: float, max_strain_ev: float, ax=None, title: str | None = None):
    """Central-peak error against DFT strain of every computed design, the criterion's box shaded (Fig. 8b).

    ``points``: method → ``(strain_ev, peak_error_nm, confirmed)`` arrays; confirmed designs are ringed.

    >>> ax = plot_fig8b_peak_vs_strain({"random": ([0.1, 0.7], [2.0, -12.0], [True, False])}, 5.0, 0.5)
    >>> ax.get_xlabel()
    'DFT strain (eV above the dot)'
    """
    ax = _axes(ax)
    ax.axvspan(0, max_strain_ev, color="0.92", lw=0)
    ax.axhspan(-peak_tolerance_nm, peak_tolerance_nm, color="gold", alpha=0.3, lw=0)
    for method, (e, dp, ok) in points.items():
        e, dp, ok = np.asarray(e, float), np.asarray(dp, float), np.asarray(ok, bool)
        ax.scatter(e, dp, s=18, color=METHOD_COLOURS.get(method), alpha=0.7, label=method, edgecolor="none")
        ax.scatter(e[ok], dp[ok], s=60, facecolor="none", edgecolor="k", lw=1.0)
    ax.set_xscale("symlog", linthresh=0.1)
    ax.set(xlabel="DFT strain (eV above the dot)", ylabel="Δ central peak (nm)")
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def plot_fig8c_forward_model(curves: dict, axes=None, level: float = 0.9):
    """Held-out peak error (a) and interval coverage (b) of active learning's forward model against calls (Fig. 8c).

    ``curves``: ``(case, target, seed)`` → :func:`qdlib.campaign.scores_by_round` rows. One colour per
    target, one line style per case; seeds share their colour and style. The legend sits outside the axes.

    >>> rows = [{"n_train": 2, "peak_mae_nm": 20.0, "coverage": 0.3}, {"n_train": 4, "peak_mae_nm": 12.0, "coverage": 0.7}]
    >>> a, b = plot_fig8c_forward_model({("Cd4Se4", "T0", 0): rows, ("Cd6Se6", "T0", 0): rows})
    >>> [t.get_text() for t in b.get_legend().get_texts()]
    ['Cd4Se4, T0', 'Cd6Se6, T0']
    """
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(9.5, 3.2))
    a, b = axes
    colours = {"T0": "k", "T+10": "tab:red", "T-10": "tab:blue"}
    styles = ["-", "--", ":", "-."]
    cases = sorted({case for case, _, _ in curves})
    order = {t: i for i, t in enumerate(colours)}
    seen = set()
    for (case, target, seed), rows in sorted(curves.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], 9), kv[0][2])):
        if not rows:
            continue
        style = dict(color=colours.get(target, "0.5"), ls=styles[cases.index(case) % len(styles)], marker="o", ms=2.5, lw=1)
        label = f"{case}, {target}" if (case, target) not in seen else None
        seen.add((case, target))
        n = [r["n_train"] for r in rows]
        a.plot(n, [r["peak_mae_nm"] for r in rows], label=label, **style)
        b.plot(n, [r["coverage"] for r in rows], **style)
    a.set(xlabel="TD-DFT calls (training designs)", ylabel="held-out peak error (nm)", yscale="log")
    b.axhline(level, color="0.4", ls=":", lw=1)
    b.set(xlabel="TD-DFT calls (training designs)", ylabel=f"coverage of the {level:.0%} interval", ylim=(0, 1.05))
    handles, labels = a.get_legend_handles_labels()
    b.legend(handles, labels, fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.03, 1.0))
    for ax, letter in zip((a, b), "ab"):
        ax.text(-0.15, 1.04, f"({letter})", transform=ax.transAxes, fontweight="bold")
    return a, b


def plot_library_energies(members: Sequence[Atoms], ax=None):
    """The library per composition: each member's GFN2-xTB energy above its composition's lowest, eV.

    ``members``: library frames (``info``: ``composition``, ``e_above_ev``); compositions ordered by
    size, then Se content; the count of members above each column.
    """
    ax = _axes(ax)
    from .library.members import summary

    comps = [r["composition"] for r in summary(members)]
    for x, comp in enumerate(comps):
        e = [m.info["e_above_ev"] for m in members if m.info["composition"] == comp]
        ax.scatter(np.full(len(e), x), e, s=12, color="tab:blue", alpha=0.7)
        ax.annotate(str(len(e)), (x, max(e)), textcoords="offset points", xytext=(0, 4), ha="center", fontsize=7)
    ax.set_xticks(range(len(comps)), [c.replace("Te0", "").replace("Se0", "") for c in comps], rotation=90, fontsize=7)
    ax.set_ylabel("GFN2-xTB energy above the lowest (eV)")
    return ax


def plot_library_peaks(peaks_nm: ArrayLike, se_fraction: ArrayLike, n_cd: ArrayLike, ax=None,
                       marked: Sequence[float] = (), lo_nm: float = 300.0, hi_nm: float = 800.0):  # fmt: skip
    """Brightest-band peaks of the library's spectra, nm: one point per member, coloured by Se/(Se+Te),
    rows by cluster size (Cd count); ``marked``: (peak nm, Cd count) of the authors' structures (stars)."""
    import matplotlib.pyplot as plt

    ax = _axes(ax)
    peaks, frac, n = (np.asarray(a, dtype=float) for a in (peaks_nm, se_fraction, n_cd))
    rng = np.random.default_rng(0)  # vertical jitter within a row, for legibility only
    sc = ax.scatter(peaks, n + rng.uniform(-0.25, 0.25, n.size), c=frac, cmap="viridis", vmin=0, vmax=1, s=16)
    if len(marked):
        m = np.asarray(marked, dtype=float)
        ax.scatter(m[:, 0], m[:, 1], marker="*", s=90, facecolor="none", edgecolor="tab:red", label="the authors' structures")
        ax.legend(fontsize=7, loc="upper right")
    plt.colorbar(sc, ax=ax, label="Se / (Se + Te)")
    ax.set_xlim(lo_nm, hi_nm)
    ax.set_yticks(sorted(set(n.astype(int))), [f"Cd{k}" for k in sorted(set(n.astype(int)))])
    ax.set_xlabel("brightest-band peak (nm)")
    return ax


def view3d(atoms: Atoms, highlight: Sequence[int] = (), width: int = 400, height: int = 300):
    """An interactive py3Dmol view of a dot, ``highlight``-ed atoms drawn larger.

    >>> from ase import Atoms
    >>> view = view3d(Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]]), highlight=[1])
    >>> type(view).__module__
    'py3Dmol'
    """
    import py3Dmol

    from io import StringIO

    import ase.io

    buf = StringIO()
    ase.io.write(buf, atoms, format="xyz")
    view = py3Dmol.view(width=width, height=height)
    view.addModel(buf.getvalue(), "xyz")
    view.setStyle({"stick": {"radius": 0.15}, "sphere": {"scale": 0.3}})
    for i in highlight:
        view.setStyle({"serial": int(i)}, {"sphere": {"scale": 0.5, "color": "red"}, "stick": {"radius": 0.15}})
    view.zoomTo()
    return view


def plot_structure(atoms: Atoms, ax=None, title: str | None = None, rotation: str = "10x,20y,0z"):
    """A static ball rendering of a dot (ASE's matplotlib renderer) in :data:`ELEMENT_COLOURS`, with a legend.

    >>> from ase import Atoms
    >>> ax = plot_structure(Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]]), title="CdSe")
    >>> [text.get_text() for text in ax.get_legend().get_texts()]
    ['Se', 'Cd']
    """
    from ase.data import chemical_symbols
    from ase.data.colors import jmol_colors
    from ase.visualize.plot import plot_atoms
    from matplotlib.lines import Line2D

    ax = _axes(ax)
    colour = {z: ELEMENT_COLOURS.get(chemical_symbols[z], jmol_colors[z]) for z in set(atoms.numbers)}
    plot_atoms(atoms, ax, rotation=rotation, radii=0.6, colors=[colour[z] for z in atoms.numbers])
    ax.set_axis_off()
    handles = [Line2D([], [], ls="", marker="o", ms=8, mfc=colour[z], mec="k", label=chemical_symbols[z]) for z in sorted(colour)]
    ax.legend(handles=handles, fontsize=7, loc="upper right", frameon=False)
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def save_figure(fig, name: str, formats: Sequence[str] = ("png", "svg"), show: bool = True) -> list:
    """Write ``fig`` to ``figures/<name>.<fmt>`` and return the paths (relative to the repository).

    The files are byte-reproducible: no date in the SVG and its element ids salted by ``name``
    rather than at random, so re-running a notebook changes a figure's file only if its content changed.
    With ``show``, inside a Jupyter kernel, the PNG just written is displayed as the cell's output
    (whatever the matplotlib backend, so a notebook executed headless still shows its figures) and
    the figure is closed.

    Examples
    --------
    (The doctests point ``QDLIB_FIGURES_DIR`` at a scratch folder.)

    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> [path.name for path in save_figure(fig, "example")]
    ['example.png', 'example.svg']
    """
    import matplotlib

    from .paths import figures_dir, repo_root

    paths = []
    for fmt in formats:
        path = figures_dir() / f"{name}.{fmt}"
        with matplotlib.rc_context({"svg.hashsalt": name}):
            fig.savefig(path, dpi=150, bbox_inches="tight", metadata={"Date": None} if fmt == "svg" else None)
        try:
            paths.append(path.relative_to(repo_root()))
        except ValueError:
            paths.append(path)
    if show and "png" in formats and _in_kernel():
        import matplotlib.pyplot as plt
        from IPython.display import Image, display

        display(Image(filename=str(figures_dir() / f"{name}.png")))
        plt.close(fig)
    return paths


def show_inline(fig) -> None:
    """Show ``fig`` as the cell's PNG output inside a Jupyter kernel (whatever the backend), then close it.

    For figures a notebook shows without writing them to ``figures/`` (:func:`save_figure` does both).
    Outside a kernel the figure is left to the caller.

    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> show_inline(fig)  # outside a kernel: nothing shown, the figure stays open
    >>> plt.fignum_exists(fig.number)
    True
    """
    if not _in_kernel():
        return
    import io

    import matplotlib.pyplot as plt
    from IPython.display import Image, display

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    display(Image(data=buffer.getvalue()))
    plt.close(fig)


def _in_kernel() -> bool:
    """Whether this runs inside a Jupyter kernel (where a displayed image becomes a cell output)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")
