"""A design for a user's target: propose library members, compute their TD-DFT, judge, record — until the budget.

The loop reads as a campaign does (:mod:`qdlib.campaign.loop`): each round the method proposes
``batch_size`` members not computed yet, the oracle returns their spectra (the store, or TD-DFT),
each is judged against the target (:func:`~qdlib.finder.criterion.member_verdict`) and checked
by the criterion (:func:`~qdlib.finder.criterion.target_criterion`), and one JSON line per call is
appended to the run's log as it finishes. A run killed at any point resumes from its log: the
method proposes again what it proposed before (its choices depend on its seed and the calls so far)
and no call is computed twice (the oracle's store holds the results).

A run stops at its first confirmed member (``stop_at_first``) or when the budget is spent; without
a confirmed member, :meth:`TargetDesign.closest` names the members that came nearest. Before its
first call, a live run may :meth:`~TargetDesign.screen` the members whose TD-DFT the store already
holds (computed for other targets): judged at no cost, they are what the method knows from the start,
and a confirmed one among them needs no call at all. (A replay never screens: its pool is the stored
members.)

>>> import numpy as np
>>> from ase import Atoms
>>> from qdlib import spectra
>>> from qdlib.finder.pool import Pool
>>> from qdlib.qchem import Excitations, TDDFTSettings
>>> from qdlib.targets import band_target
>>> peaks, e_above = {"a": 520.0, "b": 482.0, "c": 430.0}, {"a": 0.0, "b": 0.2, "c": 0.1}
>>> pool = Pool([Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]], info={"isomer": k, "composition": "c",
...                                                                       "e_above_ev": e_above[k]}) for k in peaks])
>>> def oracle(members):  # a stand-in for TD-DFT: one band per member, and states far into the UV
...     return [Excitations(spectra.nm_to_ev(np.array([peaks[m.info["isomer"]], 250.0])), np.array([0.1, 0.0]), -1.0,
...                         np.ones(2, bool), "diis", TDDFTSettings(n_states=2), "cpu", 0.0) for m in members]
>>> run = TargetDesign(band_target(480.0), pool, oracle, FinderConfig(method="stable-first", seed=0))
>>> [(c.isomer, round(c.peak_error_nm, 1), c.confirmed) for c in run.run()]
[('a', 40.0, False), ('c', nan, False), ('b', 2.0, True)]
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ..verdict import Target
from .active import ActiveMembers
from .criterion import MAX_E_ABOVE_EV, describe, member_verdict, nearest_band_nm, target_criterion
from .methods import RandomMembers, StableFirst, SurrogateRanked
from .pool import Pool

log = logging.getLogger(__name__)

__all__ = ["METHODS", "FinderCall", "FinderConfig", "TargetDesign", "first_confirmed", "make_method", "read_calls"]

METHODS = {m.name: m for m in (RandomMembers, StableFirst, SurrogateRanked, ActiveMembers)}
"""Every method by name: random members (the control), the most stable first, the paper's pipeline
(:class:`~qdlib.finder.methods.SurrogateRanked`), active learning (:class:`~qdlib.finder.active.ActiveMembers`)."""


def make_method(name: str, seed: int = 0):
    """The method called ``name`` (:data:`METHODS`), seeded."""
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; known: {list(METHODS)}")
    return METHODS[name](seed)


@dataclass(frozen=True)
class FinderConfig:
    """How a design for a target runs."""

    method: str = "stable-first"
    """How members are proposed (:data:`METHODS`)."""
    seed: int = 0
    """Seeds every random choice of the method."""
    budget: int = 24
    """TD-DFT calls (members computed or read) at most."""
    batch_size: int = 1
    """Members per round (computed at once with several workers)."""
    max_e_above_ev: float = MAX_E_ABOVE_EV
    """The stability bound of the criterion, eV above the composition's lowest member (GFN2-xTB)."""
    stop_at_first: bool = True
    """Stop at the first confirmed member."""

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; known: {list(METHODS)}")
        if self.budget < 1 or self.batch_size < 1:
            raise ValueError(f"budget {self.budget} and batch size {self.batch_size}: both must be at least 1")


