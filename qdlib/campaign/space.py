"""The design space of a campaign: the paper's cuboids, restricted to physical structures.

The paper moves one to three atoms of a benchmark dot anywhere inside a 4 Å cube around
each one's true position. Almost all of that volume is unphysical: a displaced atom that
breaks or squeezes its bonds costs electronvolts (the DDPG designs sit 2–33 eV above the
dot). A campaign's designs are therefore kept to structures a real dot could take:

* no pair of atoms closer than ``min_bond_fraction`` × the reference dot's shortest bond
  (free to check; every geometry of our sensitivity sweep with a pair under 0.8 × its
  shortest bond lay more than 3.6 eV above the dot);
* a strain energy — DFT total energy above the reference dot — of at most
  ``max_strain_ev`` (0.5 eV: about the thermal energy of a 12-atom cluster's 30
  vibrational modes at 300 K). DFT decides it, from the ground state every TD-DFT call
  solves anyway; before that, a GFN2-xTB single point (tblite, ~50 ms on one core)
  discards candidates whose xTB strain exceeds ``xtb_max_strain_ev``. xTB ranks the
  displaced Cd6Se6 geometries of the sensitivity sweep as DFT does (Spearman 0.99) but
  gives about half DFT's strain, so the xTB bound (0.3 eV) lets through every geometry
  below 0.5 eV by DFT there — and many above it: over the campaigns' designs, about one
  Cd4Se4 design in six and half the Cd6Se6 designs admitted by xTB lie above 0.5 eV by DFT
  (notebook 07 counts them), each a TD-DFT call the strain test then rejects.

Designs are points of the unit cube ``u ∈ [0, 1]^(3·n_movable)``; ``u = 0.5`` is the true
position (the campaigns never start there, nor are told it: they sample the cube).

>>> import numpy as np
>>> from ase import Atoms
>>> dimer = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.6]])
>>> space = DesignSpace(dimer, movable=[1])
>>> space.dim, round(space.min_distance_angstrom, 2)
(3, 2.08)
>>> space.positions(np.array([[0.5, 0.5, 0.5], [0.5, 0.5, 1.0]]))[:, 0]  # Å
array([[0. , 0. , 2.6],
       [0. , 0. , 4.6]])
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms
from numpy.typing import ArrayLike, NDArray

log = logging.getLogger(__name__)

__all__ = ["PhysicalBounds", "DesignSpace", "XTBStrain"]


@dataclass(frozen=True)
class PhysicalBounds:
    """What counts as a physical design."""

    min_bond_fraction: float = 0.8
    """No pair of atoms closer than this fraction of the reference dot's shortest interatomic distance."""
    max_strain_ev: float = 0.5
    """Largest DFT total energy above the reference dot, eV (decided by the TD-DFT call's ground state)."""
    xtb_max_strain_ev: float = 0.3
    """Candidates whose GFN2-xTB energy above the reference dot exceeds this (eV) are not computed."""


class XTBStrain:
    """GFN2-xTB energies of a dot with some atoms moved, above the reference geometry's, eV.

    One tblite calculator is kept and moved from geometry to geometry, on one OpenMP thread
    (tblite takes every core otherwise, and is 50× slower on a loaded machine).

    Parameters
    ----------
    atoms : ase.Atoms
        The reference dot.

    Examples
    --------
    >>> from ase import Atoms
    >>> strain = XTBStrain(Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.3]]))
    >>> d = np.array([[[0, 0, 0], [0, 0, 2.3]], [[0, 0, 0], [0, 0, 2.8]]])
    >>> strain(d).round(2)  # eV
    array([0.  , 0.75])
    """

    def __init__(self, atoms: Atoms):
        from ase.units import Bohr
        from tblite.interface import Calculator

        self._bohr = Bohr
        with _one_thread():
            self._calc = Calculator("GFN2-xTB", atoms.numbers, atoms.positions / Bohr)
            self._calc.set("verbosity", 0)
            self._reference = self._calc.singlepoint()
        self.e_reference_hartree = float(self._reference.get("energy"))

    def __call__(self, geometries: ArrayLike) -> NDArray[np.float64]:
        """Strain of each geometry ``(N, n_atoms, 3)`` (Å), eV; ``inf`` where xTB's SCF fails."""
        from ase.units import Hartree

        out = np.full(len(geometries), np.inf)
        with _one_thread():
            for i, r in enumerate(np.asarray(geometries, dtype=float)):
                self._calc.update(positions=r / self._bohr)
                try:
                    res = self._calc.singlepoint(self._reference, copy=True)
                except RuntimeError as exc:  # tblite's SCF did not converge
                    log.debug("GFN2-xTB failed: %s", exc)
                    continue
                out[i] = (float(res.get("energy")) - self.e_reference_hartree) * Hartree
        return out


