"""Rechecks of the trained agents' designs by TD-DFT (the paper's Fig. 6).

The paper's Fig. 6 judges each trained designer by the spectra of the structures
it designs; here TD-DFT recomputes them and :func:`qdlib.verdict.judge` compares
each with its case's target on a window that both spectra cover. The reference dots,
their targets and the lookups of stored results this builds on are
:mod:`qdlib.references`'s.

:func:`designed_structure`, :func:`design_frames`
    Designs as :class:`ase.Atoms` labelled for the results store (``set="validation"``).
:func:`recheck`, :class:`Recheck`
    The verdicts on a :class:`~qdlib.agents.CaseValidation`'s first designs.
:func:`compute_rechecks`
    TD-DFT of the references (the targets) and of designs until each case has enough valid verdicts.
:func:`compute_pso_designs`
    TD-DFT of the particle swarm's best designs of a case, judged as the agents' are.
:func:`seed_rechecks`, :func:`distinct_verdicts`
    Designers of one case trained with several seeds (e.g. the paper's 5000 episodes), judged alike.
:func:`validation_findings`, :func:`seed_findings`
    The numbers behind notebook 04's conclusion.

>>> from qdlib.agents import Case
>>> frame = designed_structure(Case("absorption", "Cd6Se6", 4.0, 1), [[0.0, 0.0, 0.0]], set="validation", start_index=0)
>>> frame.get_chemical_formula(), frame.info["set"], frame.info["n_movable"]
('Cd6Se6', 'validation', 1)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms
from numpy.typing import ArrayLike, NDArray

from .agents import Case, CaseValidation, agent_path, pso_designs, validate_case
from .datasets import benchmark_target
from .design import DesignConfig

# case_target … recompute_stored live in qdlib.references (the reference dots, their targets, lookups
# of stored results); imported here under their old names too: notebooks 04-07 call ``verification.<name>``.
from .references import (  # noqa: F401
    _source,
    case_target,
    case_window,
    compute_covering,
    compute_references,
    cover_label,
    find_stored,
    recompute_stored,
)
from .stats import binomial_interval, finite_median
from .structures import MIN_DISTANCE_ANGSTROM
from .verdict import COVER_MAX_STATES, Target, Window, judge

log = logging.getLogger(__name__)

__all__ = [
    "Recheck",
    "compute_pso_designs",
    "compute_rechecks",
    "design_frames",
    "designed_structure",
    "distinct_verdicts",
    "recheck",
    "seed_findings",
    "seed_rechecks",
    "validation_findings",
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


def seed_rechecks(cases: Sequence[Case], roots: Mapping[int, str | Path], source, target: Target | None,
                  n_starts: int = 100, seed: int = 0, n_recheck: int | None = None, n_valid: int = 0,
                  settings=None, options=None) -> dict[tuple[int, int], tuple[CaseValidation, Recheck]]:  # fmt: skip
    """Designers of ``cases`` trained with several seeds (one agents folder each), deployed and judged by TD-DFT.

    Each saved agent is deployed from the same ``n_starts`` seeded starts (:func:`qdlib.agents.validate_case`)
    and its first ``n_recheck`` designs are looked up in ``source`` (:func:`recheck`); with ``n_valid``,
    TD-DFT is first computed into ``source`` until ``n_valid`` designs per agent have a valid verdict
    (:func:`compute_rechecks`, minutes per design). Cases without a saved agent under a root are skipped,
    and everything when ``target`` is None.

    Parameters
    ----------
    cases : sequence of Case
    roots : mapping of int to path
        Per training seed, the agents folder (e.g. ``data/agents/paper5000/seed0``).
    source : qdlib.tddft_data.TDDFTDataset, qdlib.store.ResultStore or path of a store
    target : qdlib.verdict.Target or None
        The cases' common target (one dot and kind).
    n_starts, seed : int
        Random starts per agent and their seed.
    n_recheck : int, optional
        Designs looked up per agent (default all).
    n_valid : int
        With a result store as ``source``: valid verdicts to compute per agent (0: look up only).
    settings, options : TDDFTSettings, EngineOptions, optional

    Returns
    -------
    dict of (int, int) to (CaseValidation, Recheck)
        By (movable atoms, training seed).

    Examples
    --------
    >>> from qdlib.paths import data_dir
    >>> from qdlib.tddft_data import load_tddft_dataset
    >>> ds = load_tddft_dataset(parts=["reproduction"])
    >>> roots = {0: data_dir() / "agents" / "paper5000" / "seed0"}
    >>> out = seed_rechecks([Case("absorption", "Cd6Se6", 4.0, 1)], roots, ds, case_target("Cd6Se6", "absorption", ds),
    ...                     n_starts=10, n_recheck=3)
    >>> list(out), len(out[1, 0][1].verdicts)
    ([(1, 0)], 3)
    """
    out = {}
    if target is None:
        return out
    for case in cases:
        for agent_seed, root in roots.items():
            if not agent_path(case, root).with_suffix(".json").is_file():
                continue
            v = validate_case(case, n_starts, seed, root=root)
            if n_valid:
                compute_rechecks([v], n_valid, source, settings, options)
            out[case.n_movable, agent_seed] = (v, recheck(v, source, target, n_recheck))
    return out


def distinct_verdicts(rechecks: Mapping[tuple[int, int], tuple[CaseValidation, Recheck]],
                      n_atoms: Sequence[int] = (1, 2)) -> dict[int, list[tuple[bool, bool]]]:  # fmt: skip
    """Per number of movable atoms, ``(TD-DFT success, moved)`` of each distinct judged design over the seeds.

    A start the forward model already accepts is returned unmoved by every designer: over the
    seeds of :func:`seed_rechecks` such a design is counted once (designs equal to 10⁻⁴ Å are one).

    >>> from types import SimpleNamespace
    >>> v = SimpleNamespace(designs=np.zeros((2, 1, 3)), moved=np.array([False, True]))
    >>> r = SimpleNamespace(done=np.array([True, False]), success=np.array([False, False]))
    >>> distinct_verdicts({(1, 0): (v, r), (1, 1): (v, r)})
    {1: [(False, False)], 2: []}
    """
    out = {}
    for n in n_atoms:
        judged = {}
        for (m, _), (v, r) in rechecks.items():
            for i in np.flatnonzero(r.done) if m == n else []:
                judged[tuple(np.round(v.designs[i].ravel(), 4))] = (bool(r.success[i]), bool(v.moved[i]))
        out[n] = list(judged.values())
    return out


def validation_findings(validations: Sequence[CaseValidation], rechecks: Mapping[Case, Recheck]) -> dict:
    """The numbers behind notebook 04's conclusion, over the given cases' designs.

    Keys: ``n_cases``, ``n_designs``; ``surrogate_ok``, ``starts_ok`` (the random starts the forward
    model accepts) and ``within_1A`` (designs within 1 Å of the true positions), counts of designs;
    ``n_judged_cases``, ``k`` of ``n`` valid TD-DFT verdicts succeeding, ``ci_high`` (95 % Wilson
    upper bound), ``median_abs_peak_error_nm`` (on the window), ``median_energy_above_reference_ev``
    (DFT energy above the undisplaced dot, eV) and ``verdict`` (a sentence: reproduced or not).

    >>> from types import SimpleNamespace
    >>> v = SimpleNamespace(case="c", success=np.array([True, False]), start_success=np.array([False, False]),
    ...                     position_error_angstrom=np.array([0.5, 2.0]))
    >>> f = validation_findings([v], {})
    >>> f["surrogate_ok"], f["within_1A"], f["n"], f["verdict"]
    (1, 1, 0, 'no design judged yet')
    """
    judged = [rechecks[v.case] for v in validations if v.case in rechecks and rechecks[v.case].done.any()]
    k = sum(r.summary()["tddft_success"] for r in judged)
    n = sum(r.summary()["n"] for r in judged)
    errors = np.concatenate([np.abs(r.peaks_nm[r.done] - r.target.peak_nm) for r in judged]) if judged else np.array([])
    energy = np.concatenate([r.energy_above_reference_ev[r.done] for r in judged]) if judged else np.array([])
    lo, hi = binomial_interval(k, n) if n else (np.nan, np.nan)
    verdict = ("no design judged yet" if not n else "not reproduced: TD-DFT confirms none of the designs" if k == 0 else
               "reproduced" if lo > 0.5 else "not reproduced: TD-DFT confirms a minority of the designs")  # fmt: skip
    return {
        "n_cases": len(validations), "n_designs": sum(len(v.success) for v in validations),
        "surrogate_ok": sum(int(v.success.sum()) for v in validations),
        "starts_ok": sum(int(v.start_success.sum()) for v in validations),
        "within_1A": sum(int((v.position_error_angstrom < 1.0).sum()) for v in validations),
        "n_judged_cases": len(judged), "k": k, "n": n, "ci_high": hi,
        "median_abs_peak_error_nm": np.nanmedian(errors) if n else np.nan,
        "median_energy_above_reference_ev": np.median(energy) if n else np.nan, "verdict": verdict,
    }  # fmt: skip


def seed_findings(rechecks: Mapping[tuple[int, int], tuple[CaseValidation, Recheck]],
                  distinct: Mapping[int, list[tuple[bool, bool]]]) -> dict[int, dict]:  # fmt: skip
    """Per number of movable atoms with agents in :func:`seed_rechecks`: the seeds' surrogate and TD-DFT success.

    Keys: ``n_seeds``; ``surrogate_min``, ``surrogate_max`` (the seeds' surrogate success rates);
    ``k`` of ``n`` distinct judged designs succeeding (:func:`distinct_verdicts`) and ``n_moved`` of them
    moved by the agents.

    >>> from types import SimpleNamespace
    >>> v = SimpleNamespace(success=np.array([True, False]))
    >>> seed_findings({(1, 0): (v, None), (1, 1): (v, None)}, {1: [(False, True)], 2: []})
    {1: {'n_seeds': 2, 'surrogate_min': 0.5, 'surrogate_max': 0.5, 'k': 0, 'n': 1, 'n_moved': 1}}
    """
    out = {}
    for n, judged in distinct.items():
        seeds = [v for (m, _), (v, _) in rechecks.items() if m == n]
        if seeds:
            surrogate = [float(v.success.mean()) for v in seeds]
            out[n] = {"n_seeds": len(seeds), "surrogate_min": min(surrogate), "surrogate_max": max(surrogate),
                      "k": sum(ok for ok, _ in judged), "n": len(judged), "n_moved": len([ok for ok, m in judged if m])}  # fmt: skip
    return out
