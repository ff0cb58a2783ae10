"""Notebook 06: DDPG against particle swarm optimisation (Fig. 7).

The data come from :mod:`qdlib.pso_comparison` (:func:`~qdlib.pso_comparison.design_spectra`,
the rows of :class:`~qdlib.pso_comparison.DesignerTiming`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from .core import _axes

__all__ = ["plot_fig7_spectra", "plot_fig7_times"]


def plot_fig7_spectra(grid_nm: ArrayLike, spectra, kind: str = "absorption", ax=None, title: str | None = None):
    """Fig. 7(a): the target spectrum, the swarm's best design and the agent's median design.

    ``spectra``: a :class:`qdlib.pso_comparison.DesignSpectra` (ε in L mol⁻¹ cm⁻¹ on ``grid_nm``, nm);
    absorption drawn on 250–600 nm, emission on 500–2000 nm.

    >>> from types import SimpleNamespace
    >>> grid = np.linspace(250.0, 600.0, 5)
    >>> data = SimpleNamespace(target=np.ones(5), pso=np.ones(5), pso_loss=0.001, ddpg=np.ones(5), ddpg_loss=0.08)
    >>> ax = plot_fig7_spectra(grid, data, title="(a1)")
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['target', 'PSO (loss 0.001)', 'DDPG median (loss 0.080)']
    """
    ax = _axes(ax)
    ax.plot(grid_nm, spectra.target, "k", lw=2.5, label="target")
    ax.plot(grid_nm, spectra.pso, "C1--", lw=2, label=f"PSO (loss {spectra.pso_loss:.3f})")
    ax.plot(grid_nm, spectra.ddpg, "C0:", lw=2, label=f"DDPG median (loss {spectra.ddpg_loss:.3f})")
    ax.set_xlim(*((250, 600) if kind == "absorption" else (500, 2000)))
    if title is not None:
        ax.set_title(title, fontsize=11)
    ax.set_xlabel("wavelength (nm)", fontsize=10)
    ax.legend(fontsize=9, loc="upper right")
    return ax


def plot_fig7_times(rows: Sequence[dict], threshold: float, ax=None):
    """Fig. 7(b): time per design (ms, log scale) of the agent and both swarms, per cuboid and number of atoms.

    Bars: at equal error, until a design's loss is below ``threshold`` (``*_eq_s``); black ticks:
    as the paper timed it, one rollout against a full swarm (``ddpg_s``, ``vec_s``, ``per_s``).
    ``rows``: :class:`qdlib.pso_comparison.DesignerTiming` rows (times in s).

    >>> row = dict(edge=4.0, n=1, ddpg_s=0.01, vec_s=0.2, per_s=80.0, ddpg_eq_s=0.04, hit_vec_eq_s=0.15, hit_per_eq_s=0.2)
    >>> ax = plot_fig7_times([row], 0.122)
    >>> ax.get_yscale(), [t.get_text() for t in ax.get_xticklabels()]
    ('log', ['4 Å, 1 atom(s)'])
    """
    ax = _axes(ax)
    labels = [f"{r['edge']:g} Å, {r['n']} atom(s)" for r in rows]
    x = np.arange(len(rows))
    timings = ((-0.27, "ddpg", "ddpg", "DDPG"), (0.0, "hit_vec", "vec", "PSO, vectorised"), (0.27, "hit_per", "per", "PSO, per particle"))
    for off, equal, paper, name in timings:
        ax.bar(x + off, [1e3 * r[f"{equal}_eq_s"] for r in rows], width=0.27, label=f"{name}: until loss < {threshold:g}")
        ax.plot(x + off, [1e3 * r[f"{paper}_s"] for r in rows], "_", ms=16, mew=3, color="k", zorder=4)
    ax.plot([], [], "_", color="k", ms=16, mew=3, label="as the paper timed it: one rollout / a full swarm")
    ax.set_yscale("log")
    ax.set_xticks(x, labels, fontsize=10)
    ax.set_ylabel("time per design (ms)", fontsize=10)
    ax.set_title("(b) computation time per design (this machine; timings vary between runs)", fontsize=11)
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return ax
