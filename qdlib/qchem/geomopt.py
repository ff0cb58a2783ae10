"""Geometry optimisation and emission: relaxations on this engine's gradients, then Kasha's rule.

Every step of a relaxation is a fresh single point of :mod:`qdlib.qchem.engine` (stored
integrals, response on the response grid) with PySCF's analytic gradient at its orbitals and
response vectors (:func:`state_gradient`); geomeTRIC moves the atoms. PySCF's own gradient
scanners leave the accelerations out (an S1 step of Cd4Se4 10× slower,
``benchmarks/relax_speed.py``). :func:`emission` relaxes S1 and computes the excitations there.

A relaxation takes one :func:`state_gradient` per step, a second or two for a CdSe dimer and far
longer for a real dot: the examples of the relaxations are not run as tests.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os

import numpy as np
from ase import Atoms

from .accelerated import _drop_caches
from .backends import _threads, _to_numpy
from .engine import excitations
from .response import _states_converged, run_tddft
from .restart import OptimizationCheckpoint
from .scf import _formula, build_mol, run_scf
from .settings import EngineOptions, Excitations, TDDFTSettings

__all__ = ["state_gradient", "optimize_ground_state", "optimize_excited_state", "emission"]

log = logging.getLogger(__name__)


#: geomeTRIC configures the root logger from an ini file at every run (stderr, INFO); this one keeps it quiet.
_GEOMETRIC_LOG_INI = """[loggers]
keys=root
[handlers]
keys=null
[formatters]
keys=
[logger_root]
level=WARNING
handlers=null
[handler_null]
class=NullHandler
args=()
"""


@contextlib.contextmanager
def _geometric_logging():
    """The path of a quiet logging ini for geomeTRIC; the root logger's level and handlers are restored after."""
    import tempfile

    root = logging.getLogger()
    level, handlers = root.level, root.handlers[:]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "log.ini")
        with open(path, "w") as fh:
            fh.write(_GEOMETRIC_LOG_INI)
        try:
            yield path
        finally:
            root.handlers[:] = handlers
            root.setLevel(level)


def state_gradient(mol, state: int, settings: TDDFTSettings = TDDFTSettings(),
                   options: EngineOptions = EngineOptions(), dm0=None):  # fmt: skip
    """Energy and nuclear gradient of one state at ``mol``'s geometry, by the single-point engine.

    The ground state and the excitations are solved exactly as :func:`excitations`
    solves them (:func:`run_scf`, :func:`run_tddft`: stored long-range integrals,
    response in the occupied–virtual space on the response grid), on a fresh SCF
    object, so nothing cached can belong to another geometry. The gradient is
    PySCF's analytic one (TDDFT: Z-vector) at those orbitals and response vectors,
    its exchange-correlation terms on the SCF grid. With a response grid coarser than the
    SCF grid the excited-state energy and gradient therefore differ by the response
    grid's error (about 0.01 meV in excitation energies, ``benchmarks/tddft_speed.py``;
    ``benchmarks/relax_speed.py`` measures the gradient), far below a relaxation's thresholds.

    Parameters
    ----------
    mol : pyscf.gto.Mole
        The geometry (:func:`build_mol`).
    state : int
        0 for the ground state, n for the n-th singlet excited state.
    settings, options
        As for :func:`excitations`; at least ``state + 2`` states are solved for.
    dm0 : ndarray, optional
        Initial density matrix, e.g. the previous geometry's.

    Returns
    -------
    energy : float
        Total energy of the state, Eh.
    gradient : ndarray, shape (n_atoms, 3)
        dE/dR, Eh/bohr.
    mf : pyscf SCF object
        The converged ground state (``mf.make_rdm1()`` is the next geometry's guess),
        its caches dropped (stored integrals, AO values on the grid).

    Raises
    ------
    SCFConvergenceError
        If the ground state does not converge.
    RuntimeError
        If the excited state ``state`` does not converge.

    Examples
    --------
    Any PySCF ``Mole`` works; H2 stretched to 0.8 Å (the first excited singlet pulls it apart):

    >>> from pyscf import gto
    >>> h2 = gto.M(atom="H 0 0 0; H 0 0 0.8", basis="6-31g", unit="Angstrom")
    >>> energy, gradient, mf = state_gradient(h2, 1, TDDFTSettings(grid_level=0))
    >>> gradient.shape, bool(gradient[1, 2] < 0)  # Eh/bohr: S1 falls as the bond lengthens
    ((2, 3), True)
    >>> bool(energy > mf.e_tot)  # Eh
    True
    """
    mf = run_scf(mol, settings, options, dm0=dm0)
    try:
        if state == 0:
            return float(mf.e_tot), np.asarray(_to_numpy(mf.nuc_grad_method().kernel())), mf
        settings = dataclasses.replace(settings, n_states=max(settings.n_states, state + 2))
        td = run_tddft(mf, settings, options)
        if not _states_converged(td)[state - 1]:
            raise RuntimeError(f"TDDFT state S{state} of {_formula(mol)} did not converge")
        grad = td.nuc_grad_method()
        grad.verbose = options.verbose
        de = grad.kernel(state=state)
        return float(mf.e_tot + _to_numpy(td.e)[state - 1]), np.asarray(_to_numpy(de)), mf
    finally:
        _drop_caches(mf)


