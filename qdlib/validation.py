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
from .structures import MIN_DISTANCE_ANGSTROM

__all__ = [
    "CaseValidation",
    "validate_case",
    "designed_structure",
    "design_frames",
    "find_stored",
    "Recheck",
    "recheck",
    "spectrum_peak",
    "tddft_peaks",
    "tddft_spectra",
    "recompute_stored",
    "sweep_deviations",
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
    target : ndarray, shape (n_bins,)
        The target spectrum, L mol⁻¹ cm⁻¹.
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
    target: NDArray[np.float64]
    target_peak_nm: float
    peaks_nm: NDArray[np.float64]
    loss: NDArray[np.float64]
    success: NDArray[np.bool_]
    wall_time_s: float

    @property
    def position_error_angstrom(self) -> NDArray[np.float64]:
        """Per design, the mean over designed atoms of their distance from the true positions, Å."""
        return np.linalg.norm(self.designs - self.true_positions, axis=-1).mean(axis=-1)

    @property
    def min_distance_angstrom(self) -> NDArray[np.float64]:
        """Per design, the shortest distance from a designed atom to any other atom, Å."""
        from .design import benchmark_target

        c = self.case
        base = benchmark_target(c.dot, c.kind, c.n_movable)[0]
        others = np.delete(base.positions, base.info["movable"], axis=0)
        to_others = np.linalg.norm(self.designs[:, :, None] - others[None, None], axis=-1).min(axis=(1, 2))
        if c.n_movable < 2:
            return to_others
        pair = np.linalg.norm(self.designs[:, :, None] - self.designs[:, None], axis=-1)
        pair[:, np.arange(c.n_movable), np.arange(c.n_movable)] = np.inf
        return np.minimum(to_others, pair.min(axis=(1, 2)))

    @property
    def start_error_angstrom(self) -> NDArray[np.float64]:
        """The same for the starts: what a design that did not move would score, Å."""
        return np.linalg.norm(self.starts - self.true_positions, axis=-1).mean(axis=-1)

    def summary(self) -> dict:
        """Success rate, peak and position errors (medians and means over all starts; the starts' own error beside),
        and the share of designs with atoms closer than :data:`~qdlib.structures.MIN_DISTANCE_ANGSTROM` (``overlapping``)."""
        dpeak = np.abs(self.peaks_nm - self.target_peak_nm)
        err = self.position_error_angstrom
        return dict(
            case=self.case.name, n=len(self.designs), success_rate=float(self.success.mean()),
            target_peak_nm=float(self.target_peak_nm), median_abs_peak_error_nm=_nanmedian(dpeak),
            mean_abs_peak_error_nm=float(np.mean(dpeak[np.isfinite(dpeak)])) if np.isfinite(dpeak).any() else float("nan"), median_position_error_angstrom=float(np.median(err)),
            mean_position_error_angstrom=float(err.mean()), within_1A=float((err < 1.0).mean()),
            median_start_error_angstrom=float(np.median(self.start_error_angstrom)),
            overlapping=float((self.min_distance_angstrom < MIN_DISTANCE_ANGSTROM).mean()),
            median_loss=float(np.median(self.loss)), wall_time_s=self.wall_time_s,
        )  # fmt: skip


def _nanmedian(x: ArrayLike) -> float:
    """Median of the finite entries; NaN (without a warning) when there are none (dark or missing spectra)."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    return float(np.median(x)) if x.size else float("nan")


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
        designs=result.positions.astype(float), target=np.asarray(task.target, dtype=float),
        target_peak_nm=spectrum_peak(task.target, case.kind),
        peaks_nm=spectrum_peak(spectra, case.kind), loss=result.loss.astype(float), success=result.success.astype(bool),
        wall_time_s=result.wall_time_s,
    )  # fmt: skip


def designed_structure(case: Case, positions: ArrayLike, **labels) -> Atoms:
    """The dot of ``case`` with its designed atoms at ``positions`` ``(n_movable, 3)`` (Å), labelled for TD-DFT.

    ``info``: ``kind``, ``dot``, ``edge_angstrom``, ``n_movable`` and ``labels`` (e.g. ``set``,
    ``start_index``): the keys the results store records and :func:`find_stored` matches on.
    """
    from .design import benchmark_target

    atoms = benchmark_target(case.dot, case.kind, case.n_movable)[0]
    atoms.positions[atoms.info["movable"]] = np.asarray(positions, dtype=float).reshape(case.n_movable, 3)
    atoms.info = dict(kind=case.kind, dot=case.dot, edge_angstrom=float(case.edge_angstrom), n_movable=int(case.n_movable), **labels)
    return atoms


def design_frames(validation: CaseValidation, indices: Sequence[int] | None = None) -> list[Atoms]:
    """The designed structures (of starts ``indices``, default all) as labelled :class:`ase.Atoms` for TD-DFT.

    ``info``: ``set="validation"``, ``start_index`` and the case (:func:`designed_structure`).
    """
    indices = range(len(validation.designs)) if indices is None else indices
    return [designed_structure(validation.case, validation.designs[i], set="validation", start_index=int(i)) for i in indices]


def find_stored(frames: Sequence[Atoms], source, tolerance_angstrom: float = 1e-3) -> list:
    """Stored TD-DFT results of ``frames``, found by their labels and a geometry match.

    A stored result counts for a frame if its labels equal the frame's ``info`` and every atom lies
    within ``tolerance_angstrom`` of the frame's. Designs come from float32 rollouts; matching by
    labels and a tolerance rather than by the exact geometry key keeps a lookup from hinging on the
    last digit (another seed, agent or machine that designed elsewhere finds nothing).

    Parameters
    ----------
    frames : sequence of ase.Atoms
        With scalar labels in ``info`` (:func:`designed_structure`).
    source : qdlib.tddft_data.TDDFTDataset, qdlib.store.ResultStore or path of a store
    tolerance_angstrom : float

    Returns
    -------
    list of (ase.Atoms, Excitations) or None
        Per frame, the stored geometry and its excitations, or None.
    """
    from .tddft_data import TDDFTDataset, entry_excitations

    out = []
    for frame in frames:
        if isinstance(source, TDDFTDataset):
            candidates = [(e, entry_excitations(e)) for e in source.select(**frame.info)]
        else:
            candidates = [(atoms, exc) for atoms, exc, _ in _source(source).select(**frame.info)]
        match = [(a, e) for a, e in candidates
                 if len(a) == len(frame) and np.abs(a.positions - frame.positions).max() <= tolerance_angstrom]  # fmt: skip
        out.append(match[0] if match else None)
    return out


@dataclass
class Recheck:
    """TD-DFT's verdict on the first designs of a :class:`CaseValidation`.

    Attributes
    ----------
    validation : CaseValidation
    done : ndarray of bool, shape (n,)
        Designs ``0 … n−1`` whose TD-DFT result was found.
    peaks_nm : ndarray, shape (n,)
        Central peaks of their TD-DFT spectra (NaN: not computed, or dark).
    loss : ndarray, shape (n,)
        The authors' loss of the TD-DFT spectrum against the target (NaN: not computed).
    threshold : float
        The termination loss that defines success.
    frames : list of ase.Atoms or None
        The stored geometries that were matched (None where not done).
    """

    validation: CaseValidation
    done: NDArray[np.bool_]
    peaks_nm: NDArray[np.float64]
    loss: NDArray[np.float64]
    threshold: float
    frames: list

    @property
    def success(self) -> NDArray[np.bool_]:
        """TD-DFT puts the design below the termination loss."""
        return self.done & (np.nan_to_num(self.loss, nan=np.inf) < self.threshold)

    def summary(self) -> dict:
        """Over the rechecked designs: peak errors against the target and the surrogate, success by both judges;
        ``overlapping``: of the first ``n`` designs, those TD-DFT cannot check (atoms closer than the minimum)."""
        v, k = self.validation, self.done
        n = len(self.done)
        surrogate_ok = v.success[:n][k]
        td_ok = self.success[k]
        nan = float("nan")
        return dict(
            case=v.case.name, n=int(k.sum()),
            median_abs_peak_error_nm=_nanmedian(np.abs(self.peaks_nm[k] - v.target_peak_nm)),
            median_abs_surrogate_gap_nm=_nanmedian(np.abs(self.peaks_nm[k] - v.peaks_nm[:n][k])),
            tddft_success_rate=float(td_ok.mean()) if k.any() else nan,
            surrogate_success_rate=float(surrogate_ok.mean()) if k.any() else nan,
            false_success=int((surrogate_ok & ~td_ok).sum()), missed_success=int((td_ok & ~surrogate_ok).sum()),
            median_position_error_angstrom=float(np.median(v.position_error_angstrom[:n][k])) if k.any() else nan,
            overlapping=int((v.min_distance_angstrom[:n] < MIN_DISTANCE_ANGSTROM).sum()),
        )  # fmt: skip


def recheck(validation: CaseValidation, source, n: int | None = None, threshold: float | None = None,
            tolerance_angstrom: float = 1e-3) -> Recheck:  # fmt: skip
    """TD-DFT's verdict on the first ``n`` designs (default all) of ``validation``, from stored results.

    Results are found by :func:`find_stored` (labels ``set="validation"``, the case and
    ``start_index``, and the geometry within ``tolerance_angstrom``).

    Parameters
    ----------
    validation : CaseValidation
    source : qdlib.tddft_data.TDDFTDataset, qdlib.store.ResultStore or path of a store
    n : int, optional
    threshold : float, optional
        Success threshold on the authors' loss (default: the design tasks' termination loss).
    tolerance_angstrom : float
    """
    from .design import LOSS_SCALE, DesignConfig
    from .spectra import authors_loss, wavelength_grid

    kind = validation.case.kind
    n = len(validation.designs) if n is None else min(n, len(validation.designs))
    found = find_stored(design_frames(validation, range(n)), source, tolerance_angstrom)
    spec = np.full((n, wavelength_grid(kind).size), np.nan)
    for i, hit in enumerate(found):
        if hit is not None:
            spec[i] = hit[1].spectrum(kind)
    done = np.isfinite(spec).all(axis=1)
    return Recheck(validation, done, np.asarray(spectrum_peak(spec, kind), dtype=float).reshape(n),
                   np.asarray(authors_loss(spec, validation.target, LOSS_SCALE[kind]), dtype=float).reshape(n),
                   DesignConfig().termination_loss if threshold is None else threshold,
                   [None if hit is None else hit[0] for hit in found])  # fmt: skip


def tddft_peaks(frames: Sequence[Atoms], store, kind: str, settings=None, line: int | None = None) -> NDArray[np.float64]:
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
    line : int, optional
        Instead of the spectrum's peak, the wavelength of excitation ``line`` (0: S1), bright or dark.
    """
    from .qchem import TDDFTSettings

    if line is None:
        return np.asarray(spectrum_peak(tddft_spectra(frames, store, kind, settings), kind), dtype=float).reshape(len(frames))
    store, settings = _source(store), settings or TDDFTSettings()
    out = np.full(len(frames), np.nan)
    for i, atoms in enumerate(frames):
        exc = store.get(atoms, settings)
        if exc is not None:
            out[i] = exc.wavelengths_nm[line]
    return out


