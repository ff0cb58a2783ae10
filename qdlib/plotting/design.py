"""Notebooks 04 and 05: designed against target peaks (Fig. 6) and the sensitivity sweep (Fig. 7).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from .core import _axes

__all__ = ["plot_fig6", "plot_sensitivity"]


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


