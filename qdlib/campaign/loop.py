"""A design campaign: propose, compute with TD-DFT, judge, record — until the budget is spent.

The loop reads as BoTorch's closed-loop tutorials do, a few explicit lines per round::

    while calls < budget:
        u = method.propose(history, batch_size, rng)     # unit coordinates of the next designs
        results = TD-DFT(u)                               # qdlib.compute, into the shared store
        history += judge(results, target)                 # verdict + criterion, one record a call

Everything a campaign learns lives in two places that survive a crash: the TD-DFT results
in the results store shared by every campaign (a geometry computed once serves every method
and target: designs are computed with states covering all three targets' windows), and one
line of JSON per TD-DFT call in the campaign's log (``<log_dir>/<name>.jsonl``). A killed
campaign restarts from its log: the rounds already recorded are read back, the proposals of
an interrupted round are made again from the same seeded state and found in the store, so
nothing is recomputed.

A *call* is one design asked of TD-DFT by this campaign, whether computed now or found in
the store (another campaign computed it): calls are the campaign's budget and its cost.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from ..qchem import EngineOptions, TDDFTSettings
from ..store import ResultStore, covered_key
from ..verdict import COVER_MAX_STATES, Target, Verdict, judge
from .criterion import Criterion, campaign_target, covering_window, target_name
from .space import DesignSpace, PhysicalBounds

log = logging.getLogger(__name__)

__all__ = ["CampaignConfig", "CallRecord", "Method", "RandomDesigns", "UnmovedDesign", "Campaign", "BLIND_METHODS", "TARGET_SHIFTS_NM", "read_log"]

#: The targets' shifts: T0 (the dot's own spectrum), T+10 and T-10, nm. Every call covers all three windows.
TARGET_SHIFTS_NM = (0.0, 10.0, -10.0)


def default_budget(n_movable: int, method: str = "random") -> int:
    """TD-DFT calls per campaign by the contract: 24 per moved atom (the undisplaced dot: one).

    >>> default_budget(1), default_budget(2), default_budget(1, "unmoved")
    (24, 48, 1)
    """
    return 1 if method == "unmoved" else 24 * n_movable


@dataclass(frozen=True)
class CampaignConfig:
    """One campaign: a case, a target, a method, a budget and a seed."""

    dot: str = "Cd4Se4"
    """Benchmark dot."""
    n_movable: int = 1
    """Atoms moved (the paper's designed atoms)."""
    edge_angstrom: float = 4.0
    """Edge of each moved atom's cube, Å (the paper's)."""
    target_shift_nm: float = 0.0
    """Target: the dot's own TD-DFT spectrum with its sticks moved by this much, nm (0, +10, −10)."""
    method: str = "random"
    """How designs are proposed: ``"random"`` (the control), ``"stable-first"`` (the control that needs no model:
    the candidate pool in ascending GFN2-xTB strain), ``"surrogate"`` (the paper's pipeline: the
    surrogate's best designs, verified in order), ``"bo"`` (Bayesian optimisation on TD-DFT), ``"al"``
    (active learning: a forward model of the spectrum with uncertainty)."""
    budget: int = 24
    """TD-DFT calls (the contract: 24 for one moved atom, 48 for two)."""
    batch_size: int = 2
    """Designs proposed and computed per round (2: both cores of a laptop work)."""
    seed: int = 0
    """Seeds every random choice of the campaign: its candidate pool and every proposal drawn from it."""
    stop_at_first: bool = False
    """Stop at the first confirmed design (the headline number) instead of spending the budget."""
    kind: str = "absorption"
    """Spectrum kind of the target."""

    @property
    def name(self) -> str:
        """``Cd4Se4_4A_1_T+10_random_s0``: the campaign's log name."""
        return (f"{self.dot}_{self.edge_angstrom:g}A_{self.n_movable}_{target_name(self.target_shift_nm)}"
                f"_{self.method}_s{self.seed}")  # fmt: skip


@dataclass
class CallRecord:
    """One TD-DFT call of a campaign: the design, its verdict against the campaign's target, and the criterion's answer."""

    call: int
    """0-based index of the call in the campaign."""
    round: int
    u: list[float]
    """Unit coordinates of the design."""
    key: str
    """Results-store key of its TD-DFT."""
    status: str
    n_states: int
    peak_nm: float
    peak_error_nm: float
    similarity: float
    loss: float
    strain_ev: float
    """DFT total energy above the reference dot, eV."""
    xtb_strain_ev: float
    min_distance_angstrom: float
    displacement_angstrom: float
    """Largest distance of a moved atom from its true position, Å (reported, never used by a method)."""
    confirmed: bool
    failures: list[str]
    margin: float
    """:meth:`Criterion.margin`: ≥ 0 when every threshold is met."""
    wall_time_s: float
    intensity_ratio: float = float("nan")
    """Integrated absorptivity on the window, design over target."""

    def to_json(self) -> str:
        return json.dumps({k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in asdict(self).items()})

    def verdict(self) -> Verdict:
        """The logged verdict, to judge the call again by another :class:`Criterion` without the store.

        ``success`` (the authors' loss threshold) is not logged and reads False.

        >>> r = CallRecord(call=0, round=0, u=[0.5, 0.5, 0.5], key="k", status="valid", n_states=18, peak_nm=402.0,
        ...                peak_error_nm=2.0, similarity=0.97, loss=0.05, strain_ev=0.2, xtb_strain_ev=0.1,
        ...                min_distance_angstrom=2.6, displacement_angstrom=0.3, confirmed=True, failures=[],
        ...                margin=0.2, wall_time_s=90.0, intensity_ratio=1.1)
        >>> Criterion(min_similarity=0.9).check(r.verdict()).confirmed, Criterion(min_similarity=0.98).check(r.verdict()).failures
        (True, ('shape',))
        """
        return Verdict(self.status, self.n_states, self.peak_nm, self.peak_error_nm, self.loss, self.similarity, False,
                       self.strain_ev, self.min_distance_angstrom, intensity_ratio=self.intensity_ratio)

    @classmethod
    def from_json(cls, line: str) -> CallRecord:
        d = json.loads(line)
        return cls(**{k: (float("nan") if v is None else v) for k, v in d.items()})


def read_json_lines(path: str | os.PathLike, parse=json.loads) -> list:
    """``parse`` of every line of a JSON-lines file written one result at a time; a torn line (from a crash
    mid-write) is dropped with a warning, and a missing file reads as empty."""
    path = Path(path)
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(parse(line))
        except (json.JSONDecodeError, TypeError):
            log.warning("%s: ignoring an unreadable line", path)
    return out


def read_log(path: str | os.PathLike) -> list[CallRecord]:
    """The calls recorded in a campaign log (a torn last line, from a crash mid-write, is dropped)."""
    return read_json_lines(path, CallRecord.from_json)


class Method(Protocol):
    """What proposes designs: ``propose(history, n, rng) -> (n, dim)`` unit coordinates of physical designs."""

    def propose(self, history: Sequence[CallRecord], n: int, rng: np.random.Generator) -> NDArray[np.float64]: ...


class RandomDesigns:
    """The control: random physical designs (:meth:`DesignSpace.sample`), blind to every result.

    Its designs depend on the seed alone, so campaigns of every target with one seed share
    their TD-DFT calls (one random pool per dot serves every target).
    """

    def __init__(self, space: DesignSpace):
        self.space = space

    def propose(self, history, n, rng):
        return self.space.sample(n, rng)[0]


class UnmovedDesign:
    """The undisplaced dot (``u = 0.5``): one call, judged like any design.

    Against T0 — the dot's own spectrum — it is confirmed by construction; against a shifted
    target it says what not moving an atom achieves. Its campaigns spend one call.
    """

    def __init__(self, space: DesignSpace):
        self.space = space

    def propose(self, history, n, rng):
        return np.full((n, self.space.dim), 0.5)


def _bayes(campaign: Campaign):
    from .bayes import BayesianDesigns

    return BayesianDesigns(campaign.space, pool_seed=campaign.config.seed, cache_dir=campaign.log_path.parent / "pools")


def _active(campaign: Campaign):
    from .active import ActiveDesigns

    return ActiveDesigns(campaign.space, campaign.spectrum_of, campaign.target, campaign.criterion,
                         pool_seed=campaign.config.seed, cache_dir=campaign.log_path.parent / "pools")  # fmt: skip


def _surrogate(campaign: Campaign):
    from .surrogate import SurrogateDesigns

    return SurrogateDesigns(campaign.space, campaign.target, pool_seed=campaign.config.seed,
                            cache_dir=campaign.log_path.parent / "pools")  # fmt: skip


def _stable_first(campaign: Campaign):
    from .stable import StableFirstDesigns

    return StableFirstDesigns(campaign.space, pool_seed=campaign.config.seed, cache_dir=campaign.log_path.parent / "pools")


#: Method name → ``factory(campaign)``, called when the campaign runs (its targets known).
METHODS = {"random": lambda campaign: RandomDesigns(campaign.space), "unmoved": lambda campaign: UnmovedDesign(campaign.space),
           "stable-first": _stable_first,
           "surrogate": _surrogate, "bo": _bayes, "al": _active}  # fmt: skip

#: Methods whose designs do not depend on any verdict: their logs can be judged again exactly.
BLIND_METHODS = ("random", "unmoved", "stable-first", "surrogate")


class Campaign:
    """A TD-DFT-in-the-loop design campaign (:class:`CampaignConfig`); :meth:`run` spends its budget.

    Parameters
    ----------
    config : CampaignConfig
    store : ResultStore or path, or qdlib.tddft_data.TDDFTDataset
        The TD-DFT results shared by every campaign; must hold (or will compute) the dot's
        reference TD-DFT covering its window. The released dataset serves to read a finished
        campaign back (its targets, :meth:`spectrum_of`), not to run one.
    log_dir : path
        Where the campaign's log (one JSON line per call) is kept.
    settings, options : TDDFTSettings, EngineOptions
    executor : optional
        As :func:`qdlib.compute.compute_many` (local processes or a dask client).
    criterion : Criterion
    bounds : PhysicalBounds
    method : Method, optional
        Default: the one ``config.method`` names.
    max_states : int
        Most states a call solves for to cover the windows.
    warm_start : bool
        Start every call from the reference dot's solution (:mod:`qdlib.qchem.warmstart`; the point
        is computed once per machine into ``options.checkpoint_dir``, default
        :func:`qdlib.paths.checkpoints_dir`, under ``warm/``).

    Attributes
    ----------
    history : list of CallRecord
        After :meth:`run`: every call, in order.
    """

    def __init__(self, config: CampaignConfig, store, log_dir, settings: TDDFTSettings | None = None,
                 options: EngineOptions | None = None, executor=None, criterion: Criterion | None = None,
                 bounds: PhysicalBounds = PhysicalBounds(), method: Method | None = None,
                 max_states: int = COVER_MAX_STATES, warm_start: bool = True):  # fmt: skip
        if config.budget < 1 or config.batch_size < 1:
            raise ValueError(f"budget and batch_size must be positive, got {config.budget} and {config.batch_size}")
        if method is None and config.method not in METHODS:
            raise ValueError(f"unknown method {config.method!r}; known: {sorted(METHODS)}")
        self.config = config
        self.store = store if hasattr(store, "get_by_key") else ResultStore(store)  # a store, or the released dataset to read
        self.log_path = Path(log_dir) / f"{config.name}.jsonl"
        self.settings, self.options = settings or TDDFTSettings(), options or EngineOptions()
        self.executor, self.max_states, self.warm_start = executor, max_states, warm_start
        self._criterion = criterion or Criterion.for_case(config.dot, config.target_shift_nm)
        self.space = DesignSpace.benchmark(config.dot, config.n_movable, config.edge_angstrom, config.kind, bounds)
        self.method = method  # made from config.method when the campaign runs
        self.history: list[CallRecord] = []
        self._targets: dict[float, Target] | None = None

    # ------------------------------------------------------------------ targets

    def targets(self) -> dict[float, Target]:
        """T0, T+10 and T−10 of the dot, by shift (the reference TD-DFT computed into the store if missing)."""
        if self._targets is None:
            from ..references import compute_references

            if isinstance(self.store, ResultStore):  # (the released dataset is only read)
                compute_references([(self.config.dot, self.config.kind)], self.store, self.settings, self.options,
                                   self.executor, self.max_states)  # fmt: skip
            self._targets = {s: campaign_target(self.config.dot, self.config.kind, self.store, s) for s in TARGET_SHIFTS_NM}
        return self._targets

    @property
    def target(self) -> Target:
        """The campaign's own target."""
        return self.targets()[self.config.target_shift_nm]

    @property
    def criterion(self) -> Criterion:
        """The criterion, its thresholds fixed for the campaign's target (:meth:`Criterion.for_target`; resolved once)."""
        if self._criterion.min_similarity is None:
            self._criterion = self._criterion.for_target(self.target)
        return self._criterion

    @property
    def cover_nm(self) -> float:
        """Wavelength every call's states reach (the bluest of the three targets' coverings), nm."""
        return round(float(covering_window(list(self.targets().values())).cover_nm), 2)

    def spectrum_of(self, record: CallRecord):
        """``(spectrum, DFT strain in eV)`` of a recorded call from the store; ``None`` if it has no result."""
        result = self.store.get_by_key(record.key)
        if result is None or record.status != "valid":
            return None
        return result.spectrum(self.config.kind), record.strain_ev

    def warm_start_point(self) -> str:
        """The reference dot's solution covering the campaign's windows, computed here if missing; its path."""
        from ..references import warm_start_point

        cfg = self.config
        return warm_start_point(self.space.atoms, f"{cfg.dot}_{cfg.kind}", self.cover_nm, self.settings, self.options,
                                self.max_states)  # fmt: skip

    # ------------------------------------------------------------------ the loop

    def run(self) -> list[CallRecord]:
        """Spend the budget (or stop at the first confirmed design); returns :attr:`history`."""
        cfg = self.config
        self.history = read_log(self.log_path)
        if self.history:
            log.info("%s: %d calls recorded, resuming", cfg.name, len(self.history))
        target = self.target
        if self.method is None:
            self.method = METHODS[cfg.method](self)
        if self.warm_start and len(self.history) < cfg.budget and self.options.warm_start is None:
            self.options = dataclasses.replace(self.options, warm_start=self.warm_start_point())
        round_ = max((r.round for r in self.history), default=-1) + 1
        while len(self.history) < cfg.budget and not (cfg.stop_at_first and any(r.confirmed for r in self.history)):
            n = min(cfg.batch_size, cfg.budget - len(self.history))
            rng = np.random.default_rng([cfg.seed, round_])
            u = np.asarray(self.method.propose(self.history, n, rng), dtype=float).reshape(n, self.space.dim)
            records = self.evaluate(u, round_, target)
            self._append(records)
            confirmed = sum(r.confirmed for r in self.history)
            log.info("%s: round %d, %d of %d calls, %d confirmed; this round: %s", cfg.name, round_, len(self.history),
                     cfg.budget, confirmed, ", ".join(_describe(r) for r in records))  # fmt: skip
            round_ += 1
        return self.history

    def evaluate(self, u: NDArray[np.float64], round_: int, target: Target) -> list[CallRecord]:
        """TD-DFT of designs ``u`` (found in the store or computed into it), judged against ``target``."""
        from ..references import compute_covering

        cfg = self.config
        frames = [self.space.atoms_at(x, set="campaign", dot=cfg.dot, n_movable=cfg.n_movable, kind=cfg.kind,
                                      edge_angstrom=cfg.edge_angstrom, cover_nm=self.cover_nm) for x in u]  # fmt: skip
        window = covering_window(list(self.targets().values()))
        compute_covering(frames, window, self.store, self.settings, self.options, self.executor, self.max_states)
        xtb = self.space.xtb_strain_ev(u)
        records = []
        for k, (x, atoms) in enumerate(zip(u, frames)):
            key = covered_key(atoms, self.settings, self.cover_nm, self.max_states)
            result = self.store.get_by_key(key)
            if result is None:  # TD-DFT raised (e.g. the SCF never converged): a spent call without a verdict
                records.append(self._failed(len(self.history) + k, round_, x, key, float(xtb[k])))
                continue
            records.append(self._record(len(self.history) + k, round_, x, key, atoms, result, target, float(xtb[k])))
        return records

    def _record(self, call, round_, x, key, atoms, result, target, xtb) -> CallRecord:
        v = judge(atoms, result, target)
        criterion = self.criterion
        c = criterion.check(v, self.space.min_distance_angstrom)
        return CallRecord(call, round_, [float(t) for t in x], key, v.status, v.n_states, v.peak_nm, v.peak_error_nm,
                          v.similarity, v.loss, v.energy_above_reference_ev, xtb, v.min_distance_angstrom,
                          float(self.space.displacement_angstrom(x[None])[0]), c.confirmed, list(c.failures),
                          criterion.margin(v), float(result.wall_time_s), v.intensity_ratio)  # fmt: skip

    def rejudge(self) -> list[CallRecord]:
        """Judge the logged calls again from the store, with the campaign's current criterion; rewrite the log.

        Exact for the methods blind to verdicts (``"random"``, ``"surrogate"``), whose designs do not
        depend on how earlier calls were judged. A model-based campaign (``"bo"``, ``"al"``) chose its
        designs by the verdicts as they were judged then: its log keeps those designs with the new
        verdicts (a warning says so), and a later :meth:`run` resumes under the current criterion.
        Failed calls stay as they are. Returns the new :attr:`history`.
        """
        cfg, target = self.config, self.target
        if cfg.method not in BLIND_METHODS:
            log.warning("%s: its designs were chosen under the criterion of its log; judged again, they are kept", cfg.name)
        old = read_log(self.log_path)
        new = []
        for r in old:
            result = None if r.status == "failed" else self.store.get_by_key(r.key)
            if result is None:
                new.append(r)
                continue
            atoms = self.space.atoms_at(np.asarray(r.u), dot=cfg.dot)
            new.append(self._record(r.call, r.round, np.asarray(r.u), r.key, atoms, result, target, r.xtb_strain_ev))
        tmp = self.log_path.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(r.to_json() + "\n" for r in new))
        os.replace(tmp, self.log_path)
        self.history = new
        return new

    def _failed(self, call, round_, x, key, xtb) -> CallRecord:
        nan = float("nan")
        return CallRecord(call, round_, [float(t) for t in x], key, "failed", 0, nan, nan, nan, nan, nan, xtb,
                          float(self.space.shortest_distance(x[None])[0]),
                          float(self.space.displacement_angstrom(x[None])[0]), False, ["failed"],
                          self.criterion.margin(None), nan)  # fmt: skip

    def _append(self, records: list[CallRecord]) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "a") as fh:
            for r in records:
                fh.write(r.to_json() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self.history.extend(records)

    # ------------------------------------------------------------------ summary

    def summary(self) -> dict:
        """Calls, confirmed designs, calls to the first confirmed design (None: none yet), and the CPU-hours
        of its calls' TD-DFT (wall time × threads; a call found stored counts what it cost whoever computed it)."""
        confirmed = [r.call for r in self.history if r.confirmed]
        wall = np.array([r.wall_time_s for r in self.history], dtype=float)
        return {"name": self.config.name, "calls": len(self.history), "confirmed": len(confirmed),
                "first_confirmed_call": confirmed[0] + 1 if confirmed else None,
                "cpu_hours": float(np.nansum(wall) / 3600 * (self.options.threads or os.cpu_count() or 1))}  # fmt: skip


def _describe(r: CallRecord) -> str:
    if r.status != "valid":
        return r.status
    return (f"Δpeak {r.peak_error_nm:+.1f} nm, cos {r.similarity:.2f}, strain {r.strain_ev:.2f} eV"
            + (" CONFIRMED" if r.confirmed else ""))  # fmt: skip
