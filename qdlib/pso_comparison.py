"""DDPG against particle swarm optimisation (the paper's Fig. 7): the timing experiment and TD-DFT's verdicts.

On the same task and forward model, the released agent of a case designs from random starts
one at a time and all at once, and the swarm of :mod:`qdlib.pso` runs vectorised and particle
by particle: in full (as the paper timed it), until a design is below the termination loss
(equal error), and started like the agent, over the whole cuboid. Wall times vary with the
machine; the losses and success rates do not.

:class:`TimingConfig`, :class:`DesignerTiming`
    The experiment's settings and the experiment (``kernel()`` runs it: one row per case).
:func:`expected_time`, :func:`time_case`
    Expected time to a design below the threshold; the measurements of one case.
:func:`paper_timing_table`, :func:`equal_error_table`
    The rows as text tables.
:func:`design_spectra`, :class:`DesignSpectra`
    The forward model's spectra of the best swarm design and the median agent design (Fig. 7a).
:func:`tddft_comparison`
    TD-DFT's verdicts on the swarm's best design beside the agent's designs, per case.

The experiment on the paper's Cd6Se6 case with tiny budgets (the notebook's are the paper's):

>>> config = TimingConfig(edges_angstrom=(4.0,), n_atoms=(1,), n_starts=4, n_designs=1, n_particles=10, n_iterations=2,
...                       n_random=20)
>>> timing = DesignerTiming(config)
>>> rows = timing.kernel()
>>> len(rows), rows[0]["pso_agree"] < 1e-6, sorted(timing.designs)
(1, True, [(4.0, 1)])
>>> paper_timing_table(rows)[1].split("|")[0].split()
['cuboid', 'atoms']
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .agents import Case, load_case, validate_case
from .pso import PSOConfig, PSOResult, pso
from .verdict import judge
from .verification import designed_structure, find_stored, recheck

log = logging.getLogger(__name__)

__all__ = [
    "DesignSpectra",
    "DesignerTiming",
    "TimingConfig",
    "design_spectra",
    "equal_error_table",
    "expected_time",
    "paper_timing_table",
    "tddft_comparison",
    "time_case",
]


@dataclass(frozen=True)
class TimingConfig:
    """Settings of the timing experiment; defaults are notebook 06's (the paper's swarm).

    >>> TimingConfig().n_particles, TimingConfig(n_atoms=(1,)).n_atoms
    (300, (1,))
    """

    kind: str = "absorption"
    """Target spectrum kind (the released agents of every cuboid are absorption)."""
    dot: str = "Cd6Se6"
    """The benchmark dot of Fig. 7."""
    edges_angstrom: tuple[float, ...] = (4.0, 10.0)
    """Cuboid edges, Å."""
    n_atoms: tuple[int, ...] = (1, 2, 3)
    """Numbers of movable atoms."""
    n_starts: int = 100
    """Random starts per case the agent designs from, one at a time and all at once."""
    n_designs: int = 5
    """Seeded swarms timed per case and variant."""
    n_per_particle: int = 1
    """Full per-particle swarms timed per case (the first seeds; seconds each on a CPU core)."""
    n_particles: int = 300
    """Swarm size (the authors: 300)."""
    n_iterations: int = 20
    """Swarm iterations (the authors: 20)."""
    n_random: int = 1000
    """Uniform random positions per case for the random-search success rate."""
    seed: int = 0
    """Seed of the starts (``seed + 20000``), the uniform positions (``seed + 30000``) and the swarms (``seed + k``)."""


def expected_time(seconds: ArrayLike, successes: ArrayLike) -> float:
    """Expected time until one design is below the threshold, attempts repeated until one is (Wald), s.

    The total time of all attempts over the number that succeeded (inf if none did).

    >>> float(expected_time([0.1, 0.1, 0.2], [1, 0, 1])), expected_time([0.1], [0])
    (0.2, inf)
    """
    return np.sum(seconds) / np.sum(successes) if np.sum(successes) else np.inf


def _swarm_runs(task, config: PSOConfig, n: int, seed: int, **kwargs) -> list[PSOResult]:
    return [pso(task, dataclasses.replace(config, seed=seed + k), **kwargs) for k in range(n)]


def time_case(agent, history: dict, config: TimingConfig = TimingConfig()) -> tuple[dict, tuple]:
    """Time the agent of one case against the swarm variants on its task.

    Parameters
    ----------
    agent : qdlib.ddpg.Agent
        A trained agent on its task (:func:`qdlib.agents.load_case`).
    history : dict
        Its training history (``wall_time_s``: the training time).
    config : TimingConfig

    Returns
    -------
    row : dict
        ``edge``, ``n``; ``train_s``; ``random_ok`` (share of uniform positions already below the
        threshold); the agent's median time per design one at a time (``ddpg_s``) and batched
        (``ddpg_batch_s``), its median loss and success rate; the full swarms' median times
        (``vec_s``, ``per_s``), median loss and success; expected times at equal error (``*_eq_s``:
        ``ddpg``, ``ddpg_batch``, ``hit_vec``, ``hit_per``, ``inside_vec``); the most iterations a
        stopping swarm needed (``hit_iterations``, ``inside_iterations``); and ``pso_agree``, the
        largest |best loss| difference between the vectorised and the per-particle full swarm of a
        seed. Times in s.
    design : tuple
        ``(task, the agent's batched DesignResult, the first full vectorised PSOResult)``.
    """
    import torch

    task = agent.task
    edge, n = task.config.edge_angstrom, task.n_movable
    threshold = task.config.termination_loss
    starts = task.sample_starts(config.n_starts, torch.Generator().manual_seed(config.seed + 20_000))
    single = [agent.design(starts[k : k + 1]) for k in range(config.n_starts)]  # one at a time
    batch = agent.design(starts)  # all at once
    full = PSOConfig(n_particles=config.n_particles, n_iterations=config.n_iterations)
    hit = dataclasses.replace(full, target_loss=threshold)
    # the same swarm started like the agent: anywhere inside the cuboid, and kept there
    inside = dataclasses.replace(hit, init_half_width_angstrom=edge / 2, bounded=True)
    seed, n_designs = config.seed, config.n_designs
    swarms = {
        "full vec": _swarm_runs(task, full, n_designs, seed),
        "full per": _swarm_runs(task, full, config.n_per_particle, seed, vectorised=False),
        "hit vec": _swarm_runs(task, hit, n_designs, seed), "hit per": _swarm_runs(task, hit, n_designs, seed, vectorised=False),
        "inside vec": _swarm_runs(task, inside, n_designs, seed),
    }  # fmt: skip
    with torch.no_grad():  # random search: the share of uniform positions in the cuboid already good enough
        uniform = task.sample_starts(config.n_random, torch.Generator().manual_seed(seed + 30_000))
        random_ok = float((task.loss(task.spectra(uniform)) < threshold).float().mean())
    seconds = {key: [r.wall_time_s for r in runs] for key, runs in swarms.items()}
    found = {key: [r.best_loss < threshold for r in runs] for key, runs in swarms.items()}
    iterations = {key: [len(r.best_loss_history) - 1 for r in runs] for key, runs in swarms.items()}
    row = {
        "edge": edge, "n": n, "train_s": history.get("wall_time_s", np.nan), "random_ok": random_ok,
        "ddpg_s": np.median([d.wall_time_s for d in single]), "ddpg_batch_s": batch.wall_time_s / len(starts),
        "ddpg_loss": float(np.median(batch.loss)), "ddpg_success": batch.success_rate,
        "vec_s": np.median(seconds["full vec"]), "per_s": np.median(seconds["full per"]),
        "pso_loss": float(np.median([r.best_loss for r in swarms["full vec"]])), "pso_success": np.mean(found["full vec"]),
        "ddpg_eq_s": expected_time([d.wall_time_s for d in single], [d.success_rate for d in single]),
        "ddpg_batch_eq_s": expected_time(batch.wall_time_s, np.sum(batch.success)),
        **{f"{key.replace(' ', '_')}_eq_s": expected_time(seconds[key], found[key]) for key in ("hit vec", "hit per", "inside vec")},
        "hit_iterations": max(iterations["hit vec"]), "inside_iterations": max(iterations["inside vec"]),
        "pso_agree": max(abs(a.best_loss - b.best_loss) for a, b in zip(swarms["full vec"], swarms["full per"])),
    }  # fmt: skip
    return row, (task, batch, swarms["full vec"][0])


class DesignerTiming:
    """The timing experiment of Fig. 7 over the cases of a :class:`TimingConfig`.

    ``kernel()`` loads each case's saved agent (``root``: an agents folder; default the released,
    hash-checked ``data/agents``) and times it (:func:`time_case`).

    Attributes
    ----------
    config : TimingConfig
    rows : list of dict
        One :func:`time_case` row per case with an agent, edges outer, atoms inner.
    designs : dict of (float, int) to tuple
        By (edge, atoms): ``(task, the agent's batched designs, the first full vectorised swarm)``.
    missing : list of str
        Why a case was skipped (no saved agent).
    """

    def __init__(self, config: TimingConfig = TimingConfig(), root: str | Path | None = None):
        self.config = config
        self.root = root
        self.rows: list[dict] = []
        self.designs: dict[tuple[float, int], tuple] = {}
        self.missing: list[str] = []

    def kernel(self) -> list[dict]:
        """Run the experiment; returns (and stores) :attr:`rows`."""
        c = self.config
        self.rows, self.designs, self.missing = [], {}, []
        for edge in c.edges_angstrom:
            for n in c.n_atoms:
                case = Case(c.kind, c.dot, edge, n)
                try:
                    agent, history = load_case(case, self.root)
                except FileNotFoundError as exc:
                    self.missing.append(str(exc))
                    continue
                log.info("timing %s", case.name)
                row, self.designs[edge, n] = time_case(agent, history, c)
                self.rows.append(row)
        return self.rows


def paper_timing_table(rows: Sequence[dict]) -> list[str]:
    """The rows as the paper timed them: one agent rollout against a full swarm (times in ms, speed ratios).

    >>> row = dict(edge=4.0, n=1, ddpg_s=0.01, ddpg_batch_s=0.001, ddpg_loss=0.08, ddpg_success=0.98, vec_s=0.2, per_s=80.0,
    ...            pso_loss=0.001, pso_success=1.0)
    >>> paper_timing_table([row])[-1]
    '   4 Å     1 |     10.0      1.00  0.080 0.98 |      200.0      80000  0.001 1.00 |      20×    8000× | ~1000×'
    """
    head = (f"{'cuboid':>6} {'atoms':>5} | {'DDPG ms':>8} {'(batched)':>9} {'loss':>6} {'ok':>4} | {'PSO-vec ms':>10} "
            f"{'PSO-pp ms':>10} {'loss':>6} {'ok':>4} | {'vec/DDPG':>8} {'pp/DDPG':>8} | paper")  # fmt: skip
    lines = ["As the paper timed it: one agent rollout against a full swarm (20 iterations)", head]
    for r in rows:
        claim = "~1000×" if r["edge"] == 4.0 else "~100×"
        lines.append(f"{r['edge']:>4.0f} Å {r['n']:>5} | {1e3 * r['ddpg_s']:8.1f} {1e3 * r['ddpg_batch_s']:9.2f} {r['ddpg_loss']:6.3f} "
                     f"{r['ddpg_success']:4.2f} | {1e3 * r['vec_s']:10.1f} {1e3 * r['per_s']:10.0f} {r['pso_loss']:6.3f} "
                     f"{r['pso_success']:4.2f} | {r['vec_s'] / r['ddpg_s']:7.0f}× {r['per_s'] / r['ddpg_s']:7.0f}× | {claim}")  # fmt: skip
    return lines


def equal_error_table(rows: Sequence[dict]) -> list[str]:
    """The rows at equal error: expected time until a design is below the termination loss (ms), and ratios.

    >>> row = dict(edge=10.0, n=2, ddpg_success=0.14, random_ok=0.041, ddpg_eq_s=0.165, ddpg_batch_eq_s=0.015,
    ...            hit_iterations=0, hit_vec_eq_s=0.0088, hit_per_eq_s=0.0222, inside_iterations=1, inside_vec_eq_s=0.012)
    >>> equal_error_table([row])[-1]
    '  10 Å     2 |  0.14  0.041 |  165.0     15.00 |     0      8.8       22.2 |     1        12.0 |  0.05×    0.6×'
    """
    groups = (f"{'':>12} | {'success rate':^12} | {'DDPG':^16} | {'PSO, authors start (±2 Å)':^25} | {'PSO, whole cuboid':^17} "
              f"| {'PSO-vec / DDPG':^14}")  # fmt: skip
    head = (f"{'cuboid':>6} {'atoms':>5} | {'DDPG':>5} {'random':>6} | {'one':>6} {'batched':>9} | {'iters':>5} {'vec':>8} "
            f"{'pp':>10} | {'iters':>5} {'vec':>11} | {'one':>6} {'batched':>7}")  # fmt: skip
    lines = ["At equal error: expected time until a design is below the termination loss (ms)", groups, head]
    for r in rows:
        lines.append(f"{r['edge']:>4.0f} Å {r['n']:>5} | {r['ddpg_success']:5.2f} {r['random_ok']:6.3f} | {1e3 * r['ddpg_eq_s']:6.1f} "
                     f"{1e3 * r['ddpg_batch_eq_s']:9.2f} | {r['hit_iterations']:5d} {1e3 * r['hit_vec_eq_s']:8.1f} "
                     f"{1e3 * r['hit_per_eq_s']:10.1f} | {r['inside_iterations']:5d} {1e3 * r['inside_vec_eq_s']:11.1f} "
                     f"| {r['hit_vec_eq_s'] / r['ddpg_eq_s']:5.2f}× {r['hit_vec_eq_s'] / r['ddpg_batch_eq_s']:6.1f}×")  # fmt: skip
    return lines


@dataclass
class DesignSpectra:
    """The forward model's spectra of one case's designs (ε, L mol⁻¹ cm⁻¹, on the paper grid).

    Attributes
    ----------
    target : ndarray
    pso : ndarray
        At the best position of the swarm; ``pso_loss`` its loss.
    ddpg : ndarray
        At the agent's median design (by loss over its starts); ``ddpg_loss`` its loss.
    """

    target: NDArray[np.float64]
    pso: NDArray[np.float64]
    pso_loss: float
    ddpg: NDArray[np.float64]
    ddpg_loss: float


def design_spectra(task, batch, swarm: PSOResult) -> DesignSpectra:
    """The target, the swarm's best design and the agent's median design as spectra of ``task``'s forward model.

    ``batch``: the agent's :class:`~qdlib.ddpg.DesignResult` over its starts; ``swarm``: a
    :class:`~qdlib.pso.PSOResult` on the same task.
    """
    import torch

    with torch.no_grad():
        pso_spec = task.spectra(torch.as_tensor(swarm.best_position[None], dtype=torch.float32))[0].numpy()
        k = int(np.argsort(batch.loss)[len(batch.loss) // 2])
        ddpg_spec = task.spectra(torch.as_tensor(batch.positions[k : k + 1]))[0].numpy()
    return DesignSpectra(task.target, pso_spec, swarm.best_loss, ddpg_spec, batch.loss[k])


def tddft_comparison(designs: dict, source, target, kind: str, dot: str, seed: int = 0, n_starts: int = 100) -> list[dict]:
    """TD-DFT's verdict on each case's best swarm design beside the verdicts on the agent's designs.

    The swarm's design is looked up in ``source`` (labels ``set="pso"``, ``seed`` and the window's
    ``cover_nm``; :func:`~qdlib.verification.find_stored`) and judged by :func:`qdlib.verdict.judge`; the
    agent's are its ``n_starts`` seeded designs rechecked as in notebook 04. Cases with neither are left out.

    Parameters
    ----------
    designs : dict of (float, int) to tuple
        :attr:`DesignerTiming.designs`.
    source : qdlib.tddft_data.TDDFTDataset, qdlib.store.ResultStore or path of a store
    target : qdlib.verdict.Target or None
        The dot's target (None: no rows).
    kind, dot : str
    seed, n_starts : int

    Returns
    -------
    list of dict
        ``edge``, ``n``, ``pso_loss`` (the swarm's surrogate loss), ``pso_verdict`` (a
        :class:`~qdlib.verdict.Verdict` or None), ``position_error_angstrom`` (the swarm design's
        mean distance from the true positions, Å) and ``ddpg`` (:meth:`Recheck.summary
        <qdlib.verification.Recheck.summary>`).
    """
    if target is None:
        return []
    cover = {"cover_nm": round(float(target.window.cover_nm), 2)} if target.window.cover_nm else {}
    rows = []
    for (edge, n), (task, _, swarm) in designs.items():
        case = Case(kind, dot, edge, n)
        frame = designed_structure(case, swarm.best_position, set="pso", seed=seed, **cover)
        hit = find_stored([frame], source)[0]
        r = recheck(validate_case(case, n_starts, seed), source, target).summary()
        if hit is None and not r["n"]:
            continue
        dr = np.linalg.norm(swarm.best_position - task.centre.numpy(), axis=-1).mean()
        verdict = None if hit is None else judge(hit[0], hit[1], target)
        rows.append({"edge": edge, "n": n, "pso_loss": swarm.best_loss, "pso_verdict": verdict,
                     "position_error_angstrom": dr, "ddpg": r})  # fmt: skip
    return rows
