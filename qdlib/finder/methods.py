"""How a design for a user's target picks the next library members to compute.

A method is made with the run's seed and has ``name`` and ``propose(pool, tried, n) -> list[int]``:
the pool indices of the next ``n`` members, none of them in ``tried`` (the calls so far, in order,
with their verdicts: :class:`~qdlib.finder.loop.FinderCall`). Its random choices come from the
seed and the number of calls so far, so a resumed run proposes what it would have. Methods that
need no model:

* :class:`RandomMembers` — members drawn at random (the control);
* :class:`StableFirst` — the most stable first: ascending GFN2-xTB energy above the
  composition's lowest member (ties, e.g. every composition's lowest member at 0 eV, in a
  random order of the run's seed).

>>> from ase import Atoms
>>> from qdlib.finder.pool import Pool
>>> pool = Pool([Atoms("Cd", info={"isomer": f"m{i}", "composition": "c", "e_above_ev": e}) for i, e in enumerate([0.3, 0.0, 0.1])])
>>> StableFirst(seed=0).propose(pool, [], 3)
[1, 2, 0]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["METHODS", "RandomMembers", "StableFirst", "make_method"]


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
        rng = np.random.default_rng([self.seed, len(tried)])
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


def _methods() -> dict:
    from .active import ActiveMembers

    return {m.name: m for m in (RandomMembers, StableFirst, ActiveMembers)}


METHODS = ("random", "stable-first", "al")
"""Every method's name: random members (the control), the most stable first, active learning
(:class:`~qdlib.finder.active.ActiveMembers`)."""


def make_method(name: str, seed: int = 0):
    """The method called ``name`` (:data:`METHODS`), seeded."""
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; known: {list(METHODS)}")
    return _methods()[name](seed)
