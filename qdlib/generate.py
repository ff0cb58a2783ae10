"""Structures for our own TD-DFT dataset (notebook 01).

:func:`design_region_set`
    The benchmark dots with 1–3 of their designed atoms displaced uniformly
    inside the paper's cuboids: the geometries a design agent visits, which
    the authors' training set (optimised structures only) does not cover.

Every geometry is reproducible on its own: geometry ``k`` of a case is drawn
from a generator seeded by ``(seed, dot, edge, n_movable, k)``, so asking for
more geometries later keeps the earlier ones (and their stored results).

>>> geoms = design_region_set(["Cd6Se6"], n_per_dot=6)   # doctest: +SKIP
>>> geoms[0].info["edge_angstrom"], geoms[0].info["movable"]  # doctest: +SKIP
(4.0, [11])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms

from .datasets import fetch_benchmark_dot
from .structures import displace_in_cuboid

__all__ = ["design_region_set", "DESIGN_DOTS", "DESIGN_EDGES_ANGSTROM"]

#: The paper's benchmark dots in the order their design-region sets are computed.
DESIGN_DOTS: tuple[str, ...] = ("Cd6Se6", "Cd4Se4", "Cd5Te5", "Cd5Se1Te4")

#: Cuboid edges of the paper's design tasks, Å.
DESIGN_EDGES_ANGSTROM: tuple[float, ...] = (4.0, 10.0)


def design_region_set(
    dots: Sequence[str] = DESIGN_DOTS,
    n_per_dot: int = 60,
    edges_angstrom: Sequence[float] = DESIGN_EDGES_ANGSTROM,
    n_movable: Sequence[int] = (1, 2, 3),
    seed: int = 0,
) -> list[Atoms]:
    """Benchmark dots with designed atoms displaced uniformly inside their cuboids.

    Parameters
    ----------
    dots : sequence of str
        Benchmark dots in the order to compute them (the paper's four; Cd6Se6 first).
    n_per_dot : int
        Geometries per dot, spread evenly over the cases ``edges × n_movable``
        (taken round-robin, so any prefix of a dot's list covers every case).
    edges_angstrom : sequence of float
        Cuboid edges, Å (the paper: 4 and 10), centred on the atoms' true positions.
    n_movable : sequence of int
        Numbers of displaced atoms (the designed atoms: the last Cd first).
    seed : int

    Returns
    -------
    list of ase.Atoms
        Dot by dot; ``info`` holds ``set`` (``"design-region"``), ``dot``,
        ``edge_angstrom``, ``n_movable``, ``movable``, ``case_index`` and
        ``displacement_angstrom`` (norm of each atom's move).
    """
    cases = [(edge, n) for edge in edges_angstrom for n in n_movable]
    out = []
    for d, name in enumerate(dots):
        bases = {n: fetch_benchmark_dot(name, n) for n in n_movable}
        for k in range(n_per_dot):
            c = k % len(cases)
            edge, n = cases[c]
            idx = k // len(cases)
            rng = np.random.default_rng([seed, d, int(edge * 1000), n, idx])
            base = bases[n]
            atoms = displace_in_cuboid(base, base.info["movable"], edge, rng)
            atoms.info = {
                "set": "design-region",
                "dot": name,
                "edge_angstrom": float(edge),
                "n_movable": int(n),
                "movable": [int(i) for i in base.info["movable"]],
                "case_index": idx,
                "displacement_angstrom": atoms.info["displacement_angstrom"],
            }
            out.append(atoms)
    return out