def _one_thread():
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


class DesignSpace:
    """The movable atoms' cuboids around their true positions, and the physical filter.

    Parameters
    ----------
    atoms : ase.Atoms
        The reference dot, Å (its movable atoms at their true positions: the cuboids' centres).
    movable : sequence of int
        Indices of the moved atoms.
    edge_angstrom : float
        Edge of each cube, Å (the paper: 4).
    bounds : PhysicalBounds

    Attributes
    ----------
    dim : int
        ``3 · n_movable``: the length of a design's unit coordinates.
    min_distance_angstrom : float
        The shortest pair distance a physical design may have, Å.
    """

    def __init__(self, atoms: Atoms, movable, edge_angstrom: float = 4.0, bounds: PhysicalBounds = PhysicalBounds()):
        self.atoms = atoms.copy()
        self.movable = [int(i) for i in movable]
        if not self.movable or len(set(self.movable)) != len(self.movable) or not all(0 <= i < len(atoms) for i in self.movable):
            raise ValueError(f"movable must be distinct atom indices of the {len(atoms)}-atom dot, got {movable}")
        if edge_angstrom <= 0:
            raise ValueError(f"edge_angstrom must be positive, got {edge_angstrom}")
        self.edge_angstrom = float(edge_angstrom)
        self.bounds = bounds
        self.centre = self.atoms.positions[self.movable].copy()
        self.dim = 3 * len(self.movable)
        d = self.atoms.get_all_distances()
        self.min_distance_angstrom = float(bounds.min_bond_fraction * d[np.triu_indices(len(atoms), 1)].min())
        self._xtb: XTBStrain | None = None

    @classmethod
    def benchmark(cls, dot: str, n_movable: int = 1, edge_angstrom: float = 4.0, kind: str = "absorption",
                  bounds: PhysicalBounds = PhysicalBounds()) -> DesignSpace:  # fmt: skip
        """The space of a paper case: benchmark ``dot`` at the authors' geometry, its designed atoms."""
        from ..datasets import benchmark_target

        atoms, _ = benchmark_target(dot, kind, n_movable)
        space = cls(atoms, atoms.info["movable"], edge_angstrom, bounds)
        space.name = f"{dot}_{edge_angstrom:g}A_{n_movable}"
        return space

    name = "design space"

    # ------------------------------------------------------------------ coordinates

    def positions(self, u: ArrayLike) -> NDArray[np.float64]:
        """Movable atoms' positions ``(N, n_movable, 3)``, Å, of unit coordinates ``u`` ``(N, dim)``."""
        u = np.atleast_2d(np.asarray(u, dtype=float))
        return self.centre + (u.reshape(len(u), -1, 3) - 0.5) * self.edge_angstrom

    def unit(self, positions: ArrayLike) -> NDArray[np.float64]:
        """Unit coordinates ``(N, dim)`` of movable-atom positions ``(N, n_movable, 3)``, Å."""
        p = np.asarray(positions, dtype=float).reshape(-1, len(self.movable), 3)
        return ((p - self.centre) / self.edge_angstrom + 0.5).reshape(len(p), -1)

    def geometries(self, u: ArrayLike) -> NDArray[np.float64]:
        """Whole-dot geometries ``(N, n_atoms, 3)``, Å."""
        p = self.positions(u)
        out = np.repeat(self.atoms.positions[None], len(p), axis=0)
        out[:, self.movable] = p
        return out

    def atoms_at(self, u: ArrayLike, **info) -> Atoms:
        """One design as :class:`ase.Atoms` (``info``: the labels to store it under)."""
        out = self.atoms.copy()
        out.positions = self.geometries(np.asarray(u, dtype=float)[None])[0]
        out.info = dict(info)
        return out

    def displacement_angstrom(self, u: ArrayLike) -> NDArray[np.float64]:
        """Largest distance of a moved atom from its true position, Å, per design."""
        return np.linalg.norm(self.positions(u) - self.centre, axis=-1).max(axis=-1)

    # ------------------------------------------------------------------ the physical filter

    def shortest_distance(self, u: ArrayLike) -> NDArray[np.float64]:
        """Shortest interatomic distance of each design, Å (pairs with a moved atom; the rest are the dot's)."""
        g = self.geometries(u)
        d = np.linalg.norm(g[:, self.movable, None, :] - g[:, None, :, :], axis=-1)
        for k, i in enumerate(self.movable):
            d[:, k, i] = np.inf
        fixed = self.atoms.get_all_distances()
        fixed[np.diag_indices(len(self.atoms))] = np.inf
        rest = np.delete(np.delete(fixed, self.movable, 0), self.movable, 1)
        return np.minimum(d.min(axis=(1, 2)), rest.min() if rest.size else np.inf)

    def xtb_strain_ev(self, u: ArrayLike) -> NDArray[np.float64]:
        """GFN2-xTB energy above the reference dot, eV, per design (:class:`XTBStrain`)."""
        if self._xtb is None:
            self._xtb = XTBStrain(self.atoms)
        return self._xtb(self.geometries(u))

    def sample(self, n: int, rng: np.random.Generator, max_draws: int = 1_000_000) -> tuple[NDArray, NDArray]:
        """``n`` random physical designs: uniform in the cuboids, kept by distance, then by xTB strain.

        Each moved atom is drawn alone first (the others at their true places) until it passes
        both filters; the designs of several atoms are then kept when the whole passes. Draws are
        in blocks, so the result depends on ``rng`` only.

        Parameters
        ----------
        n : int
        rng : numpy.random.Generator
        max_draws : int
            Raise after this many uniform draws (a space with almost no physical volume).

        Returns
        -------
        u : ndarray, shape (n, dim)
            Unit coordinates.
        xtb_strain_ev : ndarray, shape (n,)

        Examples
        --------
        >>> from ase import Atoms
        >>> dimer = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.3]])
        >>> u, strain = DesignSpace(dimer, [1], edge_angstrom=1.0).sample(3, np.random.default_rng(0))
        >>> u.shape, bool((strain <= 0.3).all())
        ((3, 3), True)
        """
        b = self.bounds
        draws = 0
        out_u, out_e = [], []
        while len(out_u) < n:
            per_atom, strain = [], np.inf
            for k in range(len(self.movable)):
                while True:
                    if draws >= max_draws:
                        raise RuntimeError(f"{self.name}: {len(out_u)} physical designs in {draws} draws; "
                                           f"the bounds leave (almost) no volume: {b}")  # fmt: skip
                    block = np.full((64, self.dim), 0.5)
                    block[:, 3 * k:3 * k + 3] = rng.random((64, 3))
                    draws += 64
                    block = block[self.shortest_distance(block) >= self.min_distance_angstrom]
                    hit = next(((x, e) for x in block if (e := self.xtb_strain_ev(x[None])[0]) <= b.xtb_max_strain_ev), None)
                    if hit is not None:
                        per_atom.append(hit[0][3 * k:3 * k + 3])
                        strain = hit[1]
                        break
            u = np.concatenate(per_atom)[None]
            if len(self.movable) > 1:
                ok = self.shortest_distance(u)[0] >= self.min_distance_angstrom
                strain = self.xtb_strain_ev(u)[0] if ok else np.inf
            if strain <= b.xtb_max_strain_ev:
                out_u.append(u[0])
                out_e.append(strain)
        log.info("%s: %d physical designs from %d uniform draws", self.name, n, draws)
        return np.array(out_u), np.array(out_e)

    def pool(self, n: int, seed: int, cache_dir: str | os.PathLike | None = None) -> tuple[NDArray, NDArray]:
        """``n`` random physical designs drawn with ``seed`` (:meth:`sample`), kept in ``cache_dir`` as JSON.

        The candidate set of model-based methods: drawing it costs thousands of xTB single points
        (minutes), so every campaign of the same space and seed reads it back instead.
        """
        path = Path(cache_dir) / f"{self.name}_pool_s{seed}_n{n}.json" if cache_dir is not None else None
        if path is not None and path.is_file():
            d = json.loads(path.read_text())
            return np.array(d["u"]), np.array(d["xtb_strain_ev"])
        u, strain = self.sample(n, np.random.default_rng([seed, 7919]))
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"space": repr(self), "seed": seed, "u": u.round(6).tolist(),
                                       "xtb_strain_ev": strain.round(6).tolist()}))  # fmt: skip
            tmp.replace(path)
            u, strain = u.round(6), strain.round(6)  # what a reader of the file gets
        return u, strain

    def __repr__(self) -> str:
        return (f"DesignSpace({self.name}: {len(self.movable)} of {len(self.atoms)} atoms, {self.edge_angstrom:g} Å cubes, "
                f"pairs ≥ {self.min_distance_angstrom:.2f} Å, xTB strain ≤ {self.bounds.xtb_max_strain_ev} eV)")  # fmt: skip
