"""Notebook 08's panels: the stable-cluster library's energies and peaks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms
from numpy.typing import ArrayLike

from .core import _axes

__all__ = ["plot_library_energies", "plot_library_peaks"]


def plot_library_energies(members: Sequence[Atoms], ax=None):
    """The library per composition: each member's GFN2-xTB energy above its composition's lowest, eV.

    ``members``: library frames (``info``: ``composition``, ``e_above_ev``); compositions ordered by
    size, then Se content; the count of members above each column.
    """
    ax = _axes(ax)
    from ..library.members import summary

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


