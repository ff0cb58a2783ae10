"""GFN2-xTB relaxation of a cluster, and the check that the result is a minimum.

A library member is a local minimum of the GFN2-xTB energy (tblite's ASE calculator, on
one OpenMP thread): relaxed until no atom feels more than ``fmax`` (0.02 eV/Å), and with
no imaginary vibrational mode once translations and rotations are projected out. The
Hessian is a central finite difference of the forces (:class:`ase.vibrations.Vibrations`,
6N single points: ~0.1 s per point at 8–14 atoms); the projection and the frequencies are
PySCF's :func:`pyscf.hessian.thermo.harmonic_analysis`. A relaxation that ends on a
saddle is pushed along its imaginary mode and relaxed again (:func:`relax_to_minimum`).

>>> from ase import Atoms
>>> dimer = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.9]])
>>> relaxed, steps = relax(dimer)
>>> float(round(relaxed.get_distance(0, 1), 2)), steps > 0  # Å
(2.31, True)
>>> lowest_frequency(relaxed) > 0  # cm⁻¹: the stretch
True
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass

import numpy as np
from ase import Atoms

log = logging.getLogger(__name__)

__all__ = ["RelaxSettings", "xtb_calculator", "relax", "like_pair_distances", "frequencies", "lowest_frequency", "relax_to_minimum"]


@dataclass(frozen=True)
class RelaxSettings:
    """How a library member is relaxed and checked."""

    fmax: float = 0.02
    """Largest force on an atom at convergence, eV/Å."""
    max_steps: int = 1000
    """Optimiser steps before a relaxation is given up."""
    imaginary_tol_cm1: float = 20.0
    """A mode below ``-imaginary_tol_cm1`` (cm⁻¹, imaginary written negative) makes a saddle; a softer
    one is taken as a flat direction (a planar Cd4Se4 ring, a true saddle, has −28 cm⁻¹)."""
    fd_step_angstrom: float = 0.005
    """Finite-difference displacement of the Hessian, Å."""
    max_pushes: int = 3
    """Pushes along an imaginary mode (and relaxations) before a structure is rejected."""
    push_angstrom: float = 0.15
    """Largest atomic displacement of a push along an imaginary mode, Å."""
    min_cd_cd_angstrom: float = 2.9
    """A minimum with two Cd atoms closer than this (Å) is rejected: see ``min_anion_anion_angstrom``."""
    min_anion_anion_angstrom: float = 3.5
    """A minimum with two chalcogens closer than this (Å) is rejected. Every one of the authors' 42 DFT
    structures alternates Cd and chalcogen (Se/Te–Se/Te ≥ 3.95 Å, Cd–Cd ≥ 3.11 Å), while GFN2-xTB puts
    chalcogen-bonded structures (Se/Te–Se/Te 1.9–2.3 Å) of Te-containing compositions 4–20 eV below the
    alternating ones — far beyond the ~2.5 eV that each Se→Te substitution costs — an artefact a search
    would take for the lowest minima."""
    scf_agreement_ev: float = 0.01
    """A relaxation's final energy must be met within this (eV) by an SCF from the default guess at
    the same geometry: on Te-rich clusters the SCF, carried from step to step, can drift into a
    solution eV below the one a fresh start finds (a Cd4Se2Te2 candidate: −414.99 eV carried,
    no fresh convergence at 300 K, −405.34 eV at 5000 K), which a search would take for the lowest minimum."""


def xtb_calculator():
    """GFN2-xTB (tblite's ASE calculator), quiet.

    Run it under :func:`qdlib.campaign.space._one_thread` or ``OMP_NUM_THREADS=1``: tblite takes
    every core otherwise.
    """
    from tblite.ase import TBLite

    return TBLite(method="GFN2-xTB", verbosity=0)


def _one_thread():
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def relax(atoms: Atoms, settings: RelaxSettings = RelaxSettings()) -> tuple[Atoms, int]:
    """Relax ``atoms`` with GFN2-xTB (ASE's BFGS) to ``settings.fmax``.

    Returns
    -------
    relaxed : ase.Atoms
        A copy at the minimum, its GFN2-xTB energy (eV) in ``info["e_xtb_ev"]`` and the
        largest remaining force (eV/Å) in ``info["fmax"]``.
    steps : int
        Optimiser steps taken.

    Raises
    ------
    RuntimeError
        If xTB's SCF fails, the optimiser does not converge within ``settings.max_steps``, or an SCF
        from the default guess at the minimum does not reproduce its energy (``settings.scf_agreement_ev``).
    """
    from ase.optimize import BFGS

    a = atoms.copy()
    a.calc = xtb_calculator()
    with _one_thread():
        opt = BFGS(a, logfile=None)
        converged = opt.run(fmax=settings.fmax, steps=settings.max_steps)
        forces = a.get_forces()
        energy = a.get_potential_energy()
    if not converged:
        raise RuntimeError(f"relaxation did not reach fmax {settings.fmax} eV/Å in {settings.max_steps} steps")
    like = like_pair_distances(a)
    if like["Cd"] < settings.min_cd_cd_angstrom or like["anion"] < settings.min_anion_anion_angstrom:
        raise RuntimeError(f"not an alternating Cd-chalcogen minimum (Cd-Cd {like['Cd']:.2f} Å, "
                           f"chalcogen-chalcogen {like['anion']:.2f} Å)")  # fmt: skip
    fresh = _fresh_energy(a)
    if abs(fresh - energy) > settings.scf_agreement_ev:
        raise RuntimeError(f"the SCF at the minimum gives {fresh - energy:+.3f} eV from a fresh start: the relaxation "
                           "followed another SCF solution")  # fmt: skip
    out = Atoms(a.numbers, a.positions)
    out.info.update(atoms.info)
    out.info["e_xtb_ev"] = float(energy)
    out.info["fmax"] = float(np.linalg.norm(forces, axis=1).max())
    return out, int(opt.get_number_of_steps())


def like_pair_distances(atoms: Atoms) -> dict[str, float]:
    """Shortest Cd–Cd and chalcogen–chalcogen distances of a cluster, Å (``inf`` with fewer than two).

    >>> like_pair_distances(Atoms("CdSeCdSe", positions=[[0, 0, 0], [2.6, 0, 0], [2.6, 2.6, 0], [0, 2.6, 0]]))
    {'Cd': 3.677, 'anion': 3.677}
    """
    d = atoms.get_all_distances()
    np.fill_diagonal(d, np.inf)
    cd = atoms.numbers == 48
    out = {}
    for name, mask in (("Cd", cd), ("anion", ~cd)):
        out[name] = round(float(d[np.ix_(mask, mask)].min()), 3) if mask.sum() > 1 else np.inf
    return out


def _fresh_energy(atoms: Atoms) -> float:
    """GFN2-xTB energy of ``atoms`` from the default guess (a new calculator), eV; RuntimeError if it fails."""
    a = Atoms(atoms.numbers, atoms.positions)
    a.calc = xtb_calculator()
    with _one_thread():
        return float(a.get_potential_energy())


def frequencies(atoms: Atoms, settings: RelaxSettings = RelaxSettings()) -> tuple[np.ndarray, np.ndarray]:
    """Harmonic frequencies (cm⁻¹, imaginary ones negative) and normal modes (Å, mass-weighted back) of ``atoms``.

    Translations and rotations are projected out (3N − 6 modes; 3N − 5 for a linear cluster).

    Returns
    -------
    freq_cm1 : ndarray, shape (m,)
        Ascending.
    modes : ndarray, shape (m, N, 3)
        Cartesian displacement of each mode.
    """
    from ase.units import Bohr, Hartree
    from ase.vibrations import Vibrations
    from pyscf import gto
    from pyscf.hessian import thermo

    a = atoms.copy()
    a.calc = xtb_calculator()
    with tempfile.TemporaryDirectory() as tmp, _one_thread():
        vib = Vibrations(a, name=f"{tmp}/vib", delta=settings.fd_step_angstrom, nfree=2)
        vib.run()
        h = vib.get_vibrations().get_hessian()  # (N, 3, N, 3), eV/Å²
    n = len(a)
    h = 0.5 * (h + h.transpose(2, 3, 0, 1)) * (Bohr**2 / Hartree)
    mol = gto.M(atom=[(s, p) for s, p in zip(a.get_chemical_symbols(), a.positions)], basis="sto-3g", unit="Angstrom",
                spin=None, verbose=0)  # fmt: skip
    res = thermo.harmonic_analysis(mol, h.transpose(0, 2, 1, 3), imaginary_freq=False,
                                   mass=a.get_masses())  # fmt: skip
    order = np.argsort(res["freq_wavenumber"])
    return res["freq_wavenumber"][order], res["norm_mode"][order].reshape(-1, n, 3)


def lowest_frequency(atoms: Atoms, settings: RelaxSettings = RelaxSettings()) -> float:
    """The lowest harmonic frequency of ``atoms`` (cm⁻¹; negative if imaginary)."""
    return float(frequencies(atoms, settings)[0][0])


def relax_to_minimum(atoms: Atoms, settings: RelaxSettings = RelaxSettings()) -> tuple[Atoms, int]:
    """Relax, check the Hessian, and push along an imaginary mode until a minimum is reached.

    Returns the minimum (``info``: ``e_xtb_ev``, ``fmax``, ``lowest_freq_cm1``, ``pushes``) and
    the optimiser steps spent in all.

    Raises
    ------
    RuntimeError
        If a relaxation fails, or a saddle remains after ``settings.max_pushes`` pushes.

    Examples
    --------
    A planar Cd4Se4 ring keeps its plane under relaxation (the forces keep its symmetry), a
    saddle of xTB; pushes along the imaginary mode reach a buckled minimum:

    >>> import numpy as np
    >>> angle = np.arange(8) * np.pi / 4
    >>> ring = Atoms("CdSe" * 4, positions=3.53 * np.c_[np.cos(angle), np.sin(angle), np.zeros(8)])
    >>> lowest_frequency(relax(ring)[0]) < -RelaxSettings().imaginary_tol_cm1  # cm⁻¹
    True
    >>> m, _ = relax_to_minimum(ring)
    >>> m.info["pushes"] > 0, m.info["lowest_freq_cm1"] >= -RelaxSettings().imaginary_tol_cm1, bool(np.ptp(m.positions[:, 2]) > 0.5)
    (True, True, True)
    """
    current, steps = relax(atoms, settings)
    for push in range(settings.max_pushes + 1):
        freq, modes = frequencies(current, settings)
        if freq[0] >= -settings.imaginary_tol_cm1:
            current.info["lowest_freq_cm1"] = float(freq[0])
            current.info["pushes"] = push
            return current, steps
        if push == settings.max_pushes:
            break
        log.debug("saddle (%.0f cm⁻¹): pushed along its mode", freq[0])
        mode = modes[0] / np.linalg.norm(modes[0], axis=1).max()
        pushed = current.copy()
        pushed.positions += settings.push_angstrom * mode
        current, more = relax(pushed, settings)
        steps += more
    raise RuntimeError(
        f"still a saddle ({freq[0]:.0f} cm⁻¹) after {settings.max_pushes} pushes along its imaginary mode"
    )
