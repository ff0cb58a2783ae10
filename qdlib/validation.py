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

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from numpy.typing import ArrayLike, NDArray

from .agents import Case
from .structures import MIN_DISTANCE_ANGSTROM
from .verdict import COVER_MAX_STATES, Target, Window, judge, target_window

log = logging.getLogger(__name__)

__all__ = [
    "CaseValidation",
    "validate_case",
    "designed_structure",
    "design_frames",
    "find_stored",
    "Recheck",
    "recheck",
    "reference_frame",
    "case_target",
    "compute_rechecks",
    "compute_covering",
    "compute_references",
    "case_window",
    "cover_label",
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
    start_success : ndarray of bool, shape (n,)
        The random starts themselves below the termination loss (forward model): what a designer
        that never moved would score.
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
    start_success: NDArray[np.bool_] | None = None

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
            start_success_rate=float(np.mean(self.start_success)) if self.start_success is not None else float("nan"),
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
        start_loss = task.loss(task.spectra(starts.to(task.device))).cpu().numpy()
    return CaseValidation(
        case=case, true_positions=task.centre.cpu().numpy().astype(float), starts=starts.cpu().numpy().astype(float),
        designs=result.positions.astype(float), target=np.asarray(task.target, dtype=float),
        target_peak_nm=spectrum_peak(task.target, case.kind),
        peaks_nm=spectrum_peak(spectra, case.kind), loss=result.loss.astype(float), success=result.success.astype(bool),
        wall_time_s=result.wall_time_s, start_success=start_loss < task.config.termination_loss,
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


def design_frames(validation: CaseValidation, indices: Sequence[int] | None = None, window: Window | None = None) -> list[Atoms]:
    """The designed structures (of starts ``indices``, default all) as labelled :class:`ase.Atoms` for TD-DFT.

    ``info``: ``set="validation"``, ``start_index`` and the case (:func:`designed_structure`); with
    ``window``, the ``cover_nm`` its TD-DFT must reach (:mod:`qdlib.verdict`).
    """
    indices = range(len(validation.designs)) if indices is None else indices
    extra = {} if window is None else cover_label(window)
    return [designed_structure(validation.case, validation.designs[i], set="validation", start_index=int(i), **extra)
            for i in indices]  # fmt: skip


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
        match.sort(key=lambda hit: -hit[1].energies_ev.size)  # the one with most states
        out.append(match[0] if match else None)
    return out


@dataclass
class Recheck:
    """TD-DFT's verdicts (:mod:`qdlib.verdict`) on the first designs of a :class:`CaseValidation`.

    Attributes
    ----------
    validation : CaseValidation
    target : qdlib.verdict.Target
        The case's target, complete on its window.
    verdicts : list of qdlib.verdict.Verdict or None
        Per design ``0 … n−1``: its verdict, or None where no TD-DFT result was found.
    frames : list of ase.Atoms or None
        The stored geometries that were matched (None where not found).
    threshold : float
        The authors' loss below which a design is a success.
    """

    validation: CaseValidation
    target: Target
    verdicts: list
    frames: list
    threshold: float

    def _field(self, name: str, missing=np.nan) -> NDArray:
        return np.array([missing if v is None else getattr(v, name) for v in self.verdicts])

    @property
    def status(self) -> NDArray[np.str_]:
        """Per design: ``"valid"``, ``"unconverged"``, ``"uncovered"`` or ``"missing"`` (not computed)."""
        return self._field("status", "missing").astype(str)

    @property
    def done(self) -> NDArray[np.bool_]:
        """Designs with a valid verdict (converged, window covered)."""
        return self.status == "valid"

    @property
    def peaks_nm(self) -> NDArray[np.float64]:
        """Central peaks on the window (NaN: no verdict, or no peak inside the window)."""
        return np.where(self.done, self._field("peak_nm").astype(float), np.nan)

    @property
    def loss(self) -> NDArray[np.float64]:
        """The authors' loss on the window (NaN: no verdict)."""
        return np.where(self.done, self._field("loss").astype(float), np.nan)

    @property
    def success(self) -> NDArray[np.bool_]:
        """TD-DFT puts the design below the threshold (valid verdicts only)."""
        return self.done & (np.nan_to_num(self.loss, nan=np.inf) < self.threshold)

    @property
    def energy_above_reference_ev(self) -> NDArray[np.float64]:
        """DFT energy above the undisplaced dot, eV (NaN: not computed)."""
        return self._field("energy_above_reference_ev").astype(float)

    def summary(self) -> dict:
        """Valid verdicts and what they say, beside the results that are no verdict.

        ``n``: valid verdicts; ``unconverged``, ``uncovered``: computed but not judged; ``tda_fallback``:
        valid verdicts whose excitations are Tamm–Dancoff's (full TDDFT had no real solution there);
        ``tddft_success`` of ``n`` with its 95 % Wilson interval (``ci_low``, ``ci_high``);
        the surrogate's success on the same designs; peak errors on the window; median energy
        above the reference and shortest distance of the judged designs; ``overlapping``: of the
        first designs, those with atoms closer than the minimum (not computed).
        """
        from .stats import binomial_interval

        v, k = self.validation, self.done
        n = len(self.verdicts)
        status = self.status
        td_ok = self.success[k]
        surrogate_ok = v.success[:n][k]
        lo, hi = binomial_interval(int(td_ok.sum()), int(k.sum()))
        nan = float("nan")
        return dict(
            case=v.case.name, n=int(k.sum()), unconverged=int((status == "unconverged").sum()),
            uncovered=int((status == "uncovered").sum()), tda_fallback=int((self._field("tda", False).astype(bool) & k).sum()),
            tddft_success=int(td_ok.sum()), tddft_success_rate=float(td_ok.mean()) if k.any() else nan,
            ci_low=lo, ci_high=hi,
            surrogate_success_rate=float(surrogate_ok.mean()) if k.any() else nan,
            false_success=int((surrogate_ok & ~td_ok).sum()), missed_success=int((td_ok & ~surrogate_ok).sum()),
            median_abs_peak_error_nm=_nanmedian(np.abs(self.peaks_nm[k] - self.target.peak_nm)),
            median_abs_surrogate_gap_nm=_nanmedian(np.abs(self.peaks_nm[k] - v.peaks_nm[:n][k])),
            median_loss=_nanmedian(self.loss[k]),
            median_energy_above_reference_ev=_nanmedian(self.energy_above_reference_ev[k]),
            median_min_distance_angstrom=_nanmedian(self._field("min_distance_angstrom").astype(float)[k]),
            median_position_error_angstrom=float(np.median(v.position_error_angstrom[:n][k])) if k.any() else nan,
            overlapping=int((v.min_distance_angstrom[:n] < MIN_DISTANCE_ANGSTROM).sum()),
        )  # fmt: skip


def cover_label(window: Window) -> dict:
    """The label that marks results asked to cover ``window`` (none for emission, complete with S1)."""
    return {} if window.cover_nm is None else {"cover_nm": round(float(window.cover_nm), 2)}


def reference_frame(dot: str, kind: str, window: Window | None = None) -> Atoms:
    """The undisplaced benchmark dot labelled ``set="reference"`` (and its window's ``cover_nm``)."""
    from .design import benchmark_target

    atoms, target = benchmark_target(dot, kind, 1)
    window = window or target_window(target, kind)
    atoms.info = dict(set="reference", dot=dot, kind=kind, **cover_label(window))
    return atoms


def case_target(dot: str, kind: str, source, shift_nm: float = 0.0) -> Target:
    """The target of ``dot``'s ``kind``, from its reference TD-DFT (covering the window) in ``source``.

    Raises
    ------
    LookupError
        If the reference has not been computed (``qdlib verify`` computes it first).
    """
    from .design import benchmark_target

    paper = benchmark_target(dot, kind, 1)[1]
    hit = find_stored([reference_frame(dot, kind)], source)[0]
    if hit is None:
        where = getattr(source, "url", None) or type(source).__name__
        raise LookupError(f"no reference TD-DFT of {dot} ({kind}) covering its window in {where}; "
                          f"`qdlib verify --dots {dot} --references-only` computes it")  # fmt: skip
    return Target.from_reference(hit[1], paper, kind, name=f"{dot} {kind}", shift_nm=shift_nm)


def recheck(validation: CaseValidation, source, target: Target | None = None, n: int | None = None,
            threshold: float | None = None, tolerance_angstrom: float = 1e-3) -> Recheck:  # fmt: skip
    """TD-DFT's verdicts on the first ``n`` designs (default all) of ``validation``, from stored results.

    Results are found by :func:`find_stored` (labels ``set="validation"``, the case, ``start_index``
    and the window's ``cover_nm``, the geometry within ``tolerance_angstrom``) and judged by
    :func:`qdlib.verdict.judge`.

    Parameters
    ----------
    validation : CaseValidation
    source : qdlib.tddft_data.TDDFTDataset, qdlib.store.ResultStore or path of a store
    target : qdlib.verdict.Target, optional
        Default: the case's reference target from ``source`` (:func:`case_target`).
    n : int, optional
    threshold : float, optional
        Success threshold on the authors' loss (default: the design tasks' termination loss).
    tolerance_angstrom : float
    """
    from .design import DesignConfig

    case = validation.case
    target = target or case_target(case.dot, case.kind, source)
    threshold = DesignConfig().termination_loss if threshold is None else threshold
    n = len(validation.designs) if n is None else min(n, len(validation.designs))
    frames = design_frames(validation, range(n), target.window)
    found = find_stored(frames, source, tolerance_angstrom)
    verdicts = [None if hit is None else judge(hit[0], hit[1], target, threshold) for hit in found]
    return Recheck(validation, target, verdicts, [None if hit is None else hit[0] for hit in found], threshold)


def compute_rechecks(
    validations: Sequence[CaseValidation],
    n_valid: int | Sequence[int],
    store,
    settings=None,
    options=None,
    executor=None,
    max_states: int = COVER_MAX_STATES,
) -> dict[str, Recheck]:
    """Compute TD-DFT of designs until each case has ``n_valid`` valid verdicts (or runs out of designs).

    First the reference of every dot (states covering its window: the target), then, in rounds,
    the next design of each case that still needs verdicts — in start order, skipping designs with
    atoms closer than :data:`~qdlib.structures.MIN_DISTANCE_ANGSTROM` (no molecule). A result that
    did not converge or did not cover the window at ``max_states`` states is stored, counts as no
    verdict, and the next design is taken. Every result is written to ``store`` as it finishes, so
    a killed run resumes without recomputing.

    Parameters
    ----------
    validations : sequence of CaseValidation
    n_valid : int or sequence of int
        Valid verdicts wanted per case.
    store : qdlib.store.ResultStore or path
    settings, options : TDDFTSettings, EngineOptions, optional
    executor : optional
        As :func:`qdlib.compute.compute_many`.
    max_states : int

    Returns
    -------
    dict of str to Recheck
        By case name, the verdicts on each case's designs up to the last one looked at.
    """
    store = _source(store)
    wanted = dict(zip([v.case.name for v in validations], [n_valid] * len(validations) if np.ndim(n_valid) == 0 else n_valid))

    def compute(frames: list[Atoms], window: Window) -> None:
        compute_covering(frames, window, store, settings, options, executor, max_states)

    targets = compute_references(sorted({(v.case.dot, v.case.kind) for v in validations}), store, settings, options,
                                 executor, max_states)  # fmt: skip

    queue = {v.case.name: [i for i in range(len(v.designs)) if v.min_distance_angstrom[i] >= MIN_DISTANCE_ANGSTROM]
             for v in validations}  # fmt: skip
    looked = {v.case.name: 0 for v in validations}
    while True:
        todo: dict[tuple, list[Atoms]] = {}
        for v in validations:
            name, target = v.case.name, targets[v.case.dot, v.case.kind]
            while queue[name] and recheck(v, store, target, looked[name]).summary()["n"] < wanted[name]:
                i = queue[name].pop(0)
                looked[name] = i + 1
                if find_stored(design_frames(v, [i], target.window), store)[0] is None:
                    todo.setdefault((v.case.kind, v.case.dot), []).extend(design_frames(v, [i], target.window))
                    break
        if not todo:
            break
        log.info("computing %d design(s): %s", sum(map(len, todo.values())),
                 ", ".join(f"{f.info['dot']} {f.info['edge_angstrom']:g} Å {f.info['n_movable']} at. #{f.info['start_index']}"
                           for fs in todo.values() for f in fs))  # fmt: skip
        for (kind, dot), frames in todo.items():
            compute(frames, targets[dot, kind].window)
    return {v.case.name: recheck(v, store, targets[v.case.dot, v.case.kind], looked[v.case.name]) for v in validations}


def compute_covering(frames: Sequence[Atoms], window: Window, store, settings=None, options=None, executor=None,
                     max_states: int = COVER_MAX_STATES):  # fmt: skip
    """TD-DFT of ``frames`` with states solved for until they cover ``window``, into ``store`` (labels: the scalars of ``info``).

    Stored under :func:`~qdlib.store.covered_key` (found done on a rerun); emission windows need S1
    alone and are computed at ``settings`` as they are. Returns the :class:`~qdlib.compute.BatchReport`.
    """
    import functools

    from .compute import compute_many
    from .qchem import EngineOptions, TDDFTSettings, excitations, result_key
    from .store import covered_key

    settings, options = settings or TDDFTSettings(), options or EngineOptions()
    if window.cover_nm is None:
        fn, key = excitations, result_key
    else:
        cover = round(float(window.cover_nm), 2)
        fn = functools.partial(excitations, cover_nm=cover, max_states=max_states)
        key = functools.partial(covered_key, cover_nm=cover, max_states=max_states)
    report = compute_many(frames, settings, options, store=_source(store), executor=executor, compute=fn, key=key,
                          labels=lambda i, atoms: _scalar_labels(atoms), progress=False)  # fmt: skip
    for i, err in report.failures.items():
        log.warning("%s: %s", frames[i].info, err)
    return report


def _scalar_labels(atoms: Atoms) -> dict:
    """The scalar entries of ``atoms.info``: what a results store keeps as searchable labels."""
    return {k: v for k, v in atoms.info.items() if isinstance(v, (str, bool, int, float, np.integer, np.floating))}


def compute_references(dots_kinds: Sequence[tuple[str, str]], store, settings=None, options=None, executor=None,
                       max_states: int = COVER_MAX_STATES) -> dict[tuple[str, str], Target]:  # fmt: skip
    """The targets of ``(dot, kind)`` pairs: each undisplaced dot's TD-DFT covering its window, computed
    into ``store`` where missing (:func:`compute_covering`), as :class:`~qdlib.verdict.Target` objects."""
    targets = {}
    for dot, kind in dots_kinds:
        compute_covering([reference_frame(dot, kind)], case_window(dot, kind), store, settings, options, executor, max_states)
        targets[dot, kind] = t = case_target(dot, kind, store)
        n = find_stored([reference_frame(dot, kind)], store)[0][1].energies_ev.size
        log.info("target %s: window %.1f–%.1f nm, reference %d states, peak %.1f nm", t.name, t.window.blue_nm,
                 t.window.red_nm, n, t.peak_nm)  # fmt: skip
    return targets


def case_window(dot: str, kind: str) -> Window:
    """The comparison window of ``dot``'s target of ``kind`` (:func:`qdlib.verdict.target_window` of the paper's target)."""
    from .design import benchmark_target

    return target_window(benchmark_target(dot, kind, 1)[1], kind)


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
