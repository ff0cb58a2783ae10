"""The ground state: a validated molecule and its restricted Kohn–Sham solution.

:func:`build_mol` turns a checked structure into a PySCF ``Mole`` (basis and ECP from the
settings); :func:`run_scf` converges the Kohn–Sham equations, trying DIIS, then a level shift with
damping, then the second-order solver; :func:`follow_internal_instability` re-converges a solution
that is a saddle point downhill until it is a minimum. On the CPU the integrals of
:mod:`qdlib.qchem.accelerated` are kept in memory and the AO values on the grid cached.

>>> from ase import Atoms
>>> settings = TDDFTSettings(grid_level=0)
>>> mf = run_scf(build_mol(Atoms("Cd"), settings), settings)
>>> mf.converged, mf.qdlib_strategy
(True, 'diis')
"""

from __future__ import annotations

import logging
import os

from ase import Atoms

from ..structures import validate
from .accelerated import _cache_ao_values, _keep_integrals_in_memory
from .backends import select_backend
from .settings import EngineOptions, TDDFTSettings

__all__ = ["SCFConvergenceError", "build_mol", "follow_internal_instability", "run_scf"]

log = logging.getLogger(__name__)


class SCFConvergenceError(RuntimeError):
    """The ground-state SCF did not converge with any of the retry strategies (:func:`run_scf`)."""


def build_mol(atoms: Atoms, settings: TDDFTSettings = TDDFTSettings(), verbose: int = 0):
    """A PySCF ``Mole`` of a validated structure, basis and ECP from ``settings``.

    Parameters
    ----------
    atoms : ase.Atoms
        Geometry, Å; checked by :func:`qdlib.structures.validate` (elements Cd, Se, Te, no
        overlapping atoms).
    settings : TDDFTSettings
        Its ``basis``, ``ecp``, ``charge`` and ``spin`` are used.
    verbose : int
        PySCF verbosity.

    Returns
    -------
    pyscf.gto.Mole
        Built, coordinates in Å (``mol.unit``).

    Raises
    ------
    qdlib.structures.StructureError
        Before any integral is computed, if the structure is invalid.

    Examples
    --------
    >>> from ase import Atoms
    >>> mol = build_mol(Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.55]]))
    >>> mol.nao_nr(), mol.nelectron  # LanL2DZ: valence electrons only, the cores are in the ECP
    (26, 18)
    """
    from pyscf import gto

    validate(atoms)
    mol = gto.Mole()
    mol.atom = [(s, tuple(p)) for s, p in zip(atoms.get_chemical_symbols(), atoms.positions.tolist())]
    mol.unit = "Angstrom"
    mol.basis = settings.basis
    mol.ecp = settings.ecp
    mol.charge = settings.charge
    mol.spin = settings.spin
    mol.verbose = verbose
    mol.build()
    return mol


def _make_rks(mol, settings: TDDFTSettings, options: EngineOptions, backend: str):
    """An RKS object on ``backend`` with the settings' functional, grid and fitting.

    Its caches (AO values on the grid, stored integrals) belong to ``mol``'s
    geometry: a moved geometry gets a new object (:func:`state_gradient`).
    """
    if backend == "gpu":
        from gpu4pyscf.dft import rks as gpu_rks

        mf = gpu_rks.RKS(mol, xc=settings.xc)
        if settings.density_fit:
            mf = mf.density_fit(auxbasis=settings.auxbasis)
    else:
        from pyscf import dft

        mf = dft.RKS(mol, xc=settings.xc)
        if options.ao_cache_mb > 0:
            _cache_ao_values(mf, options.ao_cache_mb)
        if settings.density_fit:
            mf = mf.density_fit(auxbasis=settings.auxbasis)
        elif options.incore_eri:
            _keep_integrals_in_memory(mf, options.max_memory_mb)
    mf.grids.level = settings.grid_level
    mf.conv_tol = settings.scf_conv_tol
    mf.max_memory = options.max_memory_mb
    mf.verbose = options.verbose
    return mf


