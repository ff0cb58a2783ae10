"""Notebook 07's panels: TD-DFT-in-the-loop campaigns (Figs. 8a–c), one colour per method.
"""

from __future__ import annotations

import numpy as np

from .core import _axes

__all__ = ["METHOD_COLOURS", "plot_fig8a_survival", "plot_fig8b_peak_vs_strain", "plot_fig8c_forward_model"]


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
        style = {"color": colours.get(target, "0.5"), "ls": styles[cases.index(case) % len(styles)], "marker": "o", "ms": 2.5, "lw": 1}
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


