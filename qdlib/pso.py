"""Particle swarm optimisation of the movable atoms' positions (the paper's baseline to DDPG).

The authors' settings are the defaults (their code, github.com/KShiba24/INVERSE-DESIGN-DDPG at cb4e1f1): 300 particles, 20
iterations, inertia 0.5, cognitive and social weights c1, c2 drawn uniformly
from [0, 0.2] for every particle at every update, particles started at the
true positions plus U(−2, 2) Å per coordinate with zero velocity, no bounds.
The objective is the design task's loss (the authors' loss of the forward
model's spectrum against the target).

Two evaluation modes give the same swarm for the same seed: ``vectorised``
(the whole swarm is one batched forward-model call per iteration) and
per particle (one call per particle, as the authors' loop), so the cost of
the implementation can be told apart from the cost of the algorithm. With a
``target_loss`` the search ends as soon as a design is below it: after the
swarm evaluation that found it, or per particle at that particle.

The authors' swarm on the paper's Cd6Se6 case (released ML-NN as forward model):

>>> from qdlib.design import DesignTask
>>> task = DesignTask.benchmark("Cd6Se6", n_movable=1, edge_angstrom=4.0)
>>> result = pso(task, PSOConfig(seed=0))
>>> result.best_position.shape, result.n_evaluations, result.n_calls
((1, 3), 6300, 21)
>>> result.best_loss < task.config.termination_loss
True
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from .design import DesignTask

__all__ = ["PSOConfig", "PSOResult", "pso"]


@dataclass(frozen=True)
class PSOConfig:
    """Swarm settings; defaults are the authors'.

    >>> cfg = PSOConfig(n_particles=30, target_loss=0.122)
    >>> cfg.n_particles, cfg.n_iterations, cfg.inertia, cfg.c_max, cfg.init_half_width_angstrom, cfg.target_loss
    (30, 20, 0.5, 0.2, 2.0, 0.122)
    """

    n_particles: int = 300
    n_iterations: int = 20
    inertia: float = 0.5
    c_max: float = 0.2
    """c1 and c2 are drawn from U(0, c_max) per particle and update."""
    init_half_width_angstrom: float = 2.0
    """Particles start at the true positions + U(−w, w) per coordinate, Å."""
    bounded: bool = False
    """Keep particles inside the task's cuboid (positions clipped, the velocity component zeroed there)."""
    target_loss: float | None = None
    """Stop as soon as a particle's loss is below this (None: always run ``n_iterations``, as the authors).
    Vectorised, the check follows each swarm evaluation; per particle, each particle's."""
    seed: int = 0


@dataclass
class PSOResult:
    """What a swarm found.

    Attributes
    ----------
    best_position : ndarray, shape (n_movable, 3)
        Best positions of the movable atoms, Å.
    best_loss : float
        The task's loss there.
    best_loss_history : ndarray, shape (iterations run + 1,)
        Best loss after initialisation and after every iteration (fewer than
        ``n_iterations + 1`` entries when ``target_loss`` was reached early).
    n_evaluations : int
        Forward-model evaluations (geometries) made.
    n_calls : int
        Forward-model calls (batches).
    wall_time_s : float
    """

    best_position: np.ndarray
    best_loss: float
    best_loss_history: np.ndarray
    n_evaluations: int
    n_calls: int
    wall_time_s: float
    positions: np.ndarray = field(repr=False, default=None)
    """Final particle positions, ``(n_particles, n_movable, 3)``, Å."""


def pso(task: DesignTask, config: PSOConfig = PSOConfig(), vectorised: bool = True) -> PSOResult:
    """Minimise ``task``'s loss over the movable atoms' positions with a particle swarm.

    Parameters
    ----------
    task : DesignTask
        The design task (forward model, target, cuboid).
    config : PSOConfig
    vectorised : bool
        One forward-model call for the whole swarm per iteration (True) or one per particle.

    Returns
    -------
    PSOResult

    Examples
    --------
    A CdSe dimer whose Se is placed by the swarm, with a toy forward model whose loss is zero
    at a 2.6 Å bond (the module docstring runs the paper's case):

    >>> import torch
    >>> from ase import Atoms
    >>> from qdlib.design import DesignTask
    >>> dimer = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]])
    >>> def forward(positions):  # bond length r (Å) -> a 3-bin "spectrum"
    ...     r = (positions[:, 1] - positions[:, 0]).norm(dim=-1, keepdim=True)
    ...     return 1000.0 * torch.exp(-((r - torch.tensor([2.0, 2.6, 3.2])) ** 2))
    >>> task = DesignTask(dimer, [1], forward(torch.tensor(dimer.positions[None]))[0].numpy(), forward)
    >>> result = pso(task, PSOConfig(n_particles=30, n_iterations=10, seed=0))
    >>> bond = float(((result.best_position[0] - dimer.positions[0]) ** 2).sum() ** 0.5)
    >>> round(bond, 2), result.best_loss < 1e-3, len(result.best_loss_history)
    (2.6, True, 11)

    With ``target_loss`` the swarm stops at the first evaluation below it; per particle it
    stops at the particle:

    >>> early = pso(task, PSOConfig(n_particles=30, target_loss=0.05, seed=0), vectorised=False)
    >>> early.best_loss < 0.05, early.n_calls == early.n_evaluations < 30 * 21
    (True, True)
    """
    t0 = time.perf_counter()
    gen = torch.Generator().manual_seed(config.seed)
    n, shape = config.n_particles, (config.n_particles, task.n_movable, 3)
    dev = task.device
    rand = lambda *s: torch.rand(s, generator=gen).to(dev)  # noqa: E731
    target = -np.inf if config.target_loss is None else config.target_loss
    calls = evaluations = 0

    def objective(x):
        """Losses of the swarm; per particle, particles after one below the target are left at +inf."""
        nonlocal calls, evaluations
        with torch.no_grad():
            if vectorised:
                calls, evaluations = calls + 1, evaluations + len(x)
                return task.loss(task.spectra(x))
            loss = torch.full((len(x),), torch.inf, device=dev)
            for i in range(len(x)):
                calls, evaluations = calls + 1, evaluations + 1
                loss[i] = task.loss(task.spectra(x[i : i + 1]))[0]
                if loss[i] < target:
                    break
            return loss

    half = 0.5 * task.config.edge_angstrom
    low, high = task.centre - half, task.centre + half
    x = task.centre + (2.0 * rand(*shape) - 1.0) * config.init_half_width_angstrom
    if config.bounded:
        x = torch.max(torch.min(x, high), low)
    v = torch.zeros(shape, device=dev)
    loss = objective(x)
    p_best, p_loss = x.clone(), loss.clone()
    g = int(torch.argmin(p_loss))
    history = [float(p_loss[g])]
    for _ in range(config.n_iterations):
        if history[-1] < target:
            break
        c1 = config.c_max * rand(n, 1, 1)
        c2 = config.c_max * rand(n, 1, 1)
        v = config.inertia * v + c1 * (p_best - x) + c2 * (p_best[g] - x)
        x = x + v
        if config.bounded:
            clipped = torch.max(torch.min(x, high), low)
            v = torch.where(clipped != x, torch.zeros_like(v), v)
            x = clipped
        loss = objective(x)
        better = loss < p_loss
        p_best[better], p_loss[better] = x[better], loss[better]
        g = int(torch.argmin(p_loss))
        history.append(float(p_loss[g]))
    return PSOResult(p_best[g].cpu().numpy(), float(p_loss[g]), np.array(history), evaluations,
                     calls, time.perf_counter() - t0, x.cpu().numpy())  # fmt: skip
