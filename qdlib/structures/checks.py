"""What a usable structure is: supported elements, a size the models hold, no overlapping or detached atoms.

:func:`validate` checks a structure before anything is computed on it and raises
:class:`StructureError` naming the problem; :func:`composition` labels it in the paper's form,
:func:`distances` and :func:`is_connected` describe its geometry.

>>> from ase import Atoms
>>> dimer = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]])
>>> validate(dimer) is dimer, composition(dimer), is_connected(dimer)
(True, 'Cd1Se1Te0', True)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms

__all__ = [
    "MAX_ATOMS",
    "MIN_DISTANCE_ANGSTROM",
    "SUPPORTED_ELEMENTS",
    "StructureError",
    "composition",
    "distances",
    "is_connected",
    "validate",
]

#: Elements of the paper's Cd_xSe_yTe_(x-y) dots (LanL2DZ with ECP for all three).
SUPPORTED_ELEMENTS: tuple[str, ...] = ("Cd", "Se", "Te")
#: Largest dot the paper's 30-slot Coulomb matrix holds.
MAX_ATOMS: int = 30
#: Closest allowed interatomic distance, Å (a Cd–Se bond is 2.6 Å).
MIN_DISTANCE_ANGSTROM: float = 1.5


class StructureError(ValueError):
    """A structure that cannot be used: bad file, element, size or geometry."""

    __module__ = "qdlib.structures"  # the name it is imported by, raised with and documented under


def distances(atoms: Atoms) -> np.ndarray:
    """All interatomic distances, Å, shape (n, n), no periodic images.

    >>> from ase import Atoms
    >>> distances(Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]])).round(2)
    array([[0. , 2.6],
           [2.6, 0. ]])
    """
    r = atoms.positions
    return np.linalg.norm(r[:, None, :] - r[None, :, :], axis=-1)


def composition(atoms: Atoms) -> str:
    """Composition label in the paper's Cd_x Se_y Te_z form, zeros kept: ``"Cd6Se6Te0"``.

    >>> from ase import Atoms
    >>> composition(Atoms("Cd5SeTe4"))
    'Cd5Se1Te4'
    """
    symbols = atoms.get_chemical_symbols()
    return "".join(f"{el}{symbols.count(el)}" for el in SUPPORTED_ELEMENTS)


def validate(
    atoms: Atoms,
    *,
    elements: Sequence[str] | None = SUPPORTED_ELEMENTS,
    max_atoms: int = MAX_ATOMS,
    min_distance_angstrom: float = MIN_DISTANCE_ANGSTROM,
    max_neighbour_distance_angstrom: float | None = None,
) -> Atoms:
    """Check that a structure is usable and return it unchanged.

    Parameters
    ----------
    atoms : ase.Atoms
    elements : sequence of str or None
        Allowed elements; ``None`` allows any element.
    max_atoms : int
        Largest allowed number of atoms.
    min_distance_angstrom : float
        Atoms closer than this are taken as overlapping, Å.
    max_neighbour_distance_angstrom : float or None
        If given, every atom needs a neighbour within this distance, Å
        (catches detached atoms).

    Raises
    ------
    StructureError
        With a message naming the problem and the offending atoms.

    Examples
    --------
    >>> from ase import Atoms
    >>> validate(Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 1.0]]))
    Traceback (most recent call last):
        ...
    qdlib.structures.StructureError: atoms 0 (Cd) and 1 (Se) overlap: 1.000 Å apart, minimum allowed 1.5 Å
    """
    if not isinstance(atoms, Atoms):
        raise StructureError(f"expected ase.Atoms, got {type(atoms).__name__}")
    n = len(atoms)
    if n == 0:
        raise StructureError("structure has no atoms")
    if n > max_atoms:
        raise StructureError(f"{atoms.get_chemical_formula()} has {n} atoms; at most {max_atoms} are supported")
    if elements is not None:
        bad = sorted(set(atoms.get_chemical_symbols()) - set(elements))
        if bad:
            raise StructureError(f"unsupported element(s) {bad}; supported: {list(elements)}")
    pos = atoms.positions
    if not np.all(np.isfinite(pos)):
        rows = np.unique(np.nonzero(~np.isfinite(pos))[0]).tolist()
        raise StructureError(f"non-finite coordinates (NaN or inf) for atom(s) {rows}")
    if n > 1:
        d = distances(atoms)
        np.fill_diagonal(d, np.inf)
        i, j = np.unravel_index(np.argmin(d), d.shape)
        if d[i, j] < min_distance_angstrom:
            sym = atoms.get_chemical_symbols()
            raise StructureError(
                f"atoms {i} ({sym[i]}) and {j} ({sym[j]}) overlap: {d[i, j]:.3f} Å apart, "
                f"minimum allowed {min_distance_angstrom} Å"
            )
        if max_neighbour_distance_angstrom is not None:
            nearest = d.min(axis=1)
            far = np.nonzero(nearest > max_neighbour_distance_angstrom)[0]
            if far.size:
                raise StructureError(
                    f"atom(s) {far.tolist()} have no neighbour within {max_neighbour_distance_angstrom} Å "
                    f"(nearest {nearest[far].min():.3g} Å): detached"
                )
    return atoms


def is_connected(atoms: Atoms, cutoff_angstrom: float = 3.4) -> bool:
    """Whether the bond graph (pairs closer than ``cutoff_angstrom``) is connected.

    >>> from ase import Atoms
    >>> is_connected(Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]]))
    True
    >>> is_connected(Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 5.0]]))
    False
    """
    from scipy.sparse.csgraph import connected_components

    adj = distances(atoms) < cutoff_angstrom
    n_comp, _ = connected_components(adj, directed=False)
    return n_comp == 1