@dataclass(frozen=True)
class FinderCall:
    """One call of a run: the member, TD-DFT's verdict on it against the target, and the criterion's answer."""

    call: int
    index: int
    isomer: str
    composition: str
    e_above_ev: float
    status: str
    peak_nm: float
    peak_error_nm: float
    similarity: float
    intensity_ratio: float
    confirmed: bool
    failures: tuple[str, ...]
    margin: float
    band_error_nm: float = float("nan")
    """The member's band nearest the target's central peak (a local maximum above 5 % of its spectrum's
    highest, where the library's spectra are complete) minus that peak, nm: how far off a member is when it
    has no peak on the window at all."""

    def to_json(self) -> str:
        d = {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in dataclasses.asdict(self).items()}
        return json.dumps(d)  # NaN as null: standard JSON

    @classmethod
    def from_dict(cls, d: dict) -> FinderCall:
        return cls(**{k: (float("nan") if v is None else v) for k, v in d.items()} | {"failures": tuple(d["failures"])})


def read_calls(path: str | os.PathLike) -> list[FinderCall]:
    """The calls of a run's log, its header line left out (a torn last line, from a crash mid-write, is dropped)."""
    from ..campaign.loop import read_json_lines

    return [FinderCall.from_dict(d) for d in read_json_lines(path) if "run" not in d]


