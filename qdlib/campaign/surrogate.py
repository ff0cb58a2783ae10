"""The paper's pipeline inside a campaign: design against the surrogate alone, spend TD-DFT on verifying.

The paper designs with its neural surrogate as the only judge and asks TD-DFT nothing until
the end. Here that pipeline gets the campaign's design space and budget: the released design
surrogate (:data:`qdlib.surrogates.DESIGN_MODEL`, the designers' forward model) predicts the
spectrum of every design of a pool of random physical designs, the designs are ranked by the
authors' loss (:func:`qdlib.spectra.authors_loss`) against the campaign's target, and each
round sends the best not yet verified to TD-DFT. No TD-DFT result ever changes the ranking:
that is the pipeline being measured.

The designer is an exhaustive search of the pool rather than the paper's DDPG agent: on a
pool it finds the surrogate's best designs exactly, so what TD-DFT finds is the surrogate's
verdict, not the designer's luck; and it serves the shifted targets T±10, for which no
agent was trained.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from ..verdict import Target
from .bayes import next_in_order
from .space import DesignSpace

log = logging.getLogger(__name__)

__all__ = ["SurrogateDesigns"]


class SurrogateDesigns:
    """Proposes the pool's designs in the order of their surrogate loss against the target.

    Parameters
    ----------
    space : DesignSpace
    target : qdlib.verdict.Target
        The campaign's target (its spectrum on the paper grid).
    pool_size : int
        Random physical designs ranked (:meth:`DesignSpace.pool`).
    pool_seed : int
        Seed of the pool: the campaign's seed, so seeds differ by their pools.
    cache_dir : path, optional
        Where the pool is kept.
    surrogate : optional
        A fitted neural surrogate; default the released design surrogate of the target's kind.

    Attributes
    ----------
    losses_ : ndarray, shape (pool_size,)
        After the first proposal: the surrogate's authors' loss of each pool design.
    """

    def __init__(self, space: DesignSpace, target: Target, pool_size: int = 256, pool_seed: int = 0, cache_dir=None,
                 surrogate=None):  # fmt: skip
        self.space, self.target, self.pool_size, self.pool_seed = space, target, pool_size, pool_seed
        self.cache_dir, self.surrogate = cache_dir, surrogate
        self.losses_: NDArray[np.float64] | None = None
        self._ranked: NDArray[np.float64] | None = None

    def predict(self, u: NDArray) -> NDArray[np.float64]:
        """The surrogate's spectra ``(N, n_bins)`` of designs ``u`` ``(N, dim)``, L mol⁻¹ cm⁻¹."""
        import torch

        from ..design import SurrogateForward
        from ..surrogates import DESIGN_MODEL, load_released

        if self.surrogate is None:
            self.surrogate = load_released(self.target.kind, DESIGN_MODEL, device="cpu")
        forward = SurrogateForward(self.surrogate, self.space.atoms)
        with torch.no_grad():
            return forward(torch.as_tensor(self.space.geometries(u))).double().cpu().numpy()

    def ranked(self) -> NDArray[np.float64]:
        """The pool's designs, best surrogate loss first."""
        if self._ranked is None:
            from ..spectra import LOSS_SCALE
            from ..spectra import authors_loss

            pool = self.space.pool(self.pool_size, self.pool_seed, self.cache_dir)[0]
            self.losses_ = authors_loss(self.predict(pool), self.target.spectrum[None], LOSS_SCALE[self.target.kind])
            order = np.argsort(self.losses_, kind="stable")
            self._ranked = pool[order]
            log.info("%s: surrogate losses of %d pool designs against %s: best %.3f, median %.3f", self.space.name, len(pool),
                     self.target.name, self.losses_[order[0]], float(np.median(self.losses_)))  # fmt: skip
        return self._ranked

    def propose(self, history: Sequence, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
        return next_in_order(self.ranked(), history, n, self.space.name)