def _optimize(atoms: Atoms, state: int, settings: TDDFTSettings, options: EngineOptions, max_steps: int) -> Atoms:
    """Relax ``state`` (0 = ground, n = Sn) with geomeTRIC on :func:`state_gradient`; a new Atoms, Å.

    Every step starts its SCF from the previous step's density. With
    ``options.checkpoint_dir``, the latest geometry is written there after every
    gradient (``<key>.S<state>.opt.xyz``, key of the starting geometry and settings) and a
    restarted relaxation continues from it; the steps already taken count against
    ``max_steps``. The file is removed when the relaxation ends.
    """
    import io

    from pyscf.geomopt import geometric_solver
    from pyscf.geomopt.addons import as_pyscf_method

    restart = OptimizationCheckpoint.for_run(atoms, state, settings, options.checkpoint_dir)
    start, done = restart.load(atoms) if restart is not None else (atoms, 0)
    with _threads(options.threads):
        mol = build_mol(start, settings, verbose=0)
        previous_dm = [None]

        last_energy = [float("nan")]

        def energy_and_gradient(m):
            energy, gradient, mf = state_gradient(m, state, settings, options, dm0=previous_dm[0])
            previous_dm[0] = mf.make_rdm1()
            last_energy[0] = float(energy)
            return energy, gradient

        chatter = io.StringIO()  # geomeTRIC reports every step on stdout
        gradients = [done]  # energy-and-gradient evaluations, with those of earlier runs

        def after_gradient(env):
            gradients[0] += 1
            log.info("%s: S%d relaxation, gradient %d, E = %.6f Eh", _formula(mol), state, gradients[0], last_energy[0])
            if restart is not None:
                restart.save(start, env["mol"].atom_coords(unit="Angstrom"), gradients[0])

        with contextlib.redirect_stdout(chatter), _geometric_logging() as log_ini:
            conv, mol_eq = geometric_solver.kernel(as_pyscf_method(mol, energy_and_gradient),
                                                   maxsteps=max(1, max_steps - done), logIni=log_ini,
                                                   callback=after_gradient)  # fmt: skip
    log.debug("geomeTRIC:\n%s", chatter.getvalue())
    if restart is not None:
        restart.remove()
    if not conv:
        log.warning("geometry optimisation of S%d did not converge in %d steps", state, max_steps)
    out = atoms.copy()
    out.positions = mol_eq.atom_coords(unit="Angstrom")
    out.info.update(relaxed=f"S{state}", optimization_converged=bool(conv), optimization_gradients=gradients[0])
    return out


