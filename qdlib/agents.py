"""Trained designers for the paper's benchmark cases: train, save, load (``data/agents``), deploy.

A case is (spectrum kind, dot, cuboid edge, number of movable atoms); its agent is
a :class:`qdlib.ddpg.Agent` trained on :meth:`qdlib.design.DesignTask.benchmark`
with a named forward model (a released surrogate). The validation and PSO
notebooks load these instead of retraining, and deploy them from seeded random
starts as the paper's Fig. 6 does (:func:`validate_case`, a :class:`CaseValidation`);
TD-DFT's verdicts on the designs are :mod:`qdlib.verification`'s.

>>> case = Case("absorption", "Cd6Se6", 4.0, 1)
>>> case.name, len(released_cases())
('absorption/Cd6Se6_4A_1', 30)
>>> agent_path(case, root="agents").as_posix()
'agents/absorption/Cd6Se6_4A_1'

Training one (:func:`run_cases`) and deploying it (:func:`validate_case`) take seconds
to minutes: notebooks 03 and 04 show both.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from .ddpg import Agent, DDPGConfig, load_history, train
from .design import DesignTask, benchmark_target
from .paths import data_dir
from .spectra import spectrum_peak
from .stats import finite_median
from .structures import MIN_DISTANCE_ANGSTROM
from .surrogates import DESIGN_MODEL, load_released

__all__ = ["AGENT_CONFIG", "DESIGN_MODEL", "Case", "CaseValidation", "DesignOutcome", "agent_path", "all_cases",
           "case_task", "design_outcome", "load_case", "pso_designs", "released_cases", "run_cases", "train_or_load",
           "validate_case"]  # fmt: skip

#: How the released agents are trained: batched, until 90 of 100 greedy starts succeed or 200 000
#: transitions (3125 batched steps of 64 copies) are spent.
AGENT_CONFIG = DDPGConfig(n_envs=64, target_success=0.9, eval_every=64 * 32, total_episodes=10**7, max_env_steps=200_000)


@dataclass(frozen=True)
class Case:
    """One design case of the paper."""

    kind: str
    dot: str
    edge_angstrom: float
    n_movable: int

    @property
    def name(self) -> str:
        return f"{self.kind}/{self.dot}_{self.edge_angstrom:g}A_{self.n_movable}"


def all_cases(
    kinds: Sequence[str] = ("absorption",),
    dots: Sequence[str] = ("Cd6Se6", "Cd4Se4", "Cd5Te5", "Cd5Se1Te4"),
    edges_angstrom: Sequence[float] = (4.0, 10.0),
    n_movable: Sequence[int] = (1, 2, 3),
) -> list[Case]:
    """Every combination, in this order (Cd6Se6 and the 4 Å cuboid first)."""
    return [Case(*c) for c in itertools.product(kinds, dots, edges_angstrom, n_movable)]


def released_cases() -> list[Case]:
    """The cases ``data/agents`` holds: every absorption case (notebook 04), and Cd6Se6's emission cases (Fig. 5)."""
    return all_cases(("absorption",)) + all_cases(("emission",), ("Cd6Se6",))


def case_task(case: Case, model: str = DESIGN_MODEL) -> DesignTask:
    """The design task of ``case`` with the released surrogate ``model`` as forward model."""
    return DesignTask.benchmark(case.dot, case.n_movable, case.edge_angstrom, case.kind,
                                surrogate=load_released(case.kind, model))  # fmt: skip


def agent_path(case: Case, root: str | Path | None = None) -> Path:
    """Where the agent of ``case`` lives: ``<root>/<kind>/<dot>_<edge>A_<n>`` (``.json`` + ``.pt``)."""
    return Path(root if root is not None else data_dir() / "agents") / case.name


def run_cases(
    cases: Iterable[Case],
    config: DDPGConfig = AGENT_CONFIG,
    model: str = DESIGN_MODEL,
    root: str | Path | None = None,
    retrain: bool = False,
    progress: bool = True,
) -> list[dict]:
    """Train (or skip, when saved and ``retrain`` is false) the agent of every case; save each as it finishes.

    Returns
    -------
    list of dict
        Per case: ``case``, ``trained`` (False: loaded), ``success_rate`` (last greedy evaluation
        on 100 starts), ``wall_time_s``, ``env_steps``, ``episodes``.
    """
    from tqdm.auto import tqdm

    rows = []
    cases = list(cases)
    for case in tqdm(cases, desc="agents", unit="case", disable=not progress):
        path = agent_path(case, root)
        if path.with_suffix(".json").is_file() and not retrain:
            history, trained = load_history(path), False
        else:
            result = train(case_task(case, model), config)
            result.agent.save(path, history=result, forward=model)
            history, trained = load_history(path), True
        last = history["evaluations"][-1] if history.get("evaluations") else {}
        rows.append(dict(case=case, trained=trained, success_rate=last.get("success_rate", float("nan")),
                         wall_time_s=history.get("wall_time_s", float("nan")), env_steps=history.get("env_steps", 0),
                         episodes=history.get("episodes", 0)))  # fmt: skip
    return rows


