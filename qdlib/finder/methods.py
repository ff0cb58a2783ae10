"""How a design for a user's target picks the next library members to compute.

A method is made with the run's seed and has ``name`` and ``propose(pool, tried, n) -> list[int]``:
the pool indices of the next ``n`` members, none of them in ``tried`` (the calls so far, in order,
with their verdicts: :class:`~qdlib.finder.loop.FinderCall`; members judged from the store before
the first call have ``call`` −1). Its random choices come from the seed and the number of calls so
far, so a resumed run proposes what it would have given what the store holds (a member computed when
the run was killed is then judged from the store, not called again). Methods that need no model:

* :class:`RandomMembers` — members drawn at random (the control);
* :class:`StableFirst` — the most stable first: ascending GFN2-xTB energy above the
  composition's lowest member (ties, e.g. every composition's lowest member at 0 eV, in a
  random order of the run's seed);
* :class:`SurrogateRanked` — the paper's pipeline: the released surrogate (ML-NN, trained on the
  authors' data) predicts every member's spectrum from its Coulomb matrix, the members are ranked
  by the criterion's margin on the predicted spectrum, and TD-DFT verifies them in that order; no
  TD-DFT result changes the ranking.

>>> from ase import Atoms
>>> from qdlib.finder.pool import Pool
>>> pool = Pool([Atoms("Cd", info={"isomer": f"m{i}", "composition": "c", "e_above_ev": e}) for i, e in enumerate([0.3, 0.0, 0.1])])
>>> StableFirst(seed=0).propose(pool, [], 3)
[1, 2, 0]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["RandomMembers", "StableFirst", "SurrogateRanked"]


def _n_calls(tried: Sequence) -> int:
    """The TD-DFT calls among ``tried`` (members judged from the store before the first call have ``call`` −1)."""
    return sum(c.call >= 0 for c in tried)


def _untried(pool, tried: Sequence) -> list[int]:
    done = {c.index for c in tried}
    return [i for i in range(len(pool)) if i not in done]


class RandomMembers:
    """Members drawn uniformly at random from those not computed yet."""

    name = "random"

    def __init__(self, seed: int = 0):
        self.seed = seed

    def propose(self, pool, tried: Sequence, n: int) -> list[int]:
        left = _untried(pool, tried)
        rng = np.random.default_rng([self.seed, _n_calls(tried)])
        return [int(i) for i in rng.choice(left, size=min(n, len(left)), replace=False)]


class StableFirst:
    """The pool in ascending GFN2-xTB energy above each composition's lowest member; ties in the seed's random order."""

    name = "stable-first"

    def __init__(self, seed: int = 0):
        self.seed = seed

    def propose(self, pool, tried: Sequence, n: int) -> list[int]:
        tiebreak = np.random.default_rng([self.seed, 0]).permutation(len(pool))
        done = {c.index for c in tried}
        return [int(i) for i in np.lexsort((tiebreak, pool.e_above_ev)) if i not in done][:n]


class SurrogateRanked:
    """The members in the order of the released surrogate's predicted criterion margin (best first)."""

    name = "surrogate"

    def __init__(self, seed: int = 0, model: str = "ML-NN"):
        self.seed, self.model = seed, model
        self.target = self.criterion = None
        self.margins_: np.ndarray | None = None

    def bind(self, spectrum_of, target, criterion) -> SurrogateRanked:
        """Give the method the target and the criterion (the spectra TD-DFT returns are not used)."""
        self.target, self.criterion = target, criterion
        return self

    def predict(self, pool) -> np.ndarray:
        """The released surrogate's spectra of the pool's members, ``(n, n_bins)``, L mol⁻¹ cm⁻¹."""
        from ..features import CoulombMatrix
        from ..surrogates import load_released

        surrogate = load_released(self.target.kind, self.model, device="cpu")
        return np.clip(surrogate.predict(CoulombMatrix().create(pool.members)), 0.0, None)

    def propose(self, pool, tried: Sequence, n: int) -> list[int]:
        if self.margins_ is None or len(self.margins_) != len(pool):
            self.margins_ = self.criterion.margins(self.predict(pool), self.target, pool.e_above_ev)
        done = {c.index for c in tried}
        return [int(i) for i in np.argsort(-self.margins_, kind="stable") if i not in done][:n]
