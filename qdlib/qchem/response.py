"""The excited states: the linear-response solve on a converged ground state, and its fallbacks.

:func:`run_tddft` solves for the singlet excitations (full TDDFT or Tamm–Dancoff), from a restart
file or given vectors when there are any. A ground state found to be a saddle point (PySCF's
"saddle-point" error) is followed downhill (:func:`~qdlib.qchem.scf.follow_internal_instability`)
and the response solved again; where full TDDFT has no real solution (the response's ``A - B`` not
positive definite, :func:`complex_instability`) the Tamm–Dancoff problem is solved instead. On the
CPU the response's J, K and kernel are contracted in the occupied–virtual space
(:mod:`qdlib.qchem.accelerated`).

>>> from ase import Atoms
>>> from qdlib.qchem import build_mol, run_scf
>>> settings = TDDFTSettings(n_states=2, grid_level=0)
>>> td = run_tddft(run_scf(build_mol(Atoms("Cd"), settings), settings), settings)
>>> td.nstates, bool(all(td.converged))
(2, True)
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os

import numpy as np
from numpy.typing import NDArray

from .accelerated import _mo_space_response
from .backends import _to_numpy
from .restart import ResponseCheckpoint, _remove
from .scf import _formula, follow_internal_instability
from .settings import EngineOptions, TDDFTSettings
from .warmstart import pad_guess

__all__ = ["complex_instability", "run_tddft"]

log = logging.getLogger(__name__)


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
    >>> from qdlib.qchem import HARTREE_EV, build_mol, run_scf
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
    >>> from qdlib.qchem import build_mol, run_scf
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


def _states_converged(td) -> NDArray[np.bool_]:
    """Whether each state of a solved TDDFT/TDA object converged (PySCF may give one flag for all)."""
    return np.broadcast_to(np.asarray(_to_numpy(td.converged), dtype=bool), np.shape(_to_numpy(td.e))).copy()