def _source(source):
    """A results source: anything with ``get(atoms, settings)``, or a path of a results store."""
    from .store import ResultStore

    return source if hasattr(source, "get") else ResultStore(source)


def tddft_spectra(frames: Sequence[Atoms], source, kind: str, settings=None) -> NDArray[np.float64]:
    """Broadened TD-DFT spectra ``(n, n_bins)`` of ``frames`` from ``source`` (as :func:`tddft_peaks`); NaN rows where not stored."""
    from .qchem import TDDFTSettings
    from .spectra import wavelength_grid

    source, settings = _source(source), settings or TDDFTSettings()
    out = np.full((len(frames), wavelength_grid(kind).size), np.nan)
    for i, atoms in enumerate(frames):
        exc = source.get(atoms, settings)
        if exc is not None:
            out[i] = exc.spectrum(kind)
    return out


def recompute_stored(atoms: Atoms, source, settings=None, options=None, kind: str = "absorption") -> dict:
    """Run TD-DFT of ``atoms`` again, bypassing ``source``, and compare with the stored result.

    Returns
    -------
    dict
        ``max_abs_energy_ev`` (largest excitation-energy difference), ``peak_nm``
        (|difference| of the central peaks of ``kind``), ``wall_time_s`` and ``backend`` of the rerun.

    Raises
    ------
    KeyError
        If ``source`` holds no result for ``atoms``.
    """
    from .qchem import TDDFTSettings, excitations

    source, settings = _source(source), settings or TDDFTSettings()
    stored = source.get(atoms, settings)
    if stored is None:
        raise KeyError("no stored result for this geometry at these settings")
    fresh = excitations(atoms, settings, options)
    return dict(
        max_abs_energy_ev=float(np.max(np.abs(fresh.energies_ev - stored.energies_ev))),
        peak_nm=float(abs(spectrum_peak(fresh.spectrum(kind), kind) - spectrum_peak(stored.spectrum(kind), kind))),
        wall_time_s=fresh.wall_time_s, backend=fresh.backend,
    )  # fmt: skip


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
