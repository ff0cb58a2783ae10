"""When TD-DFT confirms a library member for a user's target: the criterion, stated in one place.

A member is *confirmed* for a target when its TD-DFT spectrum (paper settings, states down to the
library's cover wavelength) meets :class:`qdlib.campaign.Criterion` on the target's window:

* its central peak within ``peak_tolerance_nm`` (5 nm) of the target's;
* its shape: cosine similarity on the window at least the target's own similarity with itself
  moved by the peak tolerance;
* its intensity (integrated absorptivity on the window within a factor 1.25) — only when the
  target is in absolute units (:attr:`qdlib.verdict.Target.absolute`);
* the structure a library minimum at most ``max_e_above_ev`` (GFN2-xTB, 0.5 eV) above its
  composition's lowest member — the stability bound, in place of a displaced design's strain;
* states covering the window (the verdict's ``"uncovered"`` otherwise).

>>> from qdlib.targets import band_target
>>> t = band_target(480.0)
>>> print(describe(target_criterion(t), t))
central peak within 5 nm; cosine similarity on 443.2–798.4 nm ≥ 0.9752; no intensity test (arbitrary units); GFN2-xTB energy ≤ 0.5 eV above the composition's lowest member; states down to 392.7 nm
"""

from __future__ import annotations

import dataclasses

import numpy as np
from ase import Atoms
from numpy.typing import NDArray

from .. import spectra
from ..campaign.criterion import Criterion
from ..verdict import Target, Verdict, judge

__all__ = ["MAX_E_ABOVE_EV", "describe", "member_verdict", "nearest_band_nm", "target_criterion"]

MAX_E_ABOVE_EV: float = 0.5
"""The stability bound: a member more than this (GFN2-xTB, eV) above its composition's lowest
member is not a design (the library's TD-DFT selection uses the same bound)."""


def target_criterion(target: Target, max_e_above_ev: float = MAX_E_ABOVE_EV, **thresholds) -> Criterion:
    """The criterion for ``target``: :class:`~qdlib.campaign.Criterion`'s defaults (or ``thresholds``) with
    the stability bound as its energy limit, resolved for the target (shape threshold; no intensity
    test for arbitrary units)."""
    return Criterion(max_strain_ev=max_e_above_ev, **thresholds).for_target(target)


def member_verdict(member: Atoms, result, target: Target) -> Verdict:
    """TD-DFT's verdict on a library member against ``target``, its energy the member's GFN2-xTB energy
    above its composition's lowest (``member.info["e_above_ev"]``, eV)."""
    verdict = judge(member, result, target)
    return dataclasses.replace(verdict, energy_above_reference_ev=float(member.info["e_above_ev"]))


def describe(criterion: Criterion, target: Target) -> str:
    """The criterion for ``target`` in one line, as every result prints it."""
    if criterion.min_similarity is None:
        raise ValueError("the criterion is not resolved for a target: use target_criterion(target)")
    w = target.window
    intensity = ("no intensity test (arbitrary units)" if not np.isfinite(criterion.max_intensity_ratio)
                 else f"integrated absorptivity within ×{criterion.max_intensity_ratio:g}")  # fmt: skip
    return (f"central peak within {criterion.peak_tolerance_nm:g} nm; cosine similarity on {w.blue_nm:.1f}–{w.red_nm:.1f} nm "
            f"≥ {criterion.min_similarity:.4f}; {intensity}; GFN2-xTB energy ≤ {criterion.max_strain_ev:g} eV above the "
            f"composition's lowest member; states down to {w.cover_nm:.1f} nm")  # fmt: skip


def nearest_band_nm(spectrum: NDArray | None, peak_nm: float, fraction: float = 0.05) -> float:
    """The local maximum of ``spectrum`` above ``fraction`` of its highest point, to the red of where the library's
    spectra are complete, nearest ``peak_nm``; NaN if none: where a member's band lies, seen from a target.

    (A spectrum's highest point is no guide: the clusters' spectra rise into the UV.)

    >>> y = spectra.broaden([300.0, 450.0, 520.0], [0.3, 0.05, 0.05], spectra.wavelength_grid("absorption"))
    >>> nearest_band_nm(y, 480.0), nearest_band_nm(y, 500.0)
    (449.6, 520.0)
    """
    if spectrum is None:
        return float("nan")
    from ..library.tddft import COVER_NM
    from ..targets import complete_from_nm

    grid = spectra.wavelength_grid("absorption")
    complete = complete_from_nm(COVER_NM)
    y = np.asarray(spectrum, dtype=float)
    i = np.arange(1, grid.size - 1)
    is_max = (y[i] > y[i - 1]) & (y[i] >= y[i + 1]) & (y[i] > max(fraction * y.max(), spectra.DARK_EPSILON)) & (grid[i] >= complete)
    bands = grid[i[is_max]]
    return float(bands[np.argmin(np.abs(bands - peak_nm))]) if bands.size else float("nan")
