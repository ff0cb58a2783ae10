"""Quantum-dot structures: validation, xyz I/O, random clusters, displacements.

Structures are :class:`ase.Atoms` with metadata in ``atoms.info``; files are
read and written through :mod:`ase.io` (xyz / extxyz).

One idea per module; every public name is importable from here:

:mod:`~qdlib.structures.checks`
    What a usable structure is: :func:`validate` (elements, size, no overlapping or detached
    atoms, else :class:`StructureError`), its :func:`composition`, :func:`distances` and
    whether it :func:`is_connected`.
:mod:`~qdlib.structures.compare`
    Whether two clusters are one structure: :func:`same_structure`, :func:`distinct_structures`.
:mod:`~qdlib.structures.xyz`
    Files: :func:`read` (validated) and :func:`write` (extended xyz).
:mod:`~qdlib.structures.sampling`
    Random geometries: new clusters (:func:`random_cluster`) and chosen atoms moved
    (:func:`displace_in_cuboid`, :func:`displace_by`).

>>> import numpy as np
>>> atoms = random_cluster(8, rng=np.random.default_rng(0))
>>> composition(atoms), len(atoms)
('Cd4Se4Te0', 8)
>>> validate(atoms) is atoms, is_connected(atoms)
(True, True)
"""

from .checks import (
    MAX_ATOMS,
    MIN_DISTANCE_ANGSTROM,
    SUPPORTED_ELEMENTS,
    StructureError,
    composition,
    distances,
    is_connected,
    validate,
)
from .compare import distinct_structures, same_structure
from .sampling import BOND_LENGTH_ANGSTROM, displace_by, displace_in_cuboid, random_cluster
from .xyz import read, write

__all__ = [
    "BOND_LENGTH_ANGSTROM",
    "MAX_ATOMS",
    "MIN_DISTANCE_ANGSTROM",
    "SUPPORTED_ELEMENTS",
    "StructureError",
    "composition",
    "displace_by",
    "displace_in_cuboid",
    "distances",
    "distinct_structures",
    "is_connected",
    "random_cluster",
    "read",
    "same_structure",
    "validate",
    "write",
]