class TargetDesign:
    """A design for ``target`` over ``pool``: the run, its log and its verdicts.

    Parameters
    ----------
    target : qdlib.verdict.Target
        A user's target (:mod:`qdlib.targets`).
    pool : Pool
        The members it may propose.
    oracle : callable
        ``oracle(members) -> list of Excitations or None`` (:class:`~qdlib.finder.pool.StoreOracle`).
    config : FinderConfig
    log_path : path, optional
        The run's log (one JSON line per call); an existing log is resumed. ``None``: kept in memory.
    method : object, optional
        A proposer (default :func:`make_method` of ``config.method``).
    """

    def __init__(self, target: Target, pool: Pool, oracle: Callable, config: FinderConfig = FinderConfig(),
                 log_path: str | os.PathLike | None = None, method=None):  # fmt: skip
        self.target, self.pool, self.oracle, self.config = target, pool, oracle, config
        self.criterion = target_criterion(target, config.max_e_above_ev)
        self.method = method or make_method(config.method, config.seed)
        if hasattr(self.method, "bind"):  # a model-based method reads the computed spectra
            self.method.bind(self.spectrum_of, target, self.criterion)
        self._spectra: dict[int, NDArray | None] = {}
        self.known: list[FinderCall] = []
        self.log_path = None if log_path is None else Path(log_path)
        self.history: list[FinderCall] = []
        if self.log_path is not None and self.log_path.is_file():
            from ..campaign.loop import read_json_lines

            header = next((d["run"] for d in read_json_lines(self.log_path) if "run" in d), None)
            if header != self.header():
                raise ValueError(f"{self.log_path}: the log of another run ({header}), not of this one ({self.header()}): "
                                 "give another output folder")  # fmt: skip
            self.history = read_calls(self.log_path)

    def header(self) -> dict:
        """What a log belongs to: the target (its spectrum's SHA-256 and window), the criterion, the method, the
        seed and the pool (its members' names); a log of another run is refused."""
        spectrum = hashlib.sha256(np.ascontiguousarray(self.target.spectrum, dtype=float).tobytes()).hexdigest()[:16]
        pool = hashlib.sha256("\n".join(self.pool.names).encode()).hexdigest()[:16]
        return {"target": self.target.name, "target_sha256": spectrum, "window": [self.target.window.blue_nm,
                self.target.window.red_nm], "criterion": repr(self.criterion), "method": self.config.method,
                "seed": self.config.seed, "pool_sha256": pool}  # fmt: skip

    @property
    def found(self) -> FinderCall | None:
        """The first confirmed member: among the screened ones (best margin first), else the first confirmed call."""
        screened = [c for c in sorted(self.known, key=lambda c: -c.margin) if c.confirmed]
        return screened[0] if screened else next((c for c in self.history if c.confirmed), None)

    @property
    def finished(self) -> bool:
        """Whether the run is over: its budget spent, the pool exhausted, or (``stop_at_first``) a member confirmed."""
        return (len(self.history) >= min(self.config.budget, len(self.pool) - len(self.known))
                or (self.config.stop_at_first and self.found is not None))  # fmt: skip

    def describe(self) -> str:
        """The criterion for this run's target, in one line."""
        return describe(self.criterion, self.target)

    def run(self, on_call: Callable[[FinderCall], None] | None = None) -> list[FinderCall]:
        """Propose, compute, judge and record until :attr:`finished`; ``on_call`` sees each new call."""
        while not self.finished:
            n = min(self.config.batch_size, self.config.budget - len(self.history))
            chosen = self.method.propose(self.pool, self.known + self.history, n)
            if not chosen:
                break
            members = [self.pool.members[i] for i in chosen]
            for i, member, result in zip(chosen, members, self.oracle(members)):  # a batch computed is recorded whole
                call = self._record(i, member, result)
                if on_call is not None:
                    on_call(call)
        return self.history

    def screen(self) -> list[FinderCall]:
        """Judge every member whose result the oracle's store holds, at no TD-DFT cost (``call`` −1).

        They become :attr:`known` (what the method knows before its first call; not logged, not
        counted against the budget). Returns them, best margin first.
        """
        called = {c.index for c in self.history}
        stored = [i for i, m in enumerate(self.pool.members) if i not in called and self.oracle.stored(m)]
        results = self.oracle([self.pool.members[i] for i in stored]) if stored else []
        self.known = [self._judge(-1, i, self.pool.members[i], r) for i, r in zip(stored, results)]
        return sorted(self.known, key=lambda c: -c.margin)

    def spectrum_of(self, call: FinderCall) -> NDArray[np.float64] | None:
        """The broadened TD-DFT spectrum of a called member (L mol⁻¹ cm⁻¹, paper grid); ``None`` if it failed.

        Kept from the call, or (a resumed run) read again through the oracle, which finds it stored.
        """
        if call.index not in self._spectra:
            (result,) = self.oracle([self.pool.members[call.index]]) if call.status != "failed" else (None,)
            self._keep(call.index, result)
        return self._spectra[call.index]

    def _keep(self, index: int, result) -> None:
        self._spectra[index] = None if result is None else result.spectrum("absorption")

    def chance_left(self) -> float | None:
        """The chance that a member not judged yet meets the target: 0 when every member was judged; for a
        model-based method, its model's (:meth:`~qdlib.finder.active.ActiveMembers.chance_any`, refitted on
        every result); ``None`` when the method has no model or too few results for one."""
        left = len(self.pool) - len(self.known) - len(self.history)
        if left <= 0:
            return 0.0
        if not hasattr(self.method, "chance_any"):
            return None
        return self.method.chance_any(self.pool, self.known + self.history)

    def closest(self, k: int = 3) -> list[FinderCall]:
        """The ``k`` members judged that came nearest: largest criterion margin first, then the smallest distance
        from their nearest band to the target's peak (the margin is floored for a member with no peak on the window)."""
        far = lambda c: abs(c.band_error_nm) if np.isfinite(c.band_error_nm) else np.inf
        return sorted(self.known + self.history, key=lambda c: (-c.margin, far(c)))[:k]

    def _judge(self, number: int, index: int, member, result) -> FinderCall:
        self._keep(index, result)
        if result is None:
            return FinderCall(number, index, member.info["isomer"], member.info["composition"],
                              float(member.info["e_above_ev"]), "failed", *([float("nan")] * 4), False, ("failed",),
                              -5.0)  # fmt: skip
        v = member_verdict(member, result, self.target)
        c = self.criterion.check(v)
        band = nearest_band_nm(self._spectra[index], self.target.peak_nm)
        return FinderCall(number, index, member.info["isomer"], member.info["composition"], float(member.info["e_above_ev"]),
                          v.status, v.peak_nm, v.peak_error_nm, v.similarity, v.intensity_ratio, c.confirmed, c.failures,
                          self.criterion.margin(v), band - self.target.peak_nm)  # fmt: skip

    def _record(self, index: int, member, result) -> FinderCall:
        call = self._judge(len(self.history), index, member, result)
        self.history.append(call)
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            if not self.log_path.is_file():
                self.log_path.write_text(json.dumps({"run": self.header()}) + "\n")
            with open(self.log_path, "a") as fh:
                fh.write(call.to_json() + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        log.info("call %d/%d: %s, %.2f eV above its lowest: peak %.1f nm (%+.1f), cosine %.2f -> %s", call.call + 1,
                 self.config.budget, call.isomer, call.e_above_ev, call.peak_nm, call.peak_error_nm, call.similarity,
                 "confirmed" if call.confirmed else ", ".join(call.failures))  # fmt: skip
        return call


def first_confirmed(calls: Sequence[FinderCall]) -> int | None:
    """The 1-based call of the first confirmed member (``None``: none)."""
    return next((c.call + 1 for c in calls if c.confirmed), None)

