"""TD-DFT's own sensitivity: how far the central peak moves when atoms move a known distance.

The paper's Fig. 6(c) calibrates its judgement of designs by this curve: Cd6Se6's
designed atoms pushed by exactly 0.1–1 Å (:func:`qdlib.generate.sensitivity_set`),
the peak deviation from the undisplaced dot against the displacement
(:func:`sweep_deviations`, :func:`sensitivity_curve`), and its inverse: the
displacement a design's peak error corresponds to (:func:`equivalent_distance`).

>>> curve = sensitivity_curve([0.1, 0.1, 0.2], [2.0, -4.0, 9.0])
>>> curve.distance_angstrom.tolist(), curve.mean_nm.tolist(), curve.n.tolist()
([0.0, 0.1, 0.2], [0.0, 3.0, 9.0], [1, 2, 1])
>>> round(equivalent_distance(6.0, curve), 3)   # a 6 nm peak error: half-way between 0.1 and 0.2 Å
0.15
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from numpy.typing import ArrayLike, NDArray

from .references import tddft_peaks

__all__ = ["SensitivityCurve", "sweep_deviations", "sensitivity_curve", "equivalent_distance"]


@dataclass
class SensitivityCurve:
    """Central-peak deviation against displacement.

    Attributes
    ----------
    distance_angstrom : ndarray, shape (k,)
        Displacements, ascending (0 first: the reference).
    mean_nm, max_nm : ndarray, shape (k,)
        Mean and largest |peak − reference peak| over the geometries at each distance.
    n : ndarray of int, shape (k,)
        Geometries at each distance.
    """

    distance_angstrom: NDArray[np.float64]
    mean_nm: NDArray[np.float64]
    max_nm: NDArray[np.float64]
    n: NDArray[np.int64]


def sweep_deviations(frames: Sequence[Atoms], source, kind: str = "absorption", settings=None, line: int | None = None):
    """Peak deviations of a sensitivity sweep (:func:`qdlib.generate.sensitivity_set`) from its reference.

    Parameters
    ----------
    frames : sequence of ase.Atoms
        The sweep, its reference (``distance_angstrom`` 0) among them.
    source : qdlib.store.ResultStore, qdlib.tddft_data.TDDFTDataset or path
        Where the TD-DFT results are; frames not computed yet give NaN.
    kind : {"absorption", "emission"}
        Emission: the S1→S0 line at each geometry.
    settings, line
        As :func:`tddft_peaks` (``line=0``: the S1 wavelength, which moves even where S1 is dark).

    Returns
    -------
    distance_angstrom, deviation_nm : ndarray, shape (n,)
        Of the displaced frames: displacement, and peak minus the reference's peak.
    n_moved : ndarray of int, shape (n,)

    Raises
    ------
    ValueError
        If the reference is missing from ``frames`` or not computed.
    """
    peaks = tddft_peaks(frames, source, kind, settings, line)
    d = np.array([f.info["distance_angstrom"] for f in frames], dtype=float)
    n = np.array([f.info["n_movable"] for f in frames], dtype=int)
    ref = peaks[d == 0]
    if ref.size == 0 or not np.isfinite(ref[0]):
        raise ValueError("the sweep's reference (undisplaced) geometry is not among the frames or not computed")
    keep = d > 0
    return d[keep], peaks[keep] - ref[0], n[keep]


def sensitivity_curve(distances_angstrom: ArrayLike, deviations_nm: ArrayLike) -> SensitivityCurve:
    """Mean and largest |peak deviation| per displacement, with the origin (0 Å, 0 nm) added.

    Parameters
    ----------
    distances_angstrom : array_like, shape (m,)
        Displacement of each geometry (every moved atom by this much), Å.
    deviations_nm : array_like, shape (m,)
        Its peak minus the undisplaced dot's peak, nm (NaN entries are ignored).
    """
    d = np.asarray(distances_angstrom, dtype=float)
    dev = np.abs(np.asarray(deviations_nm, dtype=float))
    keep = np.isfinite(dev) & (d > 0)
    d, dev = d[keep], dev[keep]
    levels = np.unique(d)
    mean = [dev[d == x].mean() for x in levels]
    top = [dev[d == x].max() for x in levels]
    count = [(d == x).sum() for x in levels]
    return SensitivityCurve(np.r_[0.0, levels], np.r_[0.0, mean], np.r_[0.0, top], np.r_[1, count].astype(np.int64))


def equivalent_distance(peak_error_nm: ArrayLike, curve: SensitivityCurve) -> NDArray[np.float64] | float:
    """The displacement whose mean peak deviation equals ``peak_error_nm``, Å (the paper's Δd̄ from Fig. 6c).

    Inverts the curve's running maximum of the mean deviation by linear interpolation;
    errors beyond the curve's largest mean return NaN (no statement possible).
    """
    envelope = np.maximum.accumulate(curve.mean_nm)
    err = np.abs(np.asarray(peak_error_nm, dtype=float))
    # strictly increasing abscissa for np.interp: drop plateaus after their first point
    keep = np.r_[True, np.diff(envelope) > 0]
    out = np.interp(err, envelope[keep], curve.distance_angstrom[keep])
    out = np.where(err <= envelope[-1], out, np.nan)
    return float(out) if np.ndim(out) == 0 else out
