"""TD-DFT's verdicts on designed structures: find them in a store, compute what is missing, judge.

The paper's Fig. 6 judges each trained designer by the spectra of the structures
it designs; here TD-DFT recomputes them and :func:`qdlib.verdict.judge` compares
each with its case's target on a window that both spectra cover.

:func:`designed_structure`, :func:`design_frames`
    Designs as :class:`ase.Atoms` labelled for the results store (``set="validation"``).
:func:`find_stored`
    Stored TD-DFT results of frames, matched by labels and geometry.
:func:`recheck`, :class:`Recheck`
    The verdicts on a :class:`~qdlib.agents.CaseValidation`'s first designs.
:func:`compute_rechecks`, :func:`compute_references`, :func:`compute_covering`
    TD-DFT of the references (the targets) and of designs until each case has enough valid verdicts.
:func:`compute_pso_designs`
    TD-DFT of the particle swarm's best designs of a case, judged as the agents' are.
:func:`tddft_spectra`, :func:`tddft_peaks`
    Spectra and peaks of stored results (NaN where not computed).

>>> window = Window("absorption", blue_nm=396.8, red_nm=798.4)
>>> cover_label(window)           # the label of results whose states reach 3σ beyond 396.8 nm
{'cover_nm': 355.84}
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms
from numpy.typing import ArrayLike, NDArray

from .agents import Case, CaseValidation, pso_designs
from .compute import compute_many
from .design import DesignConfig, benchmark_target
from . import qchem
from .qchem import EngineOptions, TDDFTSettings, result_key
from .spectra import spectrum_peak, wavelength_grid
from .stats import binomial_interval, finite_median
from .store import ResultStore, covered_key
from .structures import MIN_DISTANCE_ANGSTROM
from .tddft_data import TDDFTDataset, entry_excitations
from .verdict import COVER_MAX_STATES, Target, Window, judge, target_window

log = logging.getLogger(__name__)

__all__ = [
    "designed_structure",
    "design_frames",
    "find_stored",
    "Recheck",
    "recheck",
    "reference_frame",
    "case_target",
    "case_window",
    "cover_label",
    "compute_rechecks",
    "compute_covering",
    "compute_references",
    "compute_pso_designs",
    "stored_excitations",
    "tddft_spectra",
    "tddft_peaks",
    "recompute_stored",
]


def designed_structure(case: Case, positions: ArrayLike, **labels) -> Atoms:
    """The dot of ``case`` with its designed atoms at ``positions`` ``(n_movable, 3)`` (Å), labelled for TD-DFT.

    ``info``: ``kind``, ``dot``, ``edge_angstrom``, ``n_movable`` and ``labels`` (e.g. ``set``,
    ``start_index``): the keys the results store records and :func:`find_stored` matches on.
    """
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
        first designs, those with atoms closer than the minimum (not computed); ``unmoved``: valid
        verdicts on designs the designer did not move (the start itself, which the forward model
        already accepted: a verdict on the start, not on the designer).
        """
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
            median_abs_peak_error_nm=finite_median(np.abs(self.peaks_nm[k] - self.target.peak_nm)),
            median_abs_surrogate_gap_nm=finite_median(np.abs(self.peaks_nm[k] - v.peaks_nm[:n][k])),
            median_loss=finite_median(self.loss[k]),
            median_energy_above_reference_ev=finite_median(self.energy_above_reference_ev[k]),
            median_min_distance_angstrom=finite_median(self._field("min_distance_angstrom").astype(float)[k]),
            median_position_error_angstrom=float(np.median(v.position_error_angstrom[:n][k])) if k.any() else nan,
            overlapping=int((v.min_distance_angstrom[:n] < MIN_DISTANCE_ANGSTROM).sum()),
            unmoved=int((~v.moved[:n] & k).sum()),
        )  # fmt: skip


def cover_label(window: Window) -> dict:
    """The label that marks results asked to cover ``window`` (none for emission, complete with S1)."""
    return {} if window.cover_nm is None else {"cover_nm": round(float(window.cover_nm), 2)}


