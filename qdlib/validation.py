"""Designed structures against TD-DFT (notebook 04) and TD-DFT's own sensitivity (notebook 05).

The paper's Fig. 6 judges each trained designer by the central peak of the
spectrum of the structures it designs from 100 random starts, against the
target's; Fig. 6(c) calibrates that judgement by how far TD-DFT's peak moves
when Cd6Se6's atoms are pushed a known distance from their places.

:func:`validate_case`
    Deploy a saved agent from seeded random starts; the designs with their
    surrogate peaks, losses, success and distance from the true positions.
:func:`design_frames`
    Designed structures as :class:`ase.Atoms` labelled for the results store
    (``set="validation"``), to be recomputed by TD-DFT.
:func:`tddft_peaks`
    Peaks (and losses) of stored TD-DFT results of frames, NaN where not computed.
:func:`sensitivity_curve`, :func:`equivalent_distance`
    Peak deviation against displacement, and its inverse: the displacement
    a peak error corresponds to.

>>> v = validate_case(Case("absorption", "Cd6Se6", 4.0, 1))     # doctest: +SKIP
>>> v.success.mean(), np.median(v.position_error_angstrom)       # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from numpy.typing import ArrayLike, NDArray

from .agents import Case

__all__ = [
    "CaseValidation",
    "validate_case",
    "design_frames",
    "spectrum_peak",
    "tddft_peaks",
    "SensitivityCurve",
    "sensitivity_curve",
    "equivalent_distance",
]

#: A spectrum whose maximum is below this (L mol⁻¹ cm⁻¹) has no peak (a dark S1 emits nothing).
DARK_EPSILON = 1.0


def spectrum_peak(spectrum: ArrayLike, kind: str) -> NDArray[np.float64] | float:
    """Central (maximum) peak wavelength of spectra on the paper grid of ``kind``, nm; NaN for a dark spectrum."""
    from .spectra import peak_wavelength, wavelength_grid

    y = np.asarray(spectrum, dtype=float)
    peak = np.where(y.max(axis=-1) > DARK_EPSILON, peak_wavelength(y, wavelength_grid(kind)), np.nan)
    return float(peak) if np.ndim(peak) == 0 else peak


@dataclass
class CaseValidation:
    """A saved designer deployed from random starts.

    Attributes
    ----------
    case : Case
    true_positions : ndarray, shape (n_movable, 3)
        The designed atoms' positions in the target dot, Å.
    starts, designs : ndarray, shape (n, n_movable, 3)
        Start and final positions of the designed atoms, Å.
    target_peak_nm : float
        Central peak of the target spectrum.
    peaks_nm : ndarray, shape (n,)
        Central peaks of the designs' surrogate spectra (the forward model the agent used).
    loss : ndarray, shape (n,)
        The authors' loss of each design (forward model).
    success : ndarray of bool, shape (n,)
        Below the termination loss inside the cuboid.
    wall_time_s : float
        Time of the batched rollout.
    """

    case: Case
    true_positions: NDArray[np.float64]
    starts: NDArray[np.float64]
    designs: NDArray[np.float64]
    target_peak_nm: float
    peaks_nm: NDArray[np.float64]
    loss: NDArray[np.float64]
    success: NDArray[np.bool_]
    wall_time_s: float

    @property
    def position_error_angstrom(self) -> NDArray[np.float64]:
        """Per design, the mean over designed atoms of their distance from the true positions, Å."""
        return np.linalg.norm(self.designs - self.true_positions, axis=-1).mean(axis=-1)

    def summary(self) -> dict:
        """Success rate, peak and position errors (medians and means over all starts)."""
        dpeak = np.abs(self.peaks_nm - self.target_peak_nm)
        err = self.position_error_angstrom
        return dict(
            case=self.case.name, n=len(self.designs), success_rate=float(self.success.mean()),
            target_peak_nm=float(self.target_peak_nm), median_abs_peak_error_nm=float(np.nanmedian(dpeak)),
            mean_abs_peak_error_nm=float(np.nanmean(dpeak)), median_position_error_angstrom=float(np.median(err)),
            mean_position_error_angstrom=float(err.mean()), within_1A=float((err < 1.0).mean()),
            median_loss=float(np.median(self.loss)), wall_time_s=self.wall_time_s,
        )  # fmt: skip


def validate_case(case: Case, n_starts: int = 100, seed: int = 0, root=None) -> CaseValidation:
    """Deploy the saved agent of ``case`` from ``n_starts`` random starts in its cuboids.

    Parameters
    ----------
    case : Case
    n_starts : int
        The paper: 100.
    seed : int
        Seeds the starts (the same starts for every case with the same number of atoms and edge).
    root : path, optional
        Agents directory (default: the released ``data/agents``, hash-checked).
    """
    import torch

    from .agents import load_case

    agent, _ = load_case(case, root)
    task = agent.task
    starts = task.sample_starts(n_starts, torch.Generator().manual_seed(seed))
    result = agent.design(starts)
    with torch.no_grad():
        spectra = task.spectra(torch.as_tensor(result.positions, device=task.device)).cpu().numpy()
    return CaseValidation(
        case=case, true_positions=task.centre.cpu().numpy().astype(float), starts=starts.cpu().numpy().astype(float),
        designs=result.positions.astype(float), target_peak_nm=spectrum_peak(task.target, case.kind),
        peaks_nm=spectrum_peak(spectra, case.kind), loss=result.loss.astype(float), success=result.success.astype(bool),
        wall_time_s=result.wall_time_s,
    )  # fmt: skip


def design_frames(validation: CaseValidation, indices: Sequence[int] | None = None) -> list[Atoms]:
    """The designed structures (of starts ``indices``, default all) as labelled :class:`ase.Atoms` for TD-DFT.

    ``info``: ``set="validation"``, ``kind``, ``dot``, ``edge_angstrom``, ``n_movable``,
    ``start_index`` (the keys the results store records).
    """
    from .design import benchmark_target

    c = validation.case
    base, _ = benchmark_target(c.dot, c.kind, c.n_movable)
    movable = base.info["movable"]
    out = []
    for i in range(len(validation.designs)) if indices is None else indices:
        atoms = base.copy()
        atoms.positions[movable] = validation.designs[i]
        atoms.info = dict(set="validation", kind=c.kind, dot=c.dot, edge_angstrom=float(c.edge_angstrom),
                          n_movable=int(c.n_movable), start_index=int(i))  # fmt: skip
        out.append(atoms)
    return out


def tddft_peaks(frames: Sequence[Atoms], store, kind: str, settings=None) -> NDArray[np.float64]:
    """Central peaks of the stored TD-DFT spectra of ``frames`` (``kind``), nm; NaN where not stored or dark.

    Parameters
    ----------
    frames : sequence of ase.Atoms
    store : qdlib.store.ResultStore, qdlib.tddft_data.TDDFTDataset or path
        Where the results are (anything with ``get(atoms, settings)``; a path opens a store).
    kind : {"absorption", "emission"}
        Emission: the S1→S0 line at the frame's geometry.
    settings : qdlib.qchem.TDDFTSettings, optional
        Default: the paper settings.
    """
    from .qchem import TDDFTSettings
    from .store import ResultStore

    store = store if hasattr(store, "get") else ResultStore(store)
    settings = settings or TDDFTSettings()
    out = np.full(len(frames), np.nan)
    for i, atoms in enumerate(frames):
        exc = store.get(atoms, settings)
        if exc is not None:
            out[i] = spectrum_peak(exc.spectrum(kind), kind)
    return out


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
