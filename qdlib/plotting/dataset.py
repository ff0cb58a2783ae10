"""Notebook 01: Fig. 1 (the authors' dot, ours beside theirs) and the random set's spectra.

The data come from :mod:`qdlib.dataset_report` (:func:`~qdlib.dataset_report.fig1_panel`,
:func:`~qdlib.dataset_report.random_set_spectra`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms
from numpy.typing import ArrayLike

from .core import _axes, plot_spectrum, plot_sticks, plot_structure

__all__ = ["plot_fig1_spectra", "plot_fig1_structures", "plot_random_set_absorption", "plot_random_set_emission"]


def plot_fig1_spectra(panel, ax=None, letter: str = "a"):
    """One spectrum panel of Fig. 1: the authors' Gaussian 16 spectrum (wide, grey) under ours, with our sticks.

    ``panel``: a :class:`qdlib.dataset_report.Fig1Panel`; ε in L mol⁻¹ cm⁻¹ against wavelength
    (nm), absorption on 250–550 nm, emission on 600–2400 nm; the title gives both central peaks.

    >>> from qdlib import spectra
    >>> from qdlib.dataset_report import fig1_panel
    >>> grid = spectra.wavelength_grid("absorption")
    >>> ax = plot_fig1_spectra(fig1_panel("absorption", None, spectra.broaden([400.0], [0.1], grid), grid))
    >>> ax.get_title()
    "(a) absorption: authors' peak 400 nm — ours not computed yet"
    """
    ax = _axes(ax)
    kind = panel.kind
    ax.plot(panel.authors_grid_nm, panel.authors, color="0.55", lw=4, alpha=0.5, label="authors (Gaussian 16)")  # wide: ours may lie on it
    title = f"({letter}) {kind}: authors' peak {panel.authors_peak_nm:.0f} nm"
    if panel.ours is None:
        title += " — ours not computed yet"
    else:
        plot_spectrum(panel.grid_nm, panel.ours, ax=ax, color="C0" if kind == "absorption" else "C3", label="ours (PySCF)")
        plot_sticks(panel.sticks_nm, panel.sticks_f, ax=ax, color="0.3")
        title += f", ours {panel.ours_peak_nm:.0f} nm"
    ax.set_xlabel("wavelength (nm)")
    ax.set_ylabel(r"$\varepsilon$ (L mol$^{-1}$ cm$^{-1}$)")
    ax.set_xlim(*((250, 550) if kind == "absorption" else (600, 2400)))
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title(title, fontsize=10)
    return ax


def plot_fig1_structures(atoms: Atoms, kind: str, axes: Sequence | None = None):
    """The geometry of a Fig. 1 panel twice: as seen, and turned 90° about x (ground state or relaxed S1).

    >>> from ase import Atoms
    >>> axes = plot_fig1_structures(Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]]), "emission")
    >>> [ax.get_title() for ax in axes]
    ['relaxed S1', 'relaxed S1, turned 90° about x']
    """
    if axes is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(1, 2, figsize=(5, 2.6))
    state = "ground state" if kind == "absorption" else "relaxed S1"
    for ax, (rot, view) in zip(axes, (("10x,20y,0z", ""), ("100x,20y,0z", ", turned 90° about x"))):
        plot_structure(atoms, ax, rotation=rot, title=state + view)
    return axes


def plot_random_set_absorption(grid_nm: ArrayLike, spectra: Sequence[tuple[str, ArrayLike]], ax=None):
    """Panel (a) of the random set: each distinct cluster's absorption, normalised to its maximum and offset by one.

    ``spectra``: ``(label, ε)`` per cluster on ``grid_nm`` (nm), labels written at the right.

    >>> grid = np.linspace(250.0, 700.0, 10)
    >>> ax = plot_random_set_absorption(grid, [("0: Cd4Se4Te0", np.linspace(1.0, 2.0, 10))])
    >>> len(ax.lines), ax.texts[0].get_text()
    (1, '0: Cd4Se4Te0')
    """
    import matplotlib.pyplot as plt

    ax = _axes(ax)
    colors = plt.cm.viridis(np.linspace(0, 0.85, len(spectra)))
    for row, ((label, eps), c) in enumerate(zip(spectra, colors)):
        eps = np.asarray(eps)
        ax.plot(grid_nm, eps / eps.max() + row, color=c)
        ax.text(695, row + 0.15, label, ha="right", fontsize=8)
    ax.set(xlabel="wavelength (nm)", ylabel="ε / max ε, offset by structure", yticks=[], xlim=(250, 700),
           title=f"(a) absorption of the {len(spectra)} distinct relaxed clusters")  # fmt: skip
    return ax


def plot_random_set_emission(grid_nm: dict, pairs: Sequence[tuple[str, ArrayLike, ArrayLike]],
                             emission_peaks_nm: Sequence[float], ax=None):  # fmt: skip
    """Panel (b) of the random set: absorption at the ground state (dashed) and emission at the relaxed S1 (solid).

    ``grid_nm``: the grid per kind (nm); ``pairs``: ``(label, absorption ε, emission ε)`` per
    cluster (the first four drawn), each spectrum normalised to its maximum; the x-axis ends at
    1.3 × the reddest of ``emission_peaks_nm``.

    >>> grid = {"absorption": np.linspace(300.0, 700.0, 5), "emission": np.linspace(300.0, 1500.0, 5)}
    >>> ax = plot_random_set_emission(grid, [("8: Cd4Se3Te1", np.ones(5), np.arange(1.0, 6.0))], [1211.0])
    >>> [t.get_text() for t in ax.get_legend().get_texts()], round(float(ax.get_xlim()[1]), 1)
    (['8: Cd4Se3Te1 absorption', '8: Cd4Se3Te1 emission'], 1574.3)
    """
    ax = _axes(ax)
    for (label, absorption, emission), c in zip(pairs, ("C0", "C3", "C2", "C1")):
        for eps, kind, style in ((absorption, "absorption", "--"), (emission, "emission", "-")):
            eps = np.asarray(eps)
            ax.plot(grid_nm[kind], eps / eps.max(), style, color=c, label=f"{label} {kind}")
    ax.set(xlabel="wavelength (nm)", ylabel="ε / max ε", xlim=(300, 1.3 * max(emission_peaks_nm, default=700)),
           title="(b) absorption (S0 geometry) and emission (relaxed S1)")  # fmt: skip
    if pairs:
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no S1 relaxation in the release yet", transform=ax.transAxes, ha="center")
    return ax
