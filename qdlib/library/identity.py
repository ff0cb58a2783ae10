"""When two relaxed clusters are one minimum: energy, sorted distances, then RMSD after alignment.

Three tests, cheapest first, all invariant to rotation, translation and the order of like atoms:

1. GFN2-xTB energies within ``energy_tol_ev`` (5 meV): relaxations that reach one minimum agree
   to far less;
2. for every element pair, the sorted interatomic distances within ``distance_tol_angstrom``
   (0.1 Å; necessary, not sufficient);
3. the RMSD after the best assignment of like atoms (Hungarian, over the inertia frames and
   their reflections) and the best rotation (Kabsch): at most ``rmsd_tol_angstrom`` (0.1 Å), the
   ``rmsd`` package's ``reorder_inertia_hungarian`` and ``kabsch_rmsd``.

Mirror images count as one minimum (their spectra are the same).

>>> import numpy as np
>>> from ase import Atoms
>>> tetra = Atoms("CdSeCdSe", positions=[[0, 0, 0], [2.6, 0, 0], [1.3, 2.2, 0], [1.3, 0.8, 2.1]])
>>> turned = tetra[[2, 3, 0, 1]]
>>> turned.rotate(70, "y")
>>> turned.translate([3.0, -1.0, 0.5])
>>> aligned_rmsd(tetra, turned) < 1e-6
True
>>> squashed = tetra.copy()
>>> squashed.positions[3, 2] = 1.4
>>> round(aligned_rmsd(tetra, squashed), 2)  # Å
0.3
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ase import Atoms

__all__ = ["IdentityTolerances", "aligned_rmsd", "same_minimum", "unique_minima"]


@dataclass(frozen=True)
class IdentityTolerances:
    """How close two relaxed clusters must be to count as one minimum."""

    energy_tol_ev: float = 0.005
    """Largest GFN2-xTB energy difference, eV (``info["e_xtb_ev"]``; skipped if either lacks it)."""
    distance_tol_angstrom: float = 0.1
    """Largest difference between the sorted distances of any element pair, Å."""
    rmsd_tol_angstrom: float = 0.1
    """Largest RMSD after alignment over like-atom permutations and rotations, Å."""


def aligned_rmsd(a: Atoms, b: Atoms) -> float:
    """RMSD between two clusters of one composition after the best like-atom assignment and rotation, Å.

    The smaller of the RMSDs to ``b`` and to its mirror image.
    """
    import rmsd

    if sorted(a.numbers) != sorted(b.numbers):
        raise ValueError(f"different compositions: {a.get_chemical_formula()} and {b.get_chemical_formula()}")
    p = a.positions - a.positions.mean(axis=0)
    best = np.inf
    for mirror in (1.0, -1.0):  # b, and its mirror image
        q = (b.positions - b.positions.mean(axis=0)) * [mirror, 1.0, 1.0]
        order = rmsd.reorder_inertia_hungarian(a.numbers, b.numbers, p, q)
        best = min(best, float(rmsd.kabsch_rmsd(p, q[order])))
    return best


def _sorted_distances(atoms: Atoms) -> dict[tuple[int, int], np.ndarray]:
    d = atoms.get_all_distances()
    z = atoms.numbers
    out = {}
    i, j = np.triu_indices(len(atoms), 1)
    for pair in {tuple(sorted((z[m], z[n]))) for m, n in zip(i, j)}:
        mask = [tuple(sorted((z[m], z[n]))) == pair for m, n in zip(i, j)]
        out[pair] = np.sort(d[i[mask], j[mask]])
    return out


def same_minimum(a: Atoms, b: Atoms, tol: IdentityTolerances = IdentityTolerances()) -> bool:
    """Whether two relaxed clusters are one minimum (see the module docstring).

    >>> from ase import Atoms
    >>> dimer = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.33]])
    >>> same_minimum(dimer, Atoms("SeCd", positions=[[1, 0, 0], [1, 2.33, 0]]))
    True
    """
    if sorted(a.numbers) != sorted(b.numbers):
        return False
    ea, eb = a.info.get("e_xtb_ev"), b.info.get("e_xtb_ev")
    if ea is not None and eb is not None and abs(ea - eb) > tol.energy_tol_ev:
        return False
    da, db = _sorted_distances(a), _sorted_distances(b)
    if any(np.max(np.abs(da[k] - db[k])) > tol.distance_tol_angstrom for k in da):
        return False
    return aligned_rmsd(a, b) <= tol.rmsd_tol_angstrom


def unique_minima(minima: Sequence[Atoms], tol: IdentityTolerances = IdentityTolerances()) -> list[list[int]]:
    """Group relaxed clusters into distinct minima, lowest energy first.

    Returns one list of indices per distinct minimum, its first index the lowest-energy copy
    (the representative); groups ordered by that energy.

    >>> from ase import Atoms
    >>> a = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.33]], info={"e_xtb_ev": -1.0})
    >>> b = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.90]], info={"e_xtb_ev": -0.5})
    >>> unique_minima([b, a, a.copy()])
    [[1, 2], [0]]
    """
    order = sorted(range(len(minima)), key=lambda i: minima[i].info.get("e_xtb_ev", 0.0))
    groups: list[list[int]] = []
    for i in order:
        home = next((g for g in groups if same_minimum(minima[g[0]], minima[i], tol)), None)
        if home is None:
            groups.append([i])
        else:
            home.append(i)
    return groups
