"""Plots of the paper's figures: one function per panel, no computation, one module per notebook
(core: spectra, structures, saving; dataset: 01; surrogates: 02; training: 03; design: 04–05; pso: 06;
campaign: 07; library: 08).

Every function takes the data it draws and an optional matplotlib ``ax``
and returns the axes, so notebooks compose panels freely.

>>> from qdlib import spectra
>>> grid = spectra.wavelength_grid("absorption")
>>> ax = plot_spectrum(grid, spectra.broaden([400.0, 350.0], [0.1, 0.05], grid), label="two sticks")
>>> twin = plot_sticks([400.0, 350.0], [0.1, 0.05], ax=ax)
>>> ax.get_xlabel(), twin.get_ylabel()
('wavelength (nm)', 'oscillator strength')
"""

from .campaign import METHOD_COLOURS, plot_fig8a_survival, plot_fig8b_peak_vs_strain, plot_fig8c_forward_model
from .core import ELEMENT_COLOURS, plot_spectrum, plot_sticks, plot_structure, save_figure, show_inline, view3d
from .dataset import plot_fig1_spectra, plot_fig1_structures, plot_random_set_absorption, plot_random_set_emission
from .design import plot_fig6, plot_sensitivity
from .library import plot_library_energies, plot_library_peaks
from .pso import plot_fig7_spectra, plot_fig7_times
from .surrogates import (
    plot_coulomb_matrix,
    plot_cv_errors,
    plot_fig3,
    plot_held_out_spectra,
    plot_learning_curves,
    plot_peak_parity,
    plot_released_fits,
    plot_rf_trees,
)
from .training import plot_designed_positions, plot_fig5, plot_fig5c, plot_loss_landscapes, plot_median_design

__all__ = [
    "ELEMENT_COLOURS",
    "METHOD_COLOURS",
    "plot_coulomb_matrix",
    "plot_cv_errors",
    "plot_designed_positions",
    "plot_fig1_spectra",
    "plot_fig1_structures",
    "plot_fig3",
    "plot_fig5",
    "plot_fig5c",
    "plot_fig6",
    "plot_fig7_spectra",
    "plot_fig7_times",
    "plot_fig8a_survival",
    "plot_fig8b_peak_vs_strain",
    "plot_fig8c_forward_model",
    "plot_held_out_spectra",
    "plot_learning_curves",
    "plot_library_energies",
    "plot_library_peaks",
    "plot_loss_landscapes",
    "plot_median_design",
    "plot_peak_parity",
    "plot_random_set_absorption",
    "plot_random_set_emission",
    "plot_released_fits",
    "plot_rf_trees",
    "plot_sensitivity",
    "plot_spectrum",
    "plot_sticks",
    "plot_structure",
    "save_figure",
    "show_inline",
    "view3d",
]