def run_scf(mol, settings: TDDFTSettings = TDDFTSettings(), options: EngineOptions = EngineOptions(), dm0=None,
            chkfile: str | None = None):  # fmt: skip
    """Converged restricted Kohn–Sham ground state, retrying when needed.

    Strategies in order: DIIS from ``dm0`` (or the orbitals in ``chkfile`` when it exists,
    else the minimal-basis guess); level shift 0.5 Eh with damping 0.5; second-order
    (Newton) solver from the last density. With ``chkfile``, PySCF writes the orbitals
    there every cycle.

    Parameters
    ----------
    mol : pyscf.gto.Mole
        The molecule (:func:`build_mol`, or any PySCF ``Mole``).
    settings : TDDFTSettings
        Functional, grid, density fitting and convergence threshold (Eh).
    options : EngineOptions
        Backend, memory (MB), stored integrals, SCF cycles per strategy.
    dm0 : ndarray, shape (n_ao, n_ao), optional
        Initial density matrix (e.g. the previous geometry's).
    chkfile : str, optional
        PySCF checkpoint file to restart from and write to.

    Returns
    -------
    mf : pyscf RKS object
        Converged; ``mf.e_tot`` in Eh, ``mf.qdlib_strategy`` names the strategy that converged.

    Raises
    ------
    SCFConvergenceError
        If no strategy converges.

    Examples
    --------
    >>> from ase import Atoms
    >>> settings = TDDFTSettings(grid_level=0)
    >>> mf = run_scf(build_mol(Atoms("Cd"), settings), settings)
    >>> mf.converged, mf.qdlib_strategy, round(float(mf.e_tot), 3)  # Eh
    (True, 'diis', -48.002)
    """
    backend = select_backend(options.backend)
    mf = _make_rks(mol, settings, options, backend)
    if chkfile is not None:
        if dm0 is None and os.path.isfile(chkfile):
            dm0 = mf.from_chk(chkfile)
            log.info("%s: SCF restarts from %s", _formula(mol), chkfile)
        mf.chkfile = chkfile
    attempts = []
    n = options.scf_max_cycle
    strategies = [("diis", {"max_cycle": n}), ("level_shift", {"level_shift": 0.5, "damp": 0.5, "max_cycle": 2 * n})]
    dm = dm0
    for name, attrs in strategies:
        for k, v in attrs.items():
            setattr(mf, k, v)
        mf.kernel(dm0=dm)
        attempts.append((name, float(mf.e_tot)))
        if mf.converged:
            mf.level_shift, mf.damp = 0.0, 0.0
            mf.qdlib_strategy = name
            return mf
        log.warning("SCF (%s) did not converge for %s; trying the next strategy", name, _formula(mol))
        dm = mf.make_rdm1()
    mf.level_shift, mf.damp = 0.0, 0.0
    newton = mf.newton()
    newton.max_cycle = n
    newton.kernel(dm0=dm)
    attempts.append(("newton", float(newton.e_tot)))
    if newton.converged:
        mf.mo_coeff, mf.mo_occ, mf.mo_energy = newton.mo_coeff, newton.mo_occ, newton.mo_energy
        mf.e_tot, mf.converged = newton.e_tot, True
        mf.qdlib_strategy = "newton"
        return mf
    raise SCFConvergenceError(
        f"SCF did not converge for {_formula(mol)} after "
        + ", ".join(f"{n} (E={e:.6f} Eh)" for n, e in attempts)
    )


def _formula(mol) -> str:
    """``"Cd4Se4"``: the composition of a PySCF ``Mole``, elements in order of appearance."""
    symbols = [mol.atom_pure_symbol(i) for i in range(mol.natm)]
    return "".join(f"{el}{symbols.count(el)}" for el in dict.fromkeys(symbols))


def follow_internal_instability(mf, max_rounds: int = 3):
    """Re-converge a ground state that is a saddle point, downhill along its internal instability.

    A displaced or strained geometry can converge to an SCF solution with a
    negative orbital-rotation Hessian eigenvalue; full TDDFT (RPA) then has
    no real solution. PySCF's internal stability analysis gives rotated
    orbitals along the unstable mode; the SCF restarts from them until the
    solution is a minimum.

    Parameters
    ----------
    mf : pyscf RKS object
        A converged ground state (:func:`run_scf`).
    max_rounds : int
        Stability analyses (and re-convergences) at most.

    Returns
    -------
    mf : pyscf RKS object
        The same object, converged to a stable solution (``mf.e_tot``, Eh, at or below where it
        was); ``mf.qdlib_strategy`` gains ``"+stability"``.

    Raises
    ------
    SCFConvergenceError
        If the SCF does not converge from the rotated orbitals, or is still unstable after ``max_rounds``.

    Examples
    --------
    A stable ground state is returned as it was:

    >>> from ase import Atoms
    >>> settings = TDDFTSettings(grid_level=0)
    >>> mf = run_scf(build_mol(Atoms("Cd"), settings), settings)
    >>> follow_internal_instability(mf).qdlib_strategy
    'diis+stability'
    """
    for _ in range(max_rounds):
        mo, _, stable, _ = mf.stability(internal=True, external=False, return_status=True)
        if stable:
            mf.qdlib_strategy = f"{mf.qdlib_strategy}+stability"
            return mf
        e_before = float(mf.e_tot)
        mf.kernel(dm0=mf.make_rdm1(mo, mf.mo_occ))
        if not mf.converged:
            raise SCFConvergenceError(f"SCF did not re-converge after following the instability of {_formula(mf.mol)}")
        log.warning("%s: followed an internal SCF instability, E %.6f -> %.6f Eh", _formula(mf.mol), e_before, mf.e_tot)
    raise SCFConvergenceError(f"{_formula(mf.mol)}: SCF still unstable after {max_rounds} stability rounds")
