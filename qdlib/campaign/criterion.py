"""When TD-DFT confirms a design: the criterion, and the targets it is applied to.

A design is *confirmed* for a target when its TD-DFT verdict (:func:`qdlib.verdict.judge`:
converged, states covering the target's window) puts its central peak within
``peak_tolerance_nm`` of the target's, its spectrum has the target's shape on the window
(cosine similarity at least ``min_similarity``), and the structure is physical (DFT
strain at most ``max_strain_ev``, no pair closer than the design space allows). The
thresholds are fixed here, before any campaign runs; notebook 07 reports how often random
physical designs meet them (the criterion is too loose if more than about one in ten does)
and how the sensitivity sweep's displaced geometries score.

Targets: ``T0`` is the benchmark dot's own TD-DFT spectrum (the paper's target, computed
to cover its window, :func:`qdlib.verification.case_target`); ``T+10`` and ``T-10`` are the
same sticks moved by ±10 nm and broadened again — spectra no structure of the training
data has. A shifted target's window moves with its band.

>>> Criterion()
Criterion(peak_tolerance_nm=5.0, min_similarity=0.9, max_strain_ev=0.5)
>>> target_name(10.0), target_name(-10.0), target_name(0.0)
('T+10', 'T-10', 'T0')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..verdict import Target, Verdict, Window

__all__ = ["Criterion", "Confirmation", "target_name", "campaign_target", "covering_window"]


@dataclass(frozen=True)
class Criterion:
    """The thresholds a TD-DFT verdict must meet for a confirmed design (fixed before the campaigns)."""

    peak_tolerance_nm: float = 5.0
    """Largest |central peak − target's central peak| on the window, nm."""
    min_similarity: float = 0.9
    """Smallest cosine similarity between design and target spectra on the window."""
    max_strain_ev: float = 0.5
    """Largest DFT total energy above the reference dot, eV."""

    def check(self, verdict: Verdict, min_distance_angstrom: float = 0.0) -> Confirmation:
        """Whether ``verdict`` confirms its design, and what failed if not.

        Parameters
        ----------
        verdict : qdlib.verdict.Verdict
        min_distance_angstrom : float
            The design space's shortest allowed pair distance, Å.

        Examples
        --------
        >>> from qdlib.verdict import Verdict
        >>> v = Verdict("valid", 20, 402.0, 2.0, 0.05, 0.97, True, 0.2, 2.6)
        >>> Criterion().check(v).confirmed
        True
        >>> Criterion().check(dataclasses.replace(v, peak_error_nm=-7.5, energy_above_reference_ev=0.8)).failures
        ('peak', 'strain')
        >>> Criterion().check(dataclasses.replace(v, status="uncovered")).failures
        ('uncovered',)
        """
        if not verdict.valid:
            return Confirmation(False, (verdict.status,))
        failures = []
        if not abs(verdict.peak_error_nm) <= self.peak_tolerance_nm:  # NaN (no peak on the window) fails
            failures.append("peak")
        if not verdict.similarity >= self.min_similarity:
            failures.append("shape")
        if not verdict.energy_above_reference_ev <= self.max_strain_ev:
            failures.append("strain")
        if verdict.min_distance_angstrom < min_distance_angstrom:
            failures.append("distance")
        return Confirmation(not failures, tuple(failures))


    def margin(self, verdict: Verdict | None, floor: float = -5.0) -> float:
        """How well ``verdict`` meets the criterion: the smallest of its three margins (≥ 0: all met).

        ``1 − |Δpeak| / peak_tolerance_nm``, ``(similarity − min_similarity) / (1 − min_similarity)`` and
        ``1 − strain / max_strain_ev``, each 1 at a perfect design and 0 on its threshold; ``floor``
        for a verdict without a score (none, unconverged, uncovered, no peak on the window) and as the
        lowest value (a design far off gains nothing by being farther). What a model-based method
        maximises.

        >>> from qdlib.verdict import Verdict
        >>> v = Verdict("valid", 20, 402.0, 2.0, 0.05, 0.97, True, 0.2, 2.6)
        >>> round(Criterion().margin(v), 2)  # the peak's margin, 1 − 2/5, is the smallest
        0.6
        >>> Criterion().margin(dataclasses.replace(v, status="uncovered"))
        -5.0
        """
        if verdict is None or not verdict.valid:
            return floor
        return self.margin_of(verdict.peak_error_nm, verdict.similarity, verdict.energy_above_reference_ev, floor)

    def margin_of(self, peak_error_nm: float, similarity: float, strain_ev: float, floor: float = -5.0) -> float:
        """:meth:`margin` from the three numbers (e.g. of a model's sampled spectrum); ``floor`` if one is NaN."""
        if not (np.isfinite(peak_error_nm) and np.isfinite(similarity)):
            return floor
        m = min(1.0 - abs(peak_error_nm) / self.peak_tolerance_nm,
                (similarity - self.min_similarity) / (1.0 - self.min_similarity),
                1.0 - strain_ev / self.max_strain_ev)  # fmt: skip
        return float(max(m, floor))


@dataclass(frozen=True)
class Confirmation:
    """A criterion's answer: ``confirmed``, or the names of what failed (``"peak"``, ``"shape"``,
    ``"strain"``, ``"distance"``; or the verdict's status, ``"unconverged"``/``"uncovered"``)."""

    confirmed: bool
    failures: tuple[str, ...] = ()


def target_name(shift_nm: float) -> str:
    """``"T0"``, ``"T+10"``, ``"T-10"``: the name of the target shifted by ``shift_nm``."""
    return "T0" if shift_nm == 0 else f"T{shift_nm:+g}"


def campaign_target(dot: str, kind: str, source, shift_nm: float = 0.0) -> Target:
    """The target of a campaign: the dot's own TD-DFT spectrum, its sticks moved by ``shift_nm``.

    The window's blue edge moves by ``shift_nm`` with the band (the red end stays at the grid's end).

    Parameters
    ----------
    dot : str
    kind : {"absorption", "emission"}
    source : store, dataset or path
        Where the dot's reference TD-DFT (covering its window) is stored.
    shift_nm : float
    """
    from ..verification import case_target

    target = case_target(dot, kind, source, shift_nm=shift_nm)
    if shift_nm and kind == "absorption":
        window = dataclasses.replace(target.window, blue_nm=target.window.blue_nm + shift_nm)
        target = dataclasses.replace(target, window=window)
    target.name = f"{dot} {kind} {target_name(shift_nm)}"
    return target


def covering_window(targets: Sequence[Target]) -> Window:
    """The window whose coverage covers every target's: the one reaching furthest to the blue.

    A design computed to cover it can be judged against each of ``targets`` (one TD-DFT call
    serves every target).

    >>> from qdlib.verdict import Window
    >>> t = [Target("absorption", np.zeros(1), Window("absorption", b, 798.4)) for b in (380.0, 370.0, 390.0)]
    >>> covering_window(t).blue_nm
    370.0
    """
    return min((t.window for t in targets), key=lambda w: np.inf if w.cover_nm is None else w.cover_nm)
