"""The single-point engine: ground state and singlet excitations of one geometry.

:func:`excitations` is the TD-DFT call of the whole package: :func:`build_mol` (validated
structure, basis and ECP), :func:`run_scf` (restricted Kohn–Sham with retries),
:func:`run_tddft` (the response, full TDDFT or Tamm–Dancoff), a ground state found to be a
saddle point followed downhill (:func:`follow_internal_instability`), and more states solved for
until a wavelength is reached when asked (:func:`next_state_count`). On the CPU the integrals
and kernels of :mod:`qdlib.qchem.accelerated` make it faster without changing the answer.

The steps one by one, on a cadmium atom (a tenth of a second):

>>> from ase import Atoms
>>> settings = TDDFTSettings(n_states=2, grid_level=0)
>>> mf = run_scf(build_mol(Atoms("Cd"), settings), settings)
>>> td = run_tddft(mf, settings)
>>> (td.e * HARTREE_EV).round(2)  # eV
array([5.11, 5.11])
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import time

import numpy as np
from ase import Atoms
from numpy.typing import ArrayLike, NDArray

from .. import spectra
from ..structures import validate
from .accelerated import _cache_ao_values, _keep_integrals_in_memory, _mo_space_response
from .backends import _threads, _to_numpy, select_backend, versions
from .restart import ResponseCheckpoint, _checkpoint_path
from .settings import HARTREE_EV, EngineOptions, Excitations, TDDFTSettings, dominant_transitions
from .warmstart import pad_guess, save_warm_start, scf_guess, tddft_guess, warm_state_count

__all__ = [
    "complex_instability",
    "SCFConvergenceError",
    "build_mol",
    "run_scf",
    "run_tddft",
    "follow_internal_instability",
    "excitations",
    "next_state_count",
]

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


def run_tddft(mf, settings: TDDFTSettings = TDDFTSettings(), options: EngineOptions = EngineOptions(),
              restart_file: str | None = None, guess=None):  # fmt: skip
    """Solve for ``settings.n_states`` singlet excitations on a converged ground state.

    The exchange-correlation kernel is integrated on the response grid
    (``settings.response_grid_level``); on the CPU the response's J, K and kernel are
    contracted in the occupied–virtual space (:mod:`qdlib.qchem.accelerated`).

    Parameters
    ----------
    mf : pyscf RKS object
        A converged ground state (:func:`run_scf`).
    settings : TDDFTSettings
        States, full TDDFT or Tamm–Dancoff (``tda``), response grid, threshold (Eh).
    options : EngineOptions
        Memory (MB) and the occupied–virtual contractions.
    restart_file : str, optional
        (CPU) The solver's best vectors are saved there after every iteration and, when the
        file exists, the solver starts from them (:class:`~qdlib.qchem.ResponseCheckpoint`).
    guess : ndarray, shape (k, n_vector), optional
        First vectors for the solver (PySCF's layout: ``X`` or ``[X, Y]`` per row), e.g. a nearby
        geometry's solution (:mod:`~qdlib.qchem.warmstart`); padded with PySCF's own guess to
        ``n_states`` rows. A restart file's vectors come first.

    Returns
    -------
    td : pyscf TDDFT or TDA object
        After ``kernel()``: ``td.e`` excitation energies, Eh; ``td.xy`` response vectors;
        ``td.converged`` per state.

    Examples
    --------
    >>> from ase import Atoms
    >>> settings = TDDFTSettings(n_states=2, grid_level=0)
    >>> td = run_tddft(run_scf(build_mol(Atoms("Cd"), settings), settings), settings)
    >>> (td.e * HARTREE_EV).round(2), bool(all(td.converged))  # eV
    (array([5.11, 5.11]), True)
    """
    if settings.response_grid_level is not None and settings.response_grid_level != settings.grid_level:
        from pyscf import dft

        grids = dft.gen_grid.Grids(mf.mol)
        grids.level = settings.response_grid_level
        grids.build()
        scf_grids, mf.grids = mf.grids, grids  # the response kernel is built on mf.grids
    else:
        scf_grids = mf.grids
    td = mf.TDA() if settings.tda else mf.TDDFT()
    td.nstates = settings.n_states
    td.singlet = True
    td.conv_tol = settings.td_conv_tol
    cpu = not type(mf).__module__.startswith("gpu4pyscf")
    x0 = None
    if restart_file is not None and cpu:
        from pyscf.tdscf.rhf import TDA

        nocc = int(np.count_nonzero(mf.mo_occ > 0))
        checkpoint = ResponseCheckpoint(restart_file, isinstance(td, TDA), nocc * (len(mf.mo_occ) - nocc),
                                        n_keep=2 * settings.n_states)  # fmt: skip
        x0 = checkpoint.initial_guess()
        gen_vind = td.gen_vind

        def recording_gen_vind(mf=None):
            vind, hdiag = gen_vind(mf)
            return checkpoint.wrap(vind), hdiag

        td.gen_vind = recording_gen_vind
    if x0 is None and guess is not None and cpu:
        # the guess and PySCF's own first vectors together: a guess alone can lack the lowest states
        # (the solver then converges to higher ones); PySCF's vectors, on the lowest orbital-energy
        # differences, keep them in reach
        default = np.asarray(td.get_init_guess(mf, settings.n_states))
        x0 = pad_guess(np.asarray(guess, dtype=float), default, len(guess) + len(default), paired=not settings.tda)
    try:
        with _mo_space_response(mf, options) if cpu else contextlib.nullcontext():
            td.kernel(x0=x0)
    finally:
        mf.grids = scf_grids
        td.__dict__.pop("gen_vind", None)  # the recording wrapper holds td's own method: a reference cycle
    return td


#: What PySCF's TDDFT solver says when the ground state is a saddle point (A − B not positive definite).
_SADDLE_POINT_MESSAGE = "saddle-point solution"


def _solve_tddft(mf, settings: TDDFTSettings, options, restart, guess=None):
    """TDDFT of ``mf``, with what a saddle-point ground state needs: ``(mf, td, settings)``.

    PySCF raises its saddle-point error whenever its first subspace cannot be factored. When the
    solve started from given vectors (``guess`` or a restart file), they may be the cause (nearly
    dependent vectors), so it is solved again from PySCF's own guess first. When the error stays,
    the SCF is followed downhill (:func:`follow_internal_instability`) and the TDDFT solved again
    from its default guess. Full TDDFT has real solutions only when the response's ``A - B`` is
    positive definite too, which the internal stability analysis does not test
    (:func:`complex_instability`): when it is not — after the error, or when full TDDFT does not
    converge — the Tamm–Dancoff problem is solved instead and the returned settings and
    ``mf.qdlib_strategy`` say so.
    """
    started_from_vectors = guess is not None or (restart is not None and os.path.isfile(restart))
    try:
        td = run_tddft(mf, settings, options, restart_file=restart, guess=guess)
    except RuntimeError as exc:
        if _SADDLE_POINT_MESSAGE not in str(exc):
            raise
        td = None
    if td is None:
        _remove(restart)  # the failed solve's vectors: of the saddle point's orbitals, not a guess for the new ones
        if started_from_vectors:
            log.warning("%s: TDDFT could not start from the given vectors; starting from PySCF's guess", _formula(mf.mol))
            try:
                td = run_tddft(mf, settings, options, restart_file=restart)
            except RuntimeError as exc:
                if _SADDLE_POINT_MESSAGE not in str(exc):
                    raise
                _remove(restart)
    if td is None:
        log.warning("%s: TDDFT found the ground state a saddle point; following its instability", _formula(mf.mol))
        mf = follow_internal_instability(mf)
        if not settings.tda and not _complex_stable(mf):
            return _tamm_dancoff_instead(mf, settings, options, restart)
        try:
            td = run_tddft(mf, settings, options, restart_file=restart)
        except RuntimeError as again:
            if _SADDLE_POINT_MESSAGE not in str(again) or settings.tda:
                raise
            return _tamm_dancoff_instead(mf, settings, options, restart)
    if not settings.tda and not _states_converged(td).all() and not _complex_stable(mf):
        return _tamm_dancoff_instead(mf, settings, options, restart)
    return mf, td, settings


def _complex_stable(mf) -> bool:
    """Whether the response's ``A - B`` is positive definite (unknown, taken as yes, off the CPU)."""
    e = complex_instability(mf)
    if e < -1e-5:
        log.warning("%s: A - B has a negative eigenvalue (%.2e Eh): no real full-TDDFT solution", _formula(mf.mol), e)
    return not e < -1e-5


def _tamm_dancoff_instead(mf, settings, options, restart):
    """The Tamm–Dancoff problem (``A`` alone: Hermitian, solvable) where full TDDFT has no real solution."""
    log.warning("%s: full TDDFT has no real solution here; Tamm-Dancoff approximation instead", _formula(mf.mol))
    settings = dataclasses.replace(settings, tda=True)
    _remove(restart)
    td = run_tddft(mf, settings, options, restart_file=restart)
    mf.qdlib_strategy = f"{mf.qdlib_strategy}+tda-fallback"
    return mf, td, settings


def complex_instability(mf, tol: float = 1e-6) -> float:
    """Lowest eigenvalue of the ground state's real-to-complex orbital Hessian, the response's ``A - B`` (Eh).

    Full TDDFT (RPA) has real excitation energies when ``A + B`` and ``A - B`` are both positive
    definite. PySCF's internal stability analysis (:func:`follow_internal_instability`) tests
    ``A + B``, real orbital rotations; ``A - B`` belongs to complex rotations, and a hybrid's
    exchange can make it indefinite at a ground state stable to real ones. Then the real solver
    meets singular subspaces (PySCF's "saddle-point" error, or no convergence) and the
    Tamm–Dancoff problem, ``A`` alone, is the one with a solution. Uses PySCF's external-stability
    Hessian product (``pyscf.scf.stability``); NaN off the CPU.

    Parameters
    ----------
    mf : pyscf RKS object
        A converged ground state.
    tol : float
        Davidson threshold.

    Returns
    -------
    float
        The lowest eigenvalue, Eh: negative when full TDDFT has no real solution.

    Examples
    --------
    >>> from ase import Atoms
    >>> settings = TDDFTSettings(grid_level=0)
    >>> mf = run_scf(build_mol(Atoms("CdSe", positions=[[0, 0, 0], [0, 0, 2.55]]), settings), settings)
    >>> complex_instability(mf) > 0
    True
    """
    if type(mf).__module__.startswith("gpu4pyscf"):
        return float("nan")
    from pyscf import lib
    from pyscf.scf import stability

    hop, hdiag, _, _ = stability._gen_hop_rhf_external(mf, with_symmetry=False)  # PySCF's A - B product
    lowest = np.argsort(hdiag)[:3]
    x0 = [np.eye(1, hdiag.size, k).ravel() for k in lowest]

    def precond(dx, e, x0):
        d = hdiag - e
        return dx / np.where(np.abs(d) < 1e-8, 1e-8, d)

    e, _ = lib.davidson(hop, x0, precond, tol=tol, nroots=len(lowest))
    return float(np.min(e))


def _remove(path: str | None) -> None:
    """Delete a restart file if there is one."""
    if path is not None and os.path.isfile(path):
        os.remove(path)


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


def _states_converged(td) -> NDArray[np.bool_]:
    """Whether each state of a solved TDDFT/TDA object converged (PySCF may give one flag for all)."""
    return np.broadcast_to(np.asarray(_to_numpy(td.converged), dtype=bool), np.shape(_to_numpy(td.e))).copy()


def excitations(
    atoms: Atoms,
    settings: TDDFTSettings = TDDFTSettings(),
    options: EngineOptions = EngineOptions(),
    dm0=None,
    cover_nm: float | None = None,
    max_states: int = 40,
    save_warm_start_to: str | None = None,
) -> Excitations:
    """Ground state and singlet excitations of one geometry (the heart of every TD-DFT call).

    Parameters
    ----------
    atoms : ase.Atoms
        Geometry, Å; validated first.
    settings : TDDFTSettings
        What to compute (paper defaults).
    options : EngineOptions
        How to compute it (backend, threads, memory).
    dm0 : ndarray, optional
        Initial density matrix (e.g. from a nearby geometry).
    cover_nm : float, optional
        Solve for more states than ``settings.n_states`` until the highest one lies at or below
        this wavelength (nm), so that a spectrum is complete down to it (a distorted geometry's
        lowest states can all lie far to the red). The ground state is solved once; the state
        count grows from the states found (:func:`next_state_count`). The
        result's ``settings.n_states`` says how many were solved; :meth:`Excitations.covers`
        whether the wavelength was reached.
    max_states : int
        The most states solved for with ``cover_nm``; a result that stops here may not cover it.
    save_warm_start_to : str, optional
        Also write the ground state and excitations there as a warm-start point for nearby
        geometries (:func:`~qdlib.qchem.warmstart.save_warm_start`; ``options.warm_start`` reads it).

    Returns
    -------
    Excitations

    Raises
    ------
    qdlib.structures.StructureError
        If the structure is invalid (before any integral is computed).
    SCFConvergenceError
        If the ground state does not converge.

    Examples
    --------
    A cadmium atom's two lowest singlets (a degenerate set of three) lie at 242 nm; a
    spectrum complete down to 200 nm needs more states:

    >>> exc = excitations(Atoms("Cd"), TDDFTSettings(n_states=2, grid_level=0), cover_nm=200.0, max_states=12)
    >>> exc.settings.n_states, exc.covers(200.0), exc.converged
    (8, True, True)
    >>> exc.wavelengths_nm.round(1)
    array([242.5, 242.5, 242.5, 117.1, 117.1, 117.1,  86.6,  86.6])
    """
    backend = select_backend(options.backend)
    with _threads(options.threads):
        t0 = time.perf_counter()
        mol = build_mol(atoms, settings, verbose=options.verbose)
        chkfile = _checkpoint_path(atoms, settings, options.checkpoint_dir, ".chk")
        restart = _checkpoint_path(atoms, settings, options.checkpoint_dir, ".td.npz")
        warm = options.warm_start if options.warm_start and os.path.isfile(options.warm_start) else None
        if warm and (density := scf_guess(mol, warm)) is None:
            warm = None  # another molecule's
        elif warm and dm0 is None and not (chkfile and os.path.isfile(chkfile)):
            dm0 = density
        mf = run_scf(mol, settings, options, dm0=dm0, chkfile=chkfile)
        if warm and cover_nm is not None:  # start with as many states as the nearby geometry needed to cover
            settings = dataclasses.replace(settings, n_states=max(settings.n_states, min(warm_state_count(warm), max_states)))
            restart = _checkpoint_path(atoms, settings, options.checkpoint_dir, ".td.npz")
        guess = tddft_guess(mf, warm, settings.n_states, settings.tda) if warm else None
        mf, td, settings = _solve_tddft(mf, settings, options, restart, guess)
        if cover_nm is not None:
            mf, td, settings, restart = _grow_until_covered(mf, td, settings, options, atoms, cover_nm, max_states, restart)
        wall = time.perf_counter() - t0
        if save_warm_start_to:
            save_warm_start(mf, td, save_warm_start_to)
    for done in (chkfile, restart):  # the result goes to the store, the restart points are not needed
        _remove(done)
    e_ev = np.asarray(_to_numpy(td.e), dtype=float) * HARTREE_EV
    f = np.asarray(_to_numpy(td.oscillator_strength()), dtype=float)
    conv = _states_converged(td)
    if not conv.all():
        log.warning("TDDFT: states %s did not converge", np.nonzero(~conv)[0].tolist())
    return Excitations(
        energies_ev=e_ev,
        osc_strengths=f,
        e_tot_hartree=float(mf.e_tot),
        td_converged=conv,
        scf_strategy=mf.qdlib_strategy,
        settings=settings,
        backend=backend,
        wall_time_s=wall,
        versions=versions(backend),
        transitions=dominant_transitions(td.xy, int(np.count_nonzero(_to_numpy(mf.mo_occ) > 0))),
        start=f"warm:{os.path.basename(warm)}" if warm else "default",
    )


def next_state_count(energies_ev: ArrayLike, cover_ev: float, max_states: int) -> int:
    """How many states to solve for next so that the highest reaches ``cover_ev`` (eV).

    The states crowd at higher energy, so the count of states below an energy ``E`` is fitted
    as a power law, ``N(E) = a (E - e0)^p`` (``e0`` half a spacing below the lowest state), on the
    upper half of the states found so far, and extrapolated to ``cover_ev`` with a fifth more for
    margin (falling short costs a whole new solve, a few states too many little). At least six
    more than now, at most three times as many (a few near-degenerate states make any
    extrapolation unreliable) and at most ``max_states``. Replayed on the stored covered verdicts
    (``benchmarks/state_count.py``), this needs a fifth fewer solves than extrapolating the mean
    spacing, and as many on the campaigns' milder designs, which rarely need to grow.

    Parameters
    ----------
    energies_ev : array_like
        Excitation energies found so far, eV.
    cover_ev : float
        Energy the highest state should reach, eV.
    max_states : int
        The most states to ask for.

    Returns
    -------
    int

    Examples
    --------
    >>> next_state_count([2.0, 2.1, 2.2, 2.3, 2.4, 2.5], cover_ev=3.2, max_states=40)
    16
    >>> next_state_count([2.0, 2.4, 2.6, 2.7, 2.8, 2.85], cover_ev=3.2, max_states=40)  # crowding
    15
    >>> next_state_count([2.0, 2.0, 2.0, 2.1, 2.1, 2.1], cover_ev=3.5, max_states=40)
    18
    """
    e = np.sort(np.asarray(energies_ev, dtype=float))
    n = e.size
    low, high = n + 6, min(3 * n, max_states)
    if n < 2:
        return int(min(max_states, low))
    e0 = e[0] - max(0.5 * (e[1] - e[0]), 1e-3)
    x = np.log(e[n // 2 :] - e0)
    if np.ptp(x) < 1e-6:  # degenerate: nothing to fit
        return int(min(max_states, max(low, high)))
    p, log_a = np.polyfit(x, np.log(np.arange(n // 2 + 1, n + 1)), 1)
    wanted = int(np.ceil(1.2 * np.exp(log_a) * (cover_ev - e0) ** p))
    return int(min(max_states, max(low, min(high, wanted))))


def _grow_until_covered(mf, td, settings, options, atoms, cover_nm, max_states, restart):
    """Solve again with more states until the highest lies at or below ``cover_nm``.

    More states can reveal what fewer did not: a ground state that is a saddle point, or a full
    TDDFT problem without real solution; :func:`_solve_tddft` then handles it as on the first solve.
    """
    cover_ev = float(spectra.nm_to_ev(cover_nm))
    while True:
        e_ev = np.asarray(_to_numpy(td.e), dtype=float) * HARTREE_EV
        if e_ev.size == 0 or e_ev.max() >= cover_ev or settings.n_states >= max_states:
            return mf, td, settings, restart
        n = next_state_count(e_ev, cover_ev, max_states)
        log.info("%s: %d states reach %.1f nm, short of %.1f nm; solving for %d",
                 _formula(mf.mol), e_ev.size, spectra.ev_to_nm(e_ev.max()), cover_nm, n)  # fmt: skip
        _remove(restart)
        settings = dataclasses.replace(settings, n_states=n)
        restart = _checkpoint_path(atoms, settings, options.checkpoint_dir, ".td.npz")
        found = np.array([np.concatenate([np.ravel(_to_numpy(x))] + ([] if settings.tda else [np.ravel(_to_numpy(y))]))
                          for x, y in td.xy])  # fmt: skip
        mf, td, settings = _solve_tddft(mf, settings, options, restart, found)