def load_case(case: Case, root: str | Path | None = None, model: str | None = None) -> tuple[Agent, dict]:
    """The saved agent of ``case`` (on its task) and its training history.

    ``model`` defaults to the forward model the agent was trained with (recorded at save).
    """
    import json

    path = agent_path(case, root)
    if not path.with_suffix(".json").is_file():
        raise FileNotFoundError(f"no agent for {case.name} under {path.parent}; train it with qdlib.agents.run_cases")
    if root is None:  # released agents: hash-checked
        from .release import verified_path

        for suffix in (".json", ".pt"):
            verified_path(f"agents/{case.name}{suffix}")
    meta = json.loads(path.with_suffix(".json").read_text())
    task = case_task(case, model or meta.get("forward", DESIGN_MODEL))
    return Agent.load(path, task), meta.get("history", {})


def train_or_load(
    case: Case, config: DDPGConfig | None = None, task: DesignTask | None = None
) -> tuple[Agent, dict, str]:
    """The agent of ``case``: trained here with ``config`` or, without one, the released agent.

    Parameters
    ----------
    case : Case
    config : DDPGConfig, optional
        Train a new agent with this configuration (nothing saved); None loads the released one
        (:func:`load_case`, hash-checked).
    task : DesignTask, optional
        The task to train on (default: :func:`case_task`); a released agent comes on its own task.

    Returns
    -------
    agent : Agent
    history : dict
        Its training history (:meth:`qdlib.ddpg.TrainResult.history`).
    origin : {"trained here", "released"}

    Raises
    ------
    FileNotFoundError
        Without ``config``, when ``data/agents`` holds no agent of ``case``.

    Examples
    --------
    >>> agent, history, origin = train_or_load(Case("absorption", "Cd5Te5", 4.0, 1))
    >>> origin, history["episodes"], agent.task.n_movable
    ('released', 2028, 1)
    """
    if config is None:
        agent, history = load_case(case)
        return agent, history, "released"
    result = train(task if task is not None else case_task(case), config)
    return result.agent, result.history(), "trained here"


@dataclass
class DesignOutcome:
    """One agent's designs from a batch of starts, as paper Fig. 5(c) shows them (:func:`design_outcome`).

    Attributes
    ----------
    n_movable : int
    fixed_positions : ndarray, shape (n_fixed, 3)
        The atoms that stay, Å.
    true_positions : ndarray, shape (n_movable, 3)
        The movable atoms' true positions (the cuboids' centres), Å.
    designs : ndarray, shape (n_success, n_movable, 3)
        Final positions of the movable atoms in the successful designs, Å.
    distance_angstrom : ndarray, shape (n, n_movable)
        Distance of each designed atom from its true position, every design, Å.
    success : ndarray of bool, shape (n,)
    loss : ndarray, shape (n,)
        The authors' loss of each design (forward model).
    wall_time_s : float
        Time of the batched rollout.
    target : ndarray, shape (n_bins,)
        The target spectrum, L mol⁻¹ cm⁻¹.
    median_index : int
        The design of median loss (of an even number, the upper of the middle two).
    median_spectrum : ndarray, shape (n_bins,)
        The forward model's spectrum of that design, L mol⁻¹ cm⁻¹.
    """

    n_movable: int
    fixed_positions: NDArray[np.float64]
    true_positions: NDArray[np.float32]
    designs: NDArray[np.float32]
    distance_angstrom: NDArray[np.float32]
    success: NDArray[np.bool_]
    loss: NDArray[np.float32]
    wall_time_s: float
    target: NDArray[np.float64]
    median_index: int
    median_spectrum: NDArray[np.float32]

    @property
    def success_rate(self) -> float:
        return float(np.mean(self.success))

    @property
    def largest_distance_angstrom(self) -> NDArray[np.float32]:
        """Per design, the largest distance of a designed atom from its true position, Å."""
        return self.distance_angstrom.max(axis=1)

    @property
    def median_distance_angstrom(self) -> float:
        """Median over all designs and atoms of the distance from the true position, Å."""
        return np.median(self.distance_angstrom)

    @property
    def mean_success_distance_angstrom(self) -> float:
        """Mean over the successful designs' atoms of the distance from the true position (NaN: none), Å."""
        return self.distance_angstrom[self.success].mean() if self.success.any() else np.nan

    @property
    def median_success_distance_angstrom(self) -> float:
        """Median over the successful designs' atoms of the distance from the true position (NaN: none), Å."""
        return np.median(self.distance_angstrom[self.success]) if self.success.any() else np.nan

    @property
    def within_1A(self) -> float:
        """The share of successful designs with every designed atom within 1 Å of its true position (0: none)."""
        return np.mean(self.largest_distance_angstrom[self.success] < 1.0) if self.success.any() else 0


