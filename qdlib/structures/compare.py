"""Whether two clusters are one structure, up to rotation, translation and atom order.

Relaxations from different starts often reach one minimum: :func:`same_structure` compares two
clusters by their sorted interatomic distances per element pair, :func:`distinct_structures`
finds the repeats in a list.

>>> from ase import Atoms
>>> dimer = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]])
>>> same_structure(dimer, Atoms("SeCd", positions=[[1, 1, 1], [1, 3.6, 1]]))
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms

from .checks import composition, distances

__all__ = ["distinct_structures", "same_structure"]


def same_structure(a: Atoms, b: Atoms, tol_angstrom: float = 0.02) -> bool:
    """Whether two clusters are one structure, up to rotation, translation and atom order.

    Same composition, and for every element pair the sorted interatomic
    distances agree within ``tol_angstrom`` (Å). Relaxations from different
    starts that reach one minimum agree to a few thousandths of an ångström.
    Equal distance lists are necessary, not sufficient (a homometric pair,
    rare for relaxed clusters, would pass).

    Examples
    --------
    >>> from ase import Atoms
    >>> from qdlib.structures import displace_by
    >>> dimer = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]])
    >>> turned = dimer.copy()
    >>> turned.rotate(90, "x")
    >>> turned.translate([1.0, 2.0, 3.0])
    >>> same_structure(dimer, turned), same_structure(dimer, displace_by(dimer, [1], 0.1, rng=0))
    (True, False)
    """
    if len(a) != len(b) or composition(a) != composition(b):
        return False
    return all(np.max(np.abs(x - y), initial=0.0) <= tol_angstrom for x, y in zip(_pair_distances(a), _pair_distances(b)))


def distinct_structures(structures: Sequence[Atoms], tol_angstrom: float = 0.02) -> dict[int, int]:
    """For each structure that repeats an earlier one (:func:`same_structure`), the index of the first.

    Returns ``{index: index of its first occurrence}`` for the repeats only;
    an empty dict when all are distinct.

    >>> from ase import Atoms
    >>> from qdlib.structures import displace_by
    >>> dimer = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]])
    >>> shifted = dimer.copy()
    >>> shifted.translate([1.0, 0.0, 0.0])
    >>> distinct_structures([dimer, displace_by(dimer, [1], 0.5, rng=0), shifted])
    {2: 0}
    """
    firsts: list[int] = []
    repeats = {}
    for i, atoms in enumerate(structures):
        first = next((j for j in firsts if same_structure(structures[j], atoms, tol_angstrom)), None)
        if first is None:
            firsts.append(i)
        else:
            repeats[i] = first
    return repeats


def _pair_distances(atoms: Atoms) -> list[np.ndarray]:
    """Sorted distances (Å) of each element pair, pairs in a fixed order."""
    z, d = atoms.numbers, distances(atoms)
    iu, ju = np.triu_indices(len(atoms), 1)
    pairs = np.sort(np.stack([z[iu], z[ju]]), axis=0)
    out = []
    for p in sorted({tuple(c) for c in pairs.T}):
        mask = (pairs[0] == p[0]) & (pairs[1] == p[1])
        out.append(np.sort(d[iu[mask], ju[mask]]))
    return out
