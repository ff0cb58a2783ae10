"""Would a design stay where it was put? DFT forces on designed structures.

A displacement design is one atom of a relaxed dot moved by a few tenths of an ångström.
TD-DFT may confirm its spectrum, but a real cluster sits at a minimum of its energy: the
forces on the atoms of a design say whether it would stay. For each design, one DFT
ground-state gradient at the paper's settings (:func:`qdlib.qchem.geomopt.state_gradient`)
gives the largest force on any atom, the force on each moved atom, and whether that force
points back toward the atom's true position (the cosine between the force and the vector
from the atom to its site; 1: straight back). The reference dot, a DFT minimum, sets the
scale of "no force".

Designs of one dot differ by a few tenths of an ångström, so each SCF starts from the density
of the previous structure with the same formula. Results are written one JSON line per design as they finish (``<path>``), so a killed run
resumes where it stopped, and several processes (``shard``) can share one file: each takes every
n-th design and skips a design another process has already written.

>>> site = np.array([[0.0, 0.0, 0.0]])
>>> returning_cosine(np.array([[0.0, 0.0, 1.0]]), np.array([[0.0, 0.0, -0.3]]), site).round(3)
array([1.])
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.units import Bohr, Hartree
from numpy.typing import NDArray

log = logging.getLogger(__name__)

__all__ = ["design_forces", "force_jobs", "ground_state_forces", "read_forces", "returning_cosine"]


def returning_cosine(positions: NDArray, forces: NDArray, sites: NDArray) -> NDArray[np.float64]:
    """Cosine between the force on each moved atom and the vector from it to its site.

    Parameters
    ----------
    positions, sites : ndarray, shape (n, 3)
        The moved atoms' positions and their true positions, Å.
    forces : ndarray, shape (n, 3)
        Forces on the moved atoms (any unit).

    Returns
    -------
    ndarray, shape (n,)
        1: the force pulls the atom straight back to its site; −1: straight away; NaN at the site.
    """
    back = np.asarray(sites, float) - np.asarray(positions, float)
    f = np.asarray(forces, float)
    norm = np.linalg.norm(back, axis=-1) * np.linalg.norm(f, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, np.sum(back * f, axis=-1) / norm, np.nan)


def ground_state_forces(atoms: Atoms, settings=None, options=None, dm0=None) -> tuple[float, NDArray[np.float64], NDArray]:
    """DFT ground state of ``atoms`` at ``settings``: energy (eV), forces (eV/Å, ``(n_atoms, 3)``) and density matrix.

    ``dm0``: the SCF's initial density (e.g. a nearby geometry's, the third value returned); the
    converged state, and so the forces, do not depend on it beyond the SCF's threshold.
    """
    from ..qchem import EngineOptions, TDDFTSettings, build_mol
    from ..qchem.geomopt import state_gradient

    settings, options = settings or TDDFTSettings(), options or EngineOptions()
    energy, gradient, mf = state_gradient(build_mol(atoms, settings), 0, settings, options, dm0=dm0)
    return energy * Hartree, -np.asarray(gradient) * Hartree / Bohr, mf.make_rdm1()


def read_forces(path: str | os.PathLike) -> list[dict]:
    """The rows written by :func:`design_forces`, one per structure (the first, if two processes wrote one; a
    torn last line is dropped)."""
    from .loop import read_json_lines

    rows: dict[str, dict] = {}
    for row in read_json_lines(path):
        rows.setdefault(row["key"], row)
    return list(rows.values())


def design_forces(designs: Sequence[tuple[str, Atoms, Sequence[int], NDArray]], path: str | os.PathLike, settings=None,
                  options=None, shard: tuple[int, int] = (0, 1), reverse: bool = False) -> list[dict]:  # fmt: skip
    """Forces on each design, one JSON line per design appended to ``path``; designs already there are skipped.

    Parameters
    ----------
    designs : sequence of (key, atoms, movable, sites)
        A name for the design (e.g. its results-store key), its structure (Å), the indices of
        its moved atoms and their true positions ``(n_movable, 3)``, Å. ``movable`` empty: a
        reference structure.
    path : path
        The JSON-lines file of results.
    settings, options
        As for :func:`qdlib.qchem.excitations` (default: the paper's settings).
    shard : (k, n)
        Compute designs ``k, k + n, k + 2n, …`` only (0 ≤ k < n): n processes with k = 0 … n − 1
        share the work and the file.
    reverse : bool
        Take the designs from the last: a second process started beside one going forward meets
        it in the middle.

    Returns
    -------
    list of dict
        Every row of ``path``: ``key``, ``formula``, ``max_force_ev_per_angstrom`` (largest force on
        any atom), ``moved_force_ev_per_angstrom`` and ``returning_cosine`` (per moved atom),
        ``displacement_angstrom`` (per moved atom), ``energy_ev``, ``wall_time_s``.
    """
    k, n = shard
    if not 0 <= k < n:
        raise ValueError(f"shard {k} of {n}: need 0 <= k < n")
    path = Path(path)
    done = {r["key"] for r in read_forces(path)}
    todo = [d for d in designs[k::n] if d[0] not in done][:: -1 if reverse else 1]
    densities = {}  # per formula, the last converged density: the next design's SCF starts from it
    for i, (key, atoms, movable, sites) in enumerate(todo):
        if key in {r["key"] for r in read_forces(path)}:  # written meanwhile by another process
            continue
        start = time.perf_counter()
        formula = atoms.get_chemical_formula()
        energy, forces, densities[formula] = ground_state_forces(atoms, settings, options, densities.get(formula))
        movable = list(movable)
        pos = atoms.positions[movable]
        row = {"key": key, "formula": formula, "energy_ev": energy,
               "max_force_ev_per_angstrom": float(np.linalg.norm(forces, axis=1).max()),
               "moved_force_ev_per_angstrom": np.linalg.norm(forces[movable], axis=1).tolist(),
               "returning_cosine": returning_cosine(pos, forces[movable], np.asarray(sites)).tolist(),
               "displacement_angstrom": np.linalg.norm(pos - np.asarray(sites).reshape(-1, 3), axis=1).tolist(),
               "wall_time_s": time.perf_counter() - start}  # fmt: skip
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as fh:
            fh.write(json.dumps(row) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        log.info("forces %d/%d: %s, largest %.3f eV/Å, moved atom %s eV/Å (cosine back to its site %s), %.0f s", i + 1,
                 len(todo), row["formula"], row["max_force_ev_per_angstrom"],
                 [round(f, 3) for f in row["moved_force_ev_per_angstrom"]], [round(c, 2) for c in row["returning_cosine"]],
                 row["wall_time_s"])  # fmt: skip
    return read_forces(path)


def force_jobs(logs) -> tuple[list[tuple], list[tuple]]:
    """What :func:`design_forces` computes for campaign ``logs``: the reference dots and the distinct confirmed designs.

    Parameters
    ----------
    logs : sequence of qdlib.campaign.results.CampaignLog

    Returns
    -------
    references, designs : list of (name, atoms, movable, sites)
        ``references``: the undisplaced dot of every case, one per dot (``"reference <dot>"``, no
        moved atom); ``designs``: every distinct confirmed design
        (:func:`~qdlib.campaign.results.confirmed_designs`), named by its results-store key, its moved
        atoms' sites the centres of their cuboids.
    """
    from .results import confirmed_designs
    from .space import DesignSpace

    spaces, designs = {}, []
    for config, r in confirmed_designs(logs):
        case = (config.dot, config.n_movable, config.edge_angstrom, config.kind)
        if case not in spaces:
            spaces[case] = DesignSpace.benchmark(*case)
        space = spaces[case]
        designs.append((r.key, space.atoms_at(np.asarray(r.u)), space.movable, space.centre))
    references = {f"reference {case[0]}": s.atoms for case, s in spaces.items()}
    return [(name, atoms, [], np.empty((0, 3))) for name, atoms in references.items()], designs
