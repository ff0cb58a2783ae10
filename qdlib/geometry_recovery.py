"""Geometries back from the authors' Coulomb matrices.

The authors' Coulomb matrices are unsorted (atoms ordered Se, Cd, Te and centred in 30 slots), so
the structure each row was built from can be rebuilt exactly: the atomic numbers from the
diagonal, the distances from ``r_ij = Z_i Z_j / C_ij`` and the coordinates by classical
multidimensional scaling (:func:`recover_geometry`). A row whose distances are not a physical
structure (:data:`NEIGHBOUR_BOUNDS_ANGSTROM`) is found before it is used.

>>> from ase import Atoms
>>> from qdlib.features import CoulombMatrix
>>> ring = Atoms("CdSeCdSe", positions=[[0, 0, 0], [2.6, 0, 0], [2.6, 2.6, 0], [0, 2.6, 0]])
>>> atoms, err = recover_geometry(CoulombMatrix(n_max=30).create(ring))
>>> atoms.get_chemical_symbols(), round(err, 6)
(['Se', 'Se', 'Cd', 'Cd'], 0.0)
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from numpy.typing import NDArray

from .authors_files import DataFileError
from .features import CM_A, CM_B, N_SLOTS

__all__ = ["NEIGHBOUR_BOUNDS_ANGSTROM", "recover_geometry"]

#: Bounds of the physical check on recovered structures, Å: no pair closer
#: than the first, every atom with a neighbour within the second.
NEIGHBOUR_BOUNDS_ANGSTROM = (1.5, 4.0)


def _unpad(flat: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """The occupied block of a padded Coulomb matrix and its atomic numbers."""
    cm = np.asarray(flat, dtype=float).reshape(N_SLOTS, N_SLOTS)
    occupied = np.nonzero(np.diag(cm))[0]
    if occupied.size == 0:
        raise DataFileError("empty Coulomb matrix row")
    if np.any(np.diff(occupied) != 1):
        raise DataFileError("Coulomb matrix row has gaps between occupied slots")
    block = cm[np.ix_(occupied, occupied)]
    z_real = (np.diag(block) / CM_A) ** (1.0 / CM_B)
    z = np.rint(z_real).astype(np.int64)
    if np.max(np.abs(z_real - z)) > 1e-3:
        raise DataFileError(f"diagonal does not encode integer atomic numbers: {z_real.round(4).tolist()}")
    return block, z


def recover_geometry(flat_cm: NDArray[np.float64]) -> tuple[Atoms, float]:
    """Rebuild a structure from one of the authors' Coulomb-matrix rows.

    Distances follow from ``r_ij = Z_i Z_j / C_ij``; coordinates from
    classical multidimensional scaling (the top three eigenvectors of the
    double-centred squared-distance matrix). The result is centred at the
    origin and fixed only up to rotation and reflection.

    Parameters
    ----------
    flat_cm : ndarray, shape (900,)
        One row of the authors' input CSV.

    Returns
    -------
    atoms : ase.Atoms
        Atoms in the file's order (Se, Cd, Te).
    embedding_error_angstrom : float
        Largest difference between the recovered and the encoded distances, Å.

    Examples
    --------
    A CdSe₂ fragment encoded in the authors' 30-slot layout, then rebuilt:

    >>> from ase import Atoms
    >>> from qdlib.features import CoulombMatrix
    >>> row = CoulombMatrix(n_max=30).create(Atoms("CdSe2", positions=[[0, 0, 0], [0, 0, 2.6], [0, 2.6, 0]]))
    >>> atoms, err = recover_geometry(row)
    >>> atoms.get_chemical_symbols(), round(err, 6)
    (['Se', 'Se', 'Cd'], 0.0)
    >>> atoms.get_all_distances().round(3)
    array([[0.   , 3.677, 2.6  ],
           [3.677, 0.   , 2.6  ],
           [2.6  , 2.6  , 0.   ]])
    """
    block, z = _unpad(flat_cm)
    n = z.size
    with np.errstate(divide="ignore"):
        d = np.outer(z, z) / block
    np.fill_diagonal(d, 0.0)
    d2 = np.square(d)
    j = np.eye(n) - 1.0 / n
    b = -0.5 * j @ d2 @ j
    w, v = np.linalg.eigh(b)
    top = np.argsort(w)[::-1][:3]
    coords = v[:, top] * np.sqrt(np.clip(w[top], 0.0, None))
    atoms = Atoms(numbers=z, positions=coords)
    back = np.linalg.norm(coords[:, None] - coords[None], axis=-1)
    with np.errstate(invalid="ignore"):
        err = float(np.nanmax(np.abs(back - d))) if np.all(np.isfinite(d)) else np.inf
    return atoms, err


def _physical_problem(flat_cm: NDArray[np.float64]) -> str | None:
    """Why a row is not a physical structure, or ``None``."""
    block, z = _unpad(flat_cm)
    with np.errstate(divide="ignore"):
        d = np.outer(z, z) / block
    np.fill_diagonal(d, np.inf)
    nearest = d.min(axis=1)
    lo, hi = NEIGHBOUR_BOUNDS_ANGSTROM
    if nearest.min() < lo:
        return f"atoms closer than {lo} Å ({nearest.min():.3g} Å)"
    far = np.nonzero(nearest > hi)[0]
    if far.size:
        return f"atom(s) {far.tolist()} have no neighbour within {hi} Å (nearest {nearest[far].min():.3g} Å)"
    return None