def optimize_ground_state(
    atoms: Atoms,
    settings: TDDFTSettings = TDDFTSettings(),
    options: EngineOptions = EngineOptions(),
    max_steps: int = 100,
) -> Atoms:
    """Relax the ground state with geomeTRIC on the DFT gradient (:func:`state_gradient`).

    Parameters
    ----------
    atoms : ase.Atoms
        The starting geometry, Å.
    settings : TDDFTSettings
    options : EngineOptions
        With ``checkpoint_dir`` a stopped relaxation continues from its latest geometry
        (:class:`~qdlib.qchem.OptimizationCheckpoint`).
    max_steps : int
        Energy-and-gradient evaluations at most (those of a stopped run included).

    Returns
    -------
    ase.Atoms
        A new Atoms at the relaxed positions, Å; ``info`` gains ``relaxed="S0"``,
        ``optimization_converged`` and ``optimization_gradients``.

    Examples
    --------
    A stretched CdSe dimer contracts to its bond length, Å:

    >>> dimer = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.9]])
    >>> relaxed = optimize_ground_state(dimer, TDDFTSettings(grid_level=0))  # ten seconds  # doctest: +SKIP
    >>> round(float(relaxed.get_distance(0, 1)), 2)  # Å; needs the relaxation above  # doctest: +SKIP
    2.45
    """
    return _optimize(atoms, 0, settings, options, max_steps)


def optimize_excited_state(
    atoms: Atoms,
    state: int = 1,
    settings: TDDFTSettings = TDDFTSettings(),
    options: EngineOptions = EngineOptions(),
    max_steps: int = 100,
) -> Atoms:
    """Relax excited state ``state`` with geomeTRIC on the TDDFT gradient (:func:`state_gradient`).

    Parameters
    ----------
    atoms : ase.Atoms
        The starting geometry, Å (usually the relaxed ground state).
    state : int
        1 for S1, n for Sn.
    settings : TDDFTSettings
        At least ``state + 2`` states are solved for at every step.
    options : EngineOptions
        With ``checkpoint_dir`` a stopped relaxation continues from its latest geometry.
    max_steps : int
        Energy-and-gradient evaluations at most (those of a stopped run included).

    Returns
    -------
    ase.Atoms
        A new Atoms at the relaxed positions, Å; ``info`` gains ``relaxed="S<state>"``,
        ``optimization_converged`` and ``optimization_gradients``.

    Raises
    ------
    ValueError
        If ``state < 1``.

    Examples
    --------
    >>> dimer = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.45]])
    >>> s1 = optimize_excited_state(dimer, 1, TDDFTSettings(grid_level=0))  # a TDDFT gradient a step  # doctest: +SKIP
    >>> optimize_excited_state(dimer, 0)
    Traceback (most recent call last):
    ...
    ValueError: state must be >= 1 (use optimize_ground_state for S0), got 0
    """
    if state < 1:
        raise ValueError(f"state must be >= 1 (use optimize_ground_state for S0), got {state}")
    return _optimize(atoms, state, settings, options, max_steps)


def emission(
    atoms: Atoms,
    settings: TDDFTSettings = TDDFTSettings(),
    options: EngineOptions = EngineOptions(),
    max_steps: int = 100,
) -> tuple[Excitations, Atoms]:
    """Kasha emission: relax S1 from ``atoms``, then the excitations at the relaxed geometry.

    For the emission of a fixed geometry (a designed one) without relaxing, use
    ``excitations(atoms).spectrum("emission")``.

    Parameters
    ----------
    atoms : ase.Atoms
        The starting geometry, Å (usually the relaxed ground state).
    settings : TDDFTSettings
    options : EngineOptions
    max_steps : int
        Energy-and-gradient evaluations of the S1 relaxation at most.

    Returns
    -------
    excitations : Excitations
        At the relaxed S1 geometry; ``spectrum("emission")`` is the S1→S0 band.
    relaxed : ase.Atoms
        The relaxed S1 geometry, Å.

    Examples
    --------
    ``exc.spectrum("emission")`` is then the S1→S0 band of the relaxed S1 geometry ``s1``:

    >>> dimer = Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.45]])
    >>> exc, s1 = emission(dimer, TDDFTSettings(grid_level=0))  # a TDDFT gradient per step  # doctest: +SKIP
    """
    relaxed = optimize_excited_state(atoms, 1, settings, options, max_steps)
    return excitations(relaxed, settings, options), relaxed
