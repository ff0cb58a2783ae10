"""The candidates of a design for a user's target: the library's members, and where their spectra come from.

A :class:`Pool` holds the members a design may propose (frames of :func:`qdlib.library.members.load_members`,
``info``: ``composition``, ``isomer``, ``e_above_ev``, …), in a fixed order, with what is known of
each before any TD-DFT: its composition and its GFN2-xTB energy above its composition's lowest
member. An *oracle* answers a call: the member's TD-DFT spectrum at the paper's settings with states
down to :data:`qdlib.library.tddft.COVER_NM` — the library's own calculation, so one call serves
every target:

* :class:`StoreOracle` ``(replay=True)`` reads the results store and computes nothing (a member not
  there is not in a replay's pool: :meth:`Pool.computed`);
* :class:`StoreOracle` ``(replay=False)`` computes what the store lacks and writes it there.

>>> from ase import Atoms
>>> pool = Pool([Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]],
...                    info={"composition": "Cd1Se1Te0", "isomer": "Cd1Se1Te0-00", "e_above_ev": 0.0})])
>>> len(pool), pool.names
(1, ['Cd1Se1Te0-00'])
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
from ase import Atoms
from numpy.typing import NDArray

__all__ = ["Pool", "StoreOracle"]


class Pool:
    """The library's members as a design's candidates, indexed ``0 … n − 1``.

    Parameters
    ----------
    members : sequence of ase.Atoms
        Library frames; ``info`` holds ``isomer`` (a unique name), ``composition`` and
        ``e_above_ev`` (GFN2-xTB energy above the composition's lowest member, eV).
    """

    def __init__(self, members: Sequence[Atoms]):
        self.members = list(members)
        names = [m.info["isomer"] for m in self.members]
        if len(set(names)) != len(names):
            raise ValueError("two members share an isomer name")

    def __len__(self) -> int:
        return len(self.members)

    @property
    def names(self) -> list[str]:
        """The members' isomer names, in pool order."""
        return [m.info["isomer"] for m in self.members]

    @property
    def e_above_ev(self) -> NDArray[np.float64]:
        """Each member's GFN2-xTB energy above its composition's lowest member, eV."""
        return np.array([float(m.info["e_above_ev"]) for m in self.members])

    def subset(self, indices: Sequence[int]) -> Pool:
        """The pool of the members at ``indices``, in that order."""
        return Pool([self.members[i] for i in indices])

    def computed(self, oracle: StoreOracle) -> Pool:
        """The members whose spectra ``oracle``'s store holds: the pool of a replay."""
        return self.subset([i for i, m in enumerate(self.members) if oracle.stored(m)])

    @classmethod
    def from_library(cls, directory=None, max_atoms: int | None = None, max_e_above_ev: float | None = None) -> Pool:
        """The released library (:func:`qdlib.library.members.load_members`), optionally restricted."""
        from ..library.members import load_members

        members = [m for m in load_members(directory) if (max_atoms is None or len(m) <= max_atoms)
                   and (max_e_above_ev is None or m.info["e_above_ev"] <= max_e_above_ev)]  # fmt: skip
        return cls(members)


class StoreOracle:
    """A member's TD-DFT as the library computes it: from the results store, or computed into it.

    Parameters
    ----------
    store : qdlib.store.ResultStore
        Where the library's results are (``data/stores/library.json`` by default in the CLI).
    replay : bool
        Read the store only; a member not there raises ``LookupError`` (a replay's pool holds only
        stored members).
    settings, options
        The paper's settings by default (the library's), and how to run (threads, backend).
    cover_nm, max_states : float, int
        The library's request (:data:`qdlib.library.tddft.COVER_NM`, :data:`~qdlib.library.tddft.MAX_STATES`).
    executor
        Where new calculations run (:func:`qdlib.compute.compute_many`).
    """

    def __init__(self, store, replay: bool = False, settings=None, options=None, cover_nm: float | None = None,
                 max_states: int | None = None, executor=None):  # fmt: skip
        from ..library.tddft import COVER_NM, MAX_STATES
        from ..qchem import EngineOptions, TDDFTSettings
        from ..store import covered_key

        self.store, self.replay, self.executor = store, replay, executor
        self.settings, self.options = settings or TDDFTSettings(), options or EngineOptions()
        self.cover_nm, self.max_states = cover_nm or COVER_NM, max_states or MAX_STATES
        self._key = functools.partial(covered_key, cover_nm=self.cover_nm, max_states=self.max_states)
        self.n_computed = 0

    def key(self, member: Atoms) -> str:
        """The store key of ``member``'s calculation."""
        return self._key(member, self.settings)

    def stored(self, member: Atoms) -> bool:
        """Whether the store holds ``member``'s result."""
        return self.store.get_by_key(self.key(member)) is not None

    def __call__(self, members: Sequence[Atoms]) -> list:
        """The :class:`~qdlib.qchem.Excitations` of each member (``None`` where TD-DFT failed)."""
        if self.replay:
            found = [self.store.get_by_key(self.key(m)) for m in members]
            missing = [m.info.get("isomer", m.get_chemical_formula()) for m, r in zip(members, found) if r is None]
            if missing:
                raise LookupError(f"replay: no stored result for {missing}")
            return found
        from ..library.tddft import compute_spectra

        report = compute_spectra(members, self.store, self.settings, self.options, cover_nm=self.cover_nm,
                                 max_states=self.max_states, executor=self.executor)  # fmt: skip
        self.n_computed += report.n_computed
        return [report.results.get(i) for i in range(len(members))]