def reference_frame(dot: str, kind: str, window: Window | None = None) -> Atoms:
    """The undisplaced benchmark dot labelled ``set="reference"`` (and its window's ``cover_nm``)."""
    atoms, target = benchmark_target(dot, kind, 1)
    window = window or target_window(target, kind)
    atoms.info = dict(set="reference", dot=dot, kind=kind, **cover_label(window))
    return atoms


def warm_start_point(atoms: Atoms, name: str, cover_nm: float | None, settings=None, options=None,
                     max_states: int = COVER_MAX_STATES) -> str:  # fmt: skip
    """Path of a reference structure's solution to start nearby geometries from, computed if missing.

    The point (:mod:`qdlib.qchem.warmstart`: SCF orbitals, excitation vectors) of ``atoms`` solved
    with states covering ``cover_nm``, kept once per machine under ``warm/`` of
    ``options.checkpoint_dir`` (default :func:`qdlib.paths.checkpoints_dir`), named after ``name``,
    the covering wavelength and the state cap. Pass the path as ``EngineOptions(warm_start=...)``.
    Processes asking for the same point take turns (an operating-system lock on ``<path>.lock``):
    the first computes it, the others wait and read it.
    """
    from filelock import FileLock

    from .paths import checkpoints_dir

    settings, options = settings or TDDFTSettings(), options or EngineOptions()
    folder = Path(options.checkpoint_dir or checkpoints_dir()) / "warm"
    cover = "" if cover_nm is None else f"_cover{cover_nm:.2f}nm_max{max_states}"
    path = str(folder / f"{name}{cover}.chk")
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{path}.lock"):
        if not os.path.isfile(path) or not os.path.isfile(path + ".xy.npz"):
            log.info("%s: computing the warm-start point %s", name, path)
            qchem.excitations(atoms, settings, options, cover_nm=cover_nm, max_states=max_states, save_warm_start_to=path)
    return path


