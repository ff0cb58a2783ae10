"""Bayesian optimisation directly on TD-DFT (BoTorch): a Gaussian process on the criterion's margin.

Each round, a GP (BoTorch's ``SingleTaskGP``: Matérn-5/2 kernel with one length scale per
coordinate, inputs in the unit cube, outputs standardised) is fitted to the margins
(:meth:`~qdlib.campaign.Criterion.margin`) of every design computed so far, and the next batch
is the one with the largest noisy expected improvement (``qLogNoisyExpectedImprovement``; a
batch of two keeps both cores busy) among candidates that are physical by construction:

* a pool of random physical designs (:meth:`~qdlib.campaign.DesignSpace.pool`, drawn once per
  space and seed), and
* designs a little away (about 0.1 Å) from the best ones computed so far that pass the same
  physical filter — so the search can refine beyond the pool's spacing.

The first round takes random pool designs: the method is never told the true positions.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from .space import DesignSpace

log = logging.getLogger(__name__)

__all__ = ["BayesianDesigns", "unseen", "next_in_order"]


def unseen(candidates: NDArray[np.float64], history: Sequence) -> NDArray[np.float64]:
    """``candidates`` ``(n, dim)`` less the designs already computed in ``history`` (unit coordinates equal to 1e-6)."""
    done = np.array([r.u for r in history]).reshape(-1, candidates.shape[1])
    if not len(done):
        return candidates
    return candidates[np.min(np.abs(candidates[:, None, :] - done[None]).max(axis=-1), axis=1) >= 1e-6]


def next_in_order(ranked: NDArray[np.float64], history: Sequence, n: int, name: str = "the pool") -> NDArray[np.float64]:
    """The first ``n`` designs of ``ranked`` not computed yet in ``history`` (methods that verify a fixed order).

    >>> from types import SimpleNamespace
    >>> ranked = np.array([[0.1], [0.2], [0.3]])
    >>> next_in_order(ranked, [SimpleNamespace(u=[0.1])], 2)
    array([[0.2],
           [0.3]])
    """
    left = unseen(ranked, history)
    if len(left) < n:
        raise RuntimeError(f"{name}: the pool of {len(ranked)} is spent; raise pool_size above the budget")
    return left[:n]


class BayesianDesigns:
    """Proposes designs by Bayesian optimisation of the criterion's margin (see the module docstring).

    Parameters
    ----------
    space : DesignSpace
    pool_size : int
        Random physical designs in the candidate pool.
    pool_seed : int
        Seed of the pool: the campaign's seed, so that seeds differ by their pools and first designs
        (campaigns of one space and seed share the pool and its cost).
    cache_dir : path, optional
        Where the pool is kept (:meth:`DesignSpace.pool`).
    n_initial : int
        Calls before the first model (random pool designs).
    n_local : int
        Candidates drawn around the best designs each round.
    local_step : float
        Their spread, in unit coordinates (× the cube's edge in Å: 0.025 × 4 Å = 0.1 Å).
    """

    def __init__(self, space: DesignSpace, pool_size: int = 256, pool_seed: int = 0, cache_dir=None,
                 n_initial: int = 2, n_local: int = 32, local_step: float = 0.025):  # fmt: skip
        self.space, self.pool_size, self.pool_seed, self.cache_dir = space, pool_size, pool_seed, cache_dir
        self.n_initial, self.n_local, self.local_step = n_initial, n_local, local_step
        self._pool: NDArray[np.float64] | None = None

    @property
    def pool(self) -> NDArray[np.float64]:
        if self._pool is None:
            self._pool = self.space.pool(self.pool_size, self.pool_seed, self.cache_dir)[0]
        return self._pool

    def candidates(self, history: Sequence, rng: np.random.Generator) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The pool less what was computed, and physical designs around the best computed ones."""
        pool = unseen(self.pool, history)
        local = np.empty((0, self.space.dim))
        ranked = sorted((r for r in history if np.isfinite(r.margin)), key=lambda r: -r.margin)
        if ranked and self.n_local:
            best = np.array([r.u for r in ranked[:2]])
            trial = np.clip(best[rng.integers(len(best), size=self.n_local)]
                            + self.local_step * rng.standard_normal((self.n_local, self.space.dim)), 0.0, 1.0)  # fmt: skip
            trial = trial[self.space.shortest_distance(trial) >= self.space.min_distance_angstrom]
            local = trial[self.space.xtb_strain_ev(trial) <= self.space.bounds.xtb_max_strain_ev]
        return pool, local

    def propose(self, history: Sequence, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
        import torch

        pool, local = self.candidates(history, rng)
        if len(history) < self.n_initial:
            return pool[rng.choice(len(pool), size=n, replace=False)]
        candidates = np.vstack([pool, local])
        from botorch.acquisition.logei import qLogNoisyExpectedImprovement
        from botorch.fit import fit_gpytorch_mll
        from botorch.models import SingleTaskGP
        from botorch.models.transforms import Normalize, Standardize
        from botorch.optim import optimize_acqf_discrete
        from botorch.sampling import SobolQMCNormalSampler
        from gpytorch.mlls import ExactMarginalLogLikelihood

        x = torch.tensor([r.u for r in history], dtype=torch.float64)
        y = torch.tensor([[r.margin] for r in history], dtype=torch.float64)
        seed = int(rng.integers(2**31 - 1))
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            bounds = torch.stack([torch.zeros(self.space.dim), torch.ones(self.space.dim)]).double()
            gp = SingleTaskGP(x, y, input_transform=Normalize(d=self.space.dim, bounds=bounds),
                              outcome_transform=Standardize(m=1))  # fmt: skip
            fit_gpytorch_mll(ExactMarginalLogLikelihood(gp.likelihood, gp))
            acq = qLogNoisyExpectedImprovement(gp, X_baseline=x, sampler=SobolQMCNormalSampler(torch.Size([256]), seed=seed),
                                               prune_baseline=True)  # fmt: skip
            choice, _ = optimize_acqf_discrete(acq, q=n, choices=torch.as_tensor(candidates, dtype=torch.float64), unique=True)
        return choice.detach().numpy()
