"""The control that needs no model: the pool's designs in ascending GFN2-xTB strain.

A design's GFN2-xTB strain — its energy above the reference dot, a single point of a few
tens of milliseconds — is known before any TD-DFT call. Ranking the candidate pool by it
asks nothing of TD-DFT, of a surrogate or of a fitted model, and takes no target into
account: one order serves every target of a dot and seed (their calls are shared, as the
random control's are). Because the reference dot is the energy minimum of its space, low
strain means "near the reference structure": this control measures how much of a method's
success a design space gives away by its construction.

>>> import numpy as np
>>> from ase import Atoms
>>> from qdlib.campaign import DesignSpace
>>> space = DesignSpace(Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.3]]), [1], edge_angstrom=1.0)
>>> method = StableFirstDesigns(space, pool_size=8, pool_seed=0)
>>> u = method.propose([], 8, np.random.default_rng(0))
>>> strain = space.xtb_strain_ev(u)
>>> bool(np.all(np.diff(strain) >= 0))
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from .bayes import next_in_order
from .space import DesignSpace

__all__ = ["StableFirstDesigns"]


class StableFirstDesigns:
    """Proposes the pool's designs in ascending GFN2-xTB strain (see the module docstring).

    Parameters
    ----------
    space : DesignSpace
    pool_size : int
        Random physical designs ranked (:meth:`DesignSpace.pool`, the pool the model-based methods draw from).
    pool_seed : int
        Seed of the pool: the campaign's seed.
    cache_dir : path, optional
        Where the pool is kept.

    Attributes
    ----------
    strain_ev_ : ndarray, shape (pool_size,)
        After the first proposal: the xTB strain of each ranked design, ascending, eV.
    """

    def __init__(self, space: DesignSpace, pool_size: int = 256, pool_seed: int = 0, cache_dir=None):
        self.space, self.pool_size, self.pool_seed, self.cache_dir = space, pool_size, pool_seed, cache_dir
        self.strain_ev_: NDArray[np.float64] | None = None
        self._ranked: NDArray[np.float64] | None = None

    def ranked(self) -> NDArray[np.float64]:
        """The pool's designs, lowest xTB strain first (ties in pool order)."""
        if self._ranked is None:
            pool, strain = self.space.pool(self.pool_size, self.pool_seed, self.cache_dir)
            order = np.argsort(strain, kind="stable")
            self._ranked, self.strain_ev_ = pool[order], strain[order]
        return self._ranked

    def propose(self, history: Sequence, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
        return next_in_order(self.ranked(), history, n, self.space.name)
