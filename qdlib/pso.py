"""Particle swarm optimisation of the movable atoms' positions (the paper's baseline to DDPG).

The authors' settings are the defaults (PAPER.md): 300 particles, 20
iterations, inertia 0.5, cognitive and social weights c1, c2 drawn uniformly
from [0, 0.2] for every particle at every update, particles started at the
true positions plus U(−2, 2) Å per coordinate with zero velocity, no bounds.
The objective is the design task's loss (the authors' loss of the forward
model's spectrum against the target).

Two evaluation modes give the same swarm for the same seed: ``vectorised``
(the whole swarm is one batched forward-model call per iteration) and
per particle (one call per particle, as the authors' loop), so the cost of
the implementation can be told apart from the cost of the algorithm.

>>> result = pso(task, PSOConfig(seed=0))      # doctest: +SKIP
>>> result.best_loss, result.best_position      # doctest: +SKIP
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
    """Swarm settings; defaults are the authors'."""

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
    """Stop as soon as the best loss is below this (None: always run ``n_iterations``, as the authors)."""
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
        ``n_iterations`` when ``target_loss`` was reached early).
    n_evaluations : int
        Forward-model evaluations (geometries).
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
    """
    t0 = time.perf_counter()
    gen = torch.Generator().manual_seed(config.seed)
    n, shape = config.n_particles, (config.n_particles, task.n_movable, 3)
    dev = task.device
    rand = lambda *s: torch.rand(s, generator=gen).to(dev)  # noqa: E731
    calls = 0

    def objective(x):
        nonlocal calls
        with torch.no_grad():
            if vectorised:
                calls += 1
                return task.loss(task.spectra(x))
            calls += len(x)
            return torch.cat([task.loss(task.spectra(x[i : i + 1])) for i in range(len(x))])

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
    reached = lambda: config.target_loss is not None and history[-1] < config.target_loss  # noqa: E731
    for _ in range(config.n_iterations):
        if reached():
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
    return PSOResult(p_best[g].cpu().numpy(), float(p_loss[g]), np.array(history), n * len(history),
                     calls, time.perf_counter() - t0, x.cpu().numpy())  # fmt: skip