def design_outcome(task: DesignTask, result) -> DesignOutcome:
    """What Fig. 5(c) shows of ``result``, greedy designs on ``task`` (:meth:`qdlib.ddpg.Agent.design`).

    Examples
    --------
    >>> import torch
    >>> agent, _ = load_case(Case("absorption", "Cd5Te5", 4.0, 1))
    >>> result = agent.design(agent.task.sample_starts(10, torch.Generator().manual_seed(0)))
    >>> outcome = design_outcome(agent.task, result)
    >>> outcome.distance_angstrom.shape, outcome.median_spectrum.shape, len(outcome.designs) == result.success.sum()
    ((10, 1), (500,), np.True_)
    >>> bool(outcome.loss[outcome.median_index] == sorted(result.loss)[5])  # the upper median of ten
    True
    """
    import torch

    dist = np.linalg.norm(result.positions - task.centre.cpu().numpy(), axis=-1)
    fixed = np.setdiff1d(np.arange(len(task.atoms)), task.movable)
    with torch.no_grad():
        pred = task.spectra(torch.as_tensor(result.positions, device=task.device)).cpu().numpy()
    k = int(np.argsort(result.loss)[len(result.loss) // 2])
    return DesignOutcome(
        n_movable=task.n_movable, fixed_positions=task.atoms.positions[fixed], true_positions=task.centre.cpu().numpy(),
        designs=result.positions[result.success], distance_angstrom=dist, success=result.success, loss=result.loss,
        wall_time_s=result.wall_time_s, target=task.target, median_index=k, median_spectrum=pred[k],
    )  # fmt: skip


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
    def moved(self) -> NDArray[np.bool_]:
        """Per design, whether the designer moved its atoms at all.

        False where the forward model already accepted the start (the episode ends before the
        first step): that design is the random start itself, the same for every designer.
        """
        return np.abs(self.designs - self.starts).reshape(len(self.designs), -1).max(axis=1) > 1e-9

    @property
    def min_distance_angstrom(self) -> NDArray[np.float64]:
        """Per design, the shortest distance from a designed atom to any other atom, Å."""
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
            target_peak_nm=float(self.target_peak_nm), median_abs_peak_error_nm=finite_median(dpeak),
            mean_abs_peak_error_nm=float(np.mean(dpeak[np.isfinite(dpeak)])) if np.isfinite(dpeak).any() else float("nan"), median_position_error_angstrom=float(np.median(err)),
            mean_position_error_angstrom=float(err.mean()), within_1A=float((err < 1.0).mean()),
            median_start_error_angstrom=float(np.median(self.start_error_angstrom)),
            overlapping=float((self.min_distance_angstrom < MIN_DISTANCE_ANGSTROM).mean()),
            median_loss=float(np.median(self.loss)), wall_time_s=self.wall_time_s,
            start_success_rate=float(np.mean(self.start_success)) if self.start_success is not None else float("nan"),
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


def pso_designs(case: Case, n_runs: int) -> list[NDArray[np.float64]]:
    """The best designs of ``n_runs`` particle-swarm runs (:func:`qdlib.pso.pso`, seeds 0, 1, …) on ``case``'s task.

    The designer the paper compares the agents with (Fig. 7), on the same task and forward model
    as the case's agent; each design is the run's ``best_position`` (the movable atoms, Å).
    """
    from .pso import PSOConfig, pso  # looked up here: tests replace it

    task = case_task(case)
    return [pso(task, PSOConfig(seed=k)).best_position for k in range(n_runs)]