def case_target(dot: str, kind: str, source, shift_nm: float = 0.0) -> Target:
    """The target of ``dot``'s ``kind``, from its reference TD-DFT (covering the window) in ``source``.

    Raises
    ------
    LookupError
        If the reference has not been computed (``qdlib verify`` computes it first).
    """
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
    retry_failed: bool = False,
) -> dict[str, Recheck]:
    """Compute TD-DFT of designs until each case has ``n_valid`` valid verdicts (or runs out of designs).

    First the reference of every dot (states covering its window: the target), then, in rounds,
    the next design of each case that still needs verdicts — in start order, skipping designs with
    atoms closer than :data:`~qdlib.structures.MIN_DISTANCE_ANGSTROM` (no molecule). A result that
    did not converge or did not cover the window at ``max_states`` states is stored, counts as no
    verdict, and the next design is taken; so is one whose TD-DFT raised (remembered in the store: not
    tried again on a rerun unless ``retry_failed``). Every result is written to ``store`` as it
    finishes, so a killed run resumes without recomputing.

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
        compute_covering(frames, window, store, settings, options, executor, max_states, retry_failed)

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
                     max_states: int = COVER_MAX_STATES, retry_failed: bool = False):  # fmt: skip
    """TD-DFT of ``frames`` with states solved for until they cover ``window``, into ``store`` (labels: the scalars of ``info``).

    Stored under :func:`~qdlib.store.covered_key` (found done on a rerun); emission windows need S1
    alone and are computed at ``settings`` as they are. A calculation that failed in an earlier run is
    not tried again unless ``retry_failed`` (:func:`~qdlib.compute.compute_many`). Returns the
    :class:`~qdlib.compute.BatchReport`.
    """
    settings, options = settings or TDDFTSettings(), options or EngineOptions()
    if window.cover_nm is None:
        fn, key = qchem.excitations, result_key
    else:
        cover = round(float(window.cover_nm), 2)
        fn = functools.partial(qchem.excitations, cover_nm=cover, max_states=max_states)
        key = functools.partial(covered_key, cover_nm=cover, max_states=max_states)
    report = compute_many(frames, settings, options, store=_source(store), executor=executor, compute=fn, key=key,
                          labels=lambda i, atoms: _scalar_labels(atoms), progress=False, retry_failed=retry_failed)  # fmt: skip
    for i, err in report.failures.items():
        log.warning("%s: %s", frames[i].info, err)
    return report


def compute_pso_designs(case: Case, n_runs: int, store, settings=None, options=None, executor=None,
                        max_states: int = COVER_MAX_STATES):  # fmt: skip
    """TD-DFT of the best designs of ``n_runs`` particle-swarm runs on ``case`` (:func:`qdlib.agents.pso_designs`).

    Labelled ``set="pso"`` and ``seed``, computed covering the case's window as the agents' designs
    are (:func:`compute_covering`, whose :class:`~qdlib.compute.BatchReport` is returned).
    """
    window = case_window(case.dot, case.kind)
    frames = [designed_structure(case, positions, set="pso", seed=k, **cover_label(window))
              for k, positions in enumerate(pso_designs(case, n_runs))]  # fmt: skip
    return compute_covering(frames, window, store, settings, options, executor, max_states)


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
    return target_window(benchmark_target(dot, kind, 1)[1], kind)


def stored_excitations(frames: Sequence[Atoms], source, settings=None) -> list:
    """The stored :class:`~qdlib.qchem.Excitations` of each of ``frames`` at ``settings`` (None where not stored).

    Parameters
    ----------
    frames : sequence of ase.Atoms
    source : qdlib.store.ResultStore, qdlib.tddft_data.TDDFTDataset or path
        Where the results are (anything with ``get(atoms, settings)``; a path opens a store).
    settings : qdlib.qchem.TDDFTSettings, optional
        Default: the paper settings.
    """
    source, settings = _source(source), settings or TDDFTSettings()
    return [source.get(atoms, settings) for atoms in frames]


def tddft_spectra(frames: Sequence[Atoms], source, kind: str, settings=None) -> NDArray[np.float64]:
    """Broadened TD-DFT spectra ``(n, n_bins)`` of ``frames`` (as :func:`stored_excitations`); NaN rows where not stored."""
    out = np.full((len(frames), wavelength_grid(kind).size), np.nan)
    for i, exc in enumerate(stored_excitations(frames, source, settings)):
        if exc is not None:
            out[i] = exc.spectrum(kind)
    return out


def tddft_peaks(frames: Sequence[Atoms], source, kind: str, settings=None, line: int | None = None) -> NDArray[np.float64]:
    """Central peaks of the stored TD-DFT spectra of ``frames`` (``kind``), nm; NaN where not stored or dark.

    Parameters
    ----------
    frames, source, settings
        As :func:`stored_excitations`.
    kind : {"absorption", "emission"}
        Emission: the S1→S0 line at the frame's geometry.
    line : int, optional
        Instead of the spectrum's peak, the wavelength of excitation ``line`` (0: S1), bright or dark.
    """
    if line is None:
        return np.asarray(spectrum_peak(tddft_spectra(frames, source, kind, settings), kind), dtype=float).reshape(len(frames))
    return np.array([np.nan if exc is None else exc.wavelengths_nm[line]
                     for exc in stored_excitations(frames, source, settings)], dtype=float)  # fmt: skip


def _source(source):
    """A results source: anything with ``get(atoms, settings)``, or a path of a results store."""
    return source if hasattr(source, "get") else ResultStore(source)


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
    source, settings = _source(source), settings or TDDFTSettings()
    stored = source.get(atoms, settings)
    if stored is None:
        raise KeyError("no stored result for this geometry at these settings")
    fresh = qchem.excitations(atoms, settings, options or EngineOptions())  # looked up here: tests replace it
    return dict(
        max_abs_energy_ev=float(np.max(np.abs(fresh.energies_ev - stored.energies_ev))),
        peak_nm=float(abs(spectrum_peak(fresh.spectrum(kind), kind) - spectrum_peak(stored.spectrum(kind), kind))),
        wall_time_s=fresh.wall_time_s, backend=fresh.backend,
    )  # fmt: skip
